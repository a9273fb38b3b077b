// A saga's timeline as an SVG picture: one lane per step's action, in the definition's
// order, then one lane per compensation in reverse order (the order they run in); a bar
// per call over time since the saga's creation, coloured by its outcome, a retry marked
// by a tick and the wait before it by a dotted line; the call in flight grows until now,
// and the next attempt of a step waiting for its retry is a diamond. Each bar's <title>
// says its attempt, outcome, gRPC code and error.

import { clock, duration, methodName, millis, svg } from './format.js';

const LABEL = 200;
const RIGHT = 28;
const AXIS = 30;
const LANE = 32;
const BAR = 16;
const HEADING = 24;
const TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4,
  12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 144e5, 432e5, 864e5];

const isCompensation = (call) => call.phase === 'STEP_PHASE_COMPENSATION';

// The lanes of `saga`: actions first, then compensations of the steps that have any,
// last step first.
function lanes(saga, definition) {
  const byName = new Map((definition?.definition?.steps || []).map((step) => [step.name, step]));
  const steps = saga.steps || [];
  const actions = steps.map((step) => ({
    step, phase: 'action', label: step.name, full: byName.get(step.name)?.action || step.name,
    calls: (step.calls || []).filter((call) => !isCompensation(call)),
  }));
  const undone = steps
    .filter((step) => step.status === 'compensating' || (step.calls || []).some(isCompensation))
    .reverse()
    .map((step) => {
      const method = byName.get(step.name)?.compensation || '';
      return {
        step, phase: 'compensation',
        label: `↩ ${method ? methodName(method) : 'undo'}`,
        undoes: step.name,
        full: `compensation of ${step.name}${method ? `: ${method}` : ''}`,
        calls: (step.calls || []).filter(isCompensation),
      };
    });
  return { actions, undone };
}

// The time the picture ends at: the last thing drawn, and now while the saga runs.
function endOf(saga, all, start, now, running) {
  let end = Math.max(start + 1, millis(saga.updated_at) ?? start);
  for (const lane of all) {
    for (const call of lane.calls) {
      end = Math.max(end, millis(call.started_at) ?? end, millis(call.ended_at) ?? (running ? now : end));
    }
    end = Math.max(end, millis(lane.step.next_attempt_at) ?? end);
  }
  return running ? Math.max(end, now) : end;
}

export function drawTimeline(saga, definition, width, now, running) {
  const { actions, undone } = lanes(saga, definition);
  const all = [...actions, ...undone];
  const start = millis(saga.created_at) ?? now;
  const end = endOf(saga, all, start, now, running);
  const plot = Math.max(200, width - LABEL - RIGHT);
  const span = (end - start) * 1.03;
  const x = (t) => LABEL + ((t - start) / span) * plot;
  const height = AXIS + all.length * LANE + (undone.length ? HEADING : 0) + 8;

  const picture = svg('svg', {
    id: 'timeline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `timeline of saga ${saga.saga_id}`,
  });
  picture.append(axis(x, start, span, height));
  let y = AXIS;
  actions.forEach((lane, i) => { picture.append(drawLane(lane, y, i, width, x, start, now, running)); y += LANE; });
  if (undone.length) {
    picture.append(svg('text', { class: 'heading', x: 10, y: y + 16 }, 'compensations, last step first'));
    picture.append(svg('line', { class: 'divider', x1: 0, x2: width, y1: y + 2, y2: y + 2 }));
    y += HEADING;
  }
  undone.forEach((lane, i) => { picture.append(drawLane(lane, y, i, width, x, start, now, running)); y += LANE; });
  if (running) {
    picture.append(svg('line', { class: 'now', x1: x(now), x2: x(now), y1: AXIS - 6, y2: height - 4 },
      svg('title', {}, `now: ${clock(now)}`)));
  }
  return picture;
}

