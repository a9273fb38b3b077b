// Operators' actions on one saga: Retry, Abort, Resolve and Skip, each behind a
// confirmation dialog that asks why (the reason goes to the saga log). The request id
// is made once per dialog, so that sending again after an error cannot act twice.

import { postJson } from './api.js';
import { el } from './format.js';

export const ACTIONS = {
  retry: {
    label: 'Retry',
    text: 'Send its current call now (a saga waiting for its retry, or parked), or send the refused call again (a FAILED saga).',
    when: ['RUNNING', 'COMPENSATING', 'FAILED'],
  },
  abort: {
    label: 'Abort',
    text: 'Stop going forward and compensate every step that may have taken effect.',
    when: ['RUNNING'],
  },
  resolve: {
    label: 'Resolve',
    text: 'Declare the FAILED saga repaired by hand: it ends RESOLVED, the log saying by whom and why.',
    when: ['FAILED'],
  },
  skip: {
    label: 'Skip step…',
    text: 'Record the output of a step done by hand as if it had succeeded, and go on.',
    when: ['RUNNING', 'FAILED'],
  },
};

// The buttons, each opening the confirmation of its action for the saga `current()`
// returns; `done(saga)` gets the orchestrator's answer.
export function actionBar(current, done, failed) {
  const buttons = Object.entries(ACTIONS).map(([action, about]) => el('button', {
    type: 'button', 'data-action': action, class: action === 'abort' || action === 'resolve' ? 'warn' : '',
    title: about.text,
    onclick: () => confirmAction(action, current(), done, failed),
  }, about.label));
  return { element: el('div', { class: 'actions', id: 'actions' }, ...buttons), buttons };
}

// Enables the actions that make sense in `status` (the orchestrator decides, and says
// FAILED_PRECONDITION otherwise).
export function enableFor(buttons, status) {
  for (const button of buttons) {
    button.disabled = !ACTIONS[button.dataset.action].when.includes(status);
  }
}

function requestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function stuckStep(saga) {
  const steps = saga.steps || [];
  return (steps.find((s) => s.status === 'running') || steps.find((s) => s.status === 'failed') || steps[0] || {}).name;
}

function confirmAction(action, saga, done, failed) {
  const about = ACTIONS[action];
  const dialog = document.getElementById('confirm');
  const form = document.getElementById('confirm-form');
  const reason = document.getElementById('confirm-reason');
  const error = document.getElementById('confirm-error');
  const ok = document.getElementById('confirm-ok');
  const skipping = action === 'skip';
  const step = document.getElementById('confirm-step');
  const output = document.getElementById('confirm-output');
  const id = requestId();

  document.getElementById('confirm-title').textContent = `${about.label.replace('…', '')} saga ${saga.saga_id}?`;
  document.getElementById('confirm-text').textContent = about.text;
  document.getElementById('confirm-skip').hidden = !skipping;
  dialog.dataset.action = action;
  reason.value = '';
  error.hidden = true;
  ok.textContent = about.label.replace('…', '');
  if (skipping) {
    step.replaceChildren(...(saga.steps || []).map((s) => el('option', { value: s.name }, s.name)));
    step.value = stuckStep(saga) || '';
    output.value = '{}';
  }

  form.onsubmit = async (event) => {
    event.preventDefault();
    if (!reason.value.trim()) {
      error.textContent = 'Say why: the reason is written to the saga log.';
      error.hidden = false;
      return;
    }
    const body = { reason: reason.value.trim(), request_id: id };
    if (skipping) Object.assign(body, { step: step.value, output_json: output.value });
    ok.disabled = true;
    try {
      const answer = await postJson(`/api/sagas/${encodeURIComponent(saga.saga_id)}/${action}`, body);
      dialog.close();
      done(answer);
    } catch (refused) {
      error.textContent = String(refused);
      error.hidden = false;
      failed(refused);
    } finally {
      ok.disabled = false;
    }
  };
  document.getElementById('confirm-cancel').onclick = () => dialog.close();
  dialog.showModal();
  reason.focus();
}
