// The definitions page: each registered definition (its latest version) drawn as its
// chain of steps, left to right as they run forward, each with its method and kind, and
// beneath it the compensation that undoes it (run right to left when a later step fails
// for good).

import { getJson } from './api.js';
import { clock, el, enumName, methodName, millis } from './format.js';

export function showDefinitions(view) {
  const list = el('div', { class: 'definitions', id: 'definitions' });
  const note = el('p', { class: 'note' });
  view.append(el('div', { class: 'title' }, el('h1', {}, 'Definitions')), note, list);
  getJson('/api/definitions')
    .then((listed) => {
      const all = listed.definitions || [];
      note.textContent = all.length ? 'Steps run left to right; when one fails for good, the compensations beneath the steps before it run right to left.' : 'No definition is registered.';
      list.replaceChildren(...all.map(card));
    })
    .catch((error) => {
      note.textContent = String(error);
      note.classList.add('error');
    });
  return { stop() {} };
}

// A step's kind as the orchestrator runs it (unspecified: compensatable when it has a
// compensation, else the pivot).
function kindOf(step) {
  const kind = enumName(step.kind, 'STEP_KIND_').toLowerCase();
  if (kind !== 'unspecified') return kind;
  return step.compensation ? 'compensatable' : 'pivot';
}

function card(info) {
  const definition = info.definition || {};
  const steps = definition.steps || [];
  return el('section', { class: 'panel definition', 'data-definition': definition.name },
    el('h2', {}, definition.name, el('span', { class: 'version' }, ` v${info.version || 0}`)),
    definition.description ? el('p', { class: 'description' }, definition.description) : null,
    el('p', { class: 'meta' }, `registered ${clock(millis(info.registered_at))} · digest ${String(info.digest || '').slice(0, 12)}`),
    el('ol', { class: 'chain' }, ...steps.map((step, index) => el('li', { class: 'def-step', 'data-step': step.name },
      el('div', { class: `box kind-${kindOf(step)}` },
        el('span', { class: 'index' }, String(index + 1)),
        el('strong', {}, step.name),
        el('code', { title: step.action }, methodName(step.action)),
        el('span', { class: 'kind' }, kindOf(step))),
      step.compensation
        ? el('div', { class: 'box def-compensation', title: step.compensation }, '↩ ', el('code', {}, methodName(step.compensation)))
        : el('div', { class: 'no-compensation' }, kindOf(step) === 'retriable' ? 'retried until it succeeds' : 'nothing to undo')))),
  );
}