function axis(x, start, span, height) {
  const step = TICKS.find((t) => span / t <= 8) ?? TICKS[TICKS.length - 1];
  const group = svg('g', { class: 'axis' });
  for (let t = 0; t <= span; t += step) {
    const left = x(start + t);
    group.append(
      svg('line', { x1: left, x2: left, y1: AXIS - 6, y2: height - 4 }),
      svg('text', { x: left, y: AXIS - 12, 'text-anchor': 'middle' }, t === 0 ? '0' : duration(t)),
    );
  }
  return group;
}

function drawLane(lane, y, index, width, x, start, now, running) {
  const group = svg('g', {
    class: `lane ${lane.phase}`, 'data-step': lane.step.name, 'data-phase': lane.phase,
    'data-status': lane.step.status,
  });
  group.append(
    svg('rect', { class: `lane-bg ${index % 2 ? 'odd' : 'even'}`, x: 0, y, width, height: LANE }),
    svg('text', { class: 'lane-label', x: 10, y: y + LANE / 2 + 4 }, lane.label,
      lane.undoes ? svg('tspan', { class: 'undoes' }, ` ${lane.undoes}`) : null, svg('title', {}, lane.full)),
  );
  const top = y + (LANE - BAR) / 2;
  let before = null;
  for (const call of lane.calls) {
    const began = millis(call.started_at) ?? start;
    const outcome = call.outcome || 'in_flight';
    const ended = millis(call.ended_at) ?? (outcome === 'in_flight' && running ? now : began);
    const attempt = call.attempt || 1;
    if (before && (before.outcome === 'retrying' || before.outcome === 'parked')) {
      group.append(svg('line', { class: 'backoff', x1: x(before.ended), x2: x(began), y1: top + BAR / 2, y2: top + BAR / 2 }));
    }
    if (attempt > 1) {
      group.append(svg('line', { class: 'retry-mark', x1: x(began), x2: x(began), y1: top - 4, y2: top + BAR + 4 }));
    }
    const left = x(began);
    const wide = Math.max(3, x(ended) - left);
    group.append(svg('rect', {
      class: `call outcome-${outcome}`, x: left, y: top, width: wide, height: BAR, rx: 3,
      'data-outcome': outcome, 'data-attempt': attempt,
    }, svg('title', {}, describe(lane, call, outcome, began, ended, start))));
    if (wide >= 22 && attempt > 1) {
      group.append(svg('text', { class: 'attempt', x: left + wide / 2, y: top + BAR - 4, 'text-anchor': 'middle' }, `#${attempt}`));
    }
    before = { outcome, ended };
  }
  const next = millis(lane.step.next_attempt_at);
  if (next !== null && running && laneWaits(lane)) {
    group.append(nextAttempt(lane, next, before, x, top, now));
  }
  return group;
}

// The lane whose operation the step's retry will call again.
function laneWaits(lane) {
  return (lane.phase === 'compensation') === (lane.step.status === 'compensating');
}

function nextAttempt(lane, next, before, x, top, now) {
  const mid = top + BAR / 2;
  const at = x(next);
  const attempt = (lane.calls[lane.calls.length - 1]?.attempt || 0) + 1;
  const group = svg('g', { class: 'next-attempt', 'data-next-attempt': new Date(next).toISOString() });
  if (before) group.append(svg('line', { class: 'backoff', x1: x(before.ended), x2: at, y1: mid, y2: mid }));
  group.append(svg('path', { d: `M ${at} ${mid - 7} L ${at + 7} ${mid} L ${at} ${mid + 7} L ${at - 7} ${mid} Z` },
    svg('title', {}, `next attempt (#${attempt}) at ${clock(next)}, ${next > now ? `in ${duration(next - now)}` : 'due now'}`)));
  return group;
}

function describe(lane, call, outcome, began, ended, start) {
  const lines = [`${lane.label} · attempt ${call.attempt || 1}`, outcome.replace('_', ' ') + (call.code ? ` · ${call.code}` : '')];
  if (call.error) lines.push(call.error);
  const took = call.ended_at ? `took ${duration(ended - began)}` : 'still out';
  lines.push(`started ${clock(began)} (+${duration(began - start)}), ${took}`);
  return lines.join('\n');
}
