// One saga's page: its header, the operators' actions, the timeline picture, its steps
// and its log. It follows the saga through the server-sent events of WatchSaga: each
// record refetches the saga and redraws, without a reload, until the record that ends it.

import { failureOf, follow, getJson } from './api.js';
import { actionBar, enableFor } from './actions.js';
import { TERMINAL, badge, clock, duration, el, enumName, millis, statusOf } from './format.js';
import { drawTimeline } from './timeline.js';

const OUTCOMES = ['succeeded', 'retrying', 'parked', 'failed', 'interrupted', 'skipped', 'in_flight'];

export function showSaga(view, sagaId) {
  let saga = null;
  let definition = null;
  let events = null;
  let stopped = false;
  let lastSeq = 0;
  // What the watch's last break said, while the page shows it.
  let broken = null;

  const status = el('span', { id: 'saga-status', 'data-status': '' });
  const live = el('span', { class: 'live', id: 'live', hidden: true }, 'live');
  const facts = el('dl', { class: 'facts', id: 'saga-facts' });
  const problem = el('p', { class: 'error', id: 'action-error', hidden: true });
  const bar = actionBar(() => saga, (answer) => { problem.hidden = true; show(answer); refresh(); }, (error) => {
    problem.textContent = String(error);
    problem.hidden = false;
  });
  const box = el('div', { class: 'timeline-box', id: 'timeline-box' });
  const steps = el('tbody');
  const log = el('tbody');

  view.append(
    el('a', { class: 'back', href: '#/' }, '← all sagas'),
    el('div', { class: 'title' }, el('h1', {}, 'Saga ', el('code', {}, sagaId)), status, live),
    facts, bar.element, problem,
    el('section', { class: 'panel' }, el('h2', {}, 'Timeline'), box, legend()),
    el('section', { class: 'panel' }, el('h2', {}, 'Steps'), el('table', { class: 'steps', id: 'steps' },
      el('thead', {}, el('tr', {}, ...['Step', 'Status', 'Attempts', 'Next attempt', 'Last error'].map((h) => el('th', {}, h)))), steps)),
    el('section', { class: 'panel' }, el('h2', {}, 'Log'), el('table', { class: 'log', id: 'log' },
      el('thead', {}, el('tr', {}, ...['Seq', 'At', 'Step', 'Phase', 'Outcome', 'Attempt', 'Detail', 'Writer'].map((h) => el('th', {}, h)))), log)),
  );

  const running = () => saga !== null && !TERMINAL.has(statusOf(saga));

  function show(next) {
    saga = next;
    const name = statusOf(saga);
    status.replaceChildren(badge(name));
    status.dataset.status = name;
    drawFacts();
    enableFor(bar.buttons, name);
    drawPicture();
    drawSteps();
    drawLog();
  }

  function drawFacts() {
    const created = millis(saga.created_at);
    const updated = millis(saga.updated_at);
    const rows = [
      ['Definition', el('a', { href: '#/definitions' }, `${saga.definition || '?'} v${saga.definition_version || 0}`)],
      ['Key', saga.idempotency_key || '—'],
      ...(saga.customer_id ? [['Customer', saga.customer_id]] : []),
      ['Created', `${clock(created)} (${duration(Date.now() - created)} ago)`],
      ['Last change', `${clock(updated)} (+${duration(updated - created)})`],
    ];
    if (saga.parked) rows.push(['Parked', el('span', { class: 'parked' }, 'retried at the slow pace: look at the error')]);
    if (saga.error) rows.push(['Error', el('span', { id: 'saga-error', class: 'error-text' }, saga.error)]);
    facts.replaceChildren(...rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
  }

  function drawPicture() {
    if (!saga) return;
    const width = Math.max(720, box.clientWidth || 960);
    box.replaceChildren(drawTimeline(saga, definition, width, Date.now(), running()));
  }

  function drawSteps() {
    const now = Date.now();
    steps.replaceChildren(...(saga.steps || []).map((step) => {
      const next = millis(step.next_attempt_at);
      return el('tr', { 'data-step': step.name, 'data-status': step.status },
        el('td', {}, step.name),
        el('td', {}, el('span', { class: `step-status step-${step.status}` }, step.status)),
        el('td', { class: 'num' }, String(step.attempts || 0)),
        el('td', { class: 'next' }, next === null ? '' : `${clock(next)} (${next > now ? `in ${duration(next - now)}` : 'due'})`),
        el('td', { class: 'detail' }, step.error || ''));
    }));
  }

  function drawLog() {
    const created = millis(saga.created_at);
    const entries = saga.log || [];
    lastSeq = entries.reduce((seq, entry) => Math.max(seq, entry.seq || 0), lastSeq);
    log.replaceChildren(...entries.map((entry) => {
      const outcome = enumName(entry.outcome, 'STEP_OUTCOME_');
      return el('tr', { 'data-seq': entry.seq },
        el('td', { class: 'num' }, String(entry.seq)),
        el('td', { class: 'num' }, `+${duration(millis(entry.at) - created)}`),
        el('td', {}, entry.step),
        el('td', {}, enumName(entry.phase, 'STEP_PHASE_').toLowerCase().replace('unspecified', '')),
        el('td', {}, el('span', { class: `outcome outcome-${outcome.toLowerCase()}` }, outcome.toLowerCase())),
        el('td', { class: 'num' }, entry.attempt ? String(entry.attempt) : ''),
        el('td', { class: 'detail' }, entry.detail || ''),
        el('td', { class: 'writer' }, entry.writer || ''));
    }));
  }

  async function refresh() {
    try {
      const next = await getJson(`/api/sagas/${encodeURIComponent(sagaId)}`);
      if (stopped) return;
      if (!definition && next.definition) {
        definition = await getJson(`/api/definitions/${encodeURIComponent(next.definition)}?version=${next.definition_version || 0}`)
          .catch(() => null);
      }
      show(next);
    } catch (error) {
      problem.textContent = String(error);
      problem.hidden = false;
    }
  }

  let pending = null;
  const soon = () => {
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 120);
  };

  // Follows the saga's log until the record that ends it (the `end` event); a watch
  // that is cut off or breaks is dialled again, resuming after the last record it sent.
  function watch() {
    if (stopped) return;
    live.hidden = false;
    let cutOff = null;
    events = follow(() => `/api/sagas/${encodeURIComponent(sagaId)}/events?from_seq=${lastSeq}`, {
      on: {
        entry: soon,
        end: () => { events.close(); live.hidden = true; refresh(); },
        failure: (data) => { cutOff = failureOf(data); },
      },
      open: () => {
        live.classList.add('on');
        if (broken !== null && problem.textContent === broken) problem.hidden = true;
        broken = null;
      },
      down: (error) => {
        live.classList.remove('on');
        broken = `The watch stopped (${cutOff || error}); following again.`;
        cutOff = null;
        problem.textContent = broken;
        problem.hidden = false;
      },
      pause: 2000,
    });
  }

  // The call in flight grows and the next attempt comes closer while nothing is written.
  const ticker = setInterval(() => { if (running()) { drawPicture(); } }, 250);
  const resized = () => drawPicture();
  window.addEventListener('resize', resized);
  refresh().then(() => { if (saga && running()) watch(); });

  return {
    stop() {
      stopped = true;
      clearInterval(ticker);
      clearTimeout(pending);
      window.removeEventListener('resize', resized);
      if (events) events.close();
    },
  };
}

function legend() {
  return el('div', { class: 'legend' },
    ...OUTCOMES.map((outcome) => el('span', {}, el('i', { class: `swatch outcome-${outcome}` }), outcome.replace('_', ' '))),
    el('span', {}, el('i', { class: 'swatch retry' }), 'retry'),
    el('span', {}, el('i', { class: 'swatch next' }), 'next attempt'));
}
