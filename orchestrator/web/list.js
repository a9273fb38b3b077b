// The saga list: filter buttons by status with live counts, a definition and key filter,
// and one row per saga (newest first), kept current by the server-sent events of
// WatchSagas without a reload.

import { getJson, query, throttle } from './api.js';
import { TERMINAL, badge, duration, el, millis, statusOf } from './format.js';

const STATUSES = ['RUNNING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'FAILED', 'RESOLVED'];
const PAGE = 50;

export function showList(view) {
  const filter = { status: '', definition: '', key: '', parked: false };
  let shown = PAGE;
  let nextToken = '';
  let events = null;
  let sagas = [];

  const counts = new Map();
  const buttons = ['', ...STATUSES].map((status) => {
    const count = el('span', { class: 'count' }, '0');
    counts.set(status, count);
    return el('button', {
      type: 'button',
      class: 'filter',
      'data-status': status || 'ALL',
      onclick: () => { filter.status = status; shown = PAGE; load(); },
    }, status || 'ALL', count);
  });
  const definition = el('select', { id: 'filter-definition', onchange: () => {
    filter.definition = definition.value; shown = PAGE; reconnect(); load();
  } }, el('option', { value: '' }, 'every definition'));
  const key = el('input', {
    id: 'filter-key', type: 'search', placeholder: 'key contains…',
    oninput: throttle(() => { filter.key = key.value.trim(); load(); }, 300),
  });
  const parked = el('input', { id: 'filter-parked', type: 'checkbox', onchange: () => {
    filter.parked = parked.checked; load();
  } });
  const rows = el('tbody');
  const note = el('p', { class: 'note', id: 'list-note' });
  const more = el('button', { type: 'button', id: 'more', hidden: true, onclick: () => { shown += PAGE; load(); } }, 'Older sagas');

  view.append(
    el('div', { class: 'title' }, el('h1', {}, 'Sagas'), el('span', { class: 'live', id: 'live' }, 'live')),
    el('div', { class: 'filters' }, ...buttons),
    el('div', { class: 'filters secondary' }, definition, key, el('label', { class: 'check' }, parked, 'parked only')),
    el('table', { class: 'sagas', id: 'saga-list' },
      el('thead', {}, el('tr', {}, ...['Saga', 'Status', 'Definition', 'Key', 'Current step', 'Age', 'Last change']
        .map((name) => el('th', {}, name)))),
      rows),
    note, more,
  );

  async function load() {
    try {
      const listed = await getJson(`/api/sagas${query({
        status: filter.status, definition: filter.definition, key: filter.key,
        parked: filter.parked, page_size: shown,
      })}`);
      sagas = listed.sagas || [];
      nextToken = listed.next_page_token || '';
      drawCounts(listed.counts || {});
      drawRows();
      note.textContent = sagas.length ? '' : 'No saga matches.';
      note.classList.remove('error');
    } catch (error) {
      note.textContent = String(error);
      note.classList.add('error');
    }
  }

  function drawCounts(byStatus) {
    let all = 0;
    for (const status of STATUSES) {
      const n = Number(byStatus[status] || 0);
      all += n;
      counts.get(status).textContent = String(n);
    }
    counts.get('').textContent = String(all);
    for (const button of buttons) {
      const status = button.dataset.status === 'ALL' ? '' : button.dataset.status;
      button.classList.toggle('active', status === filter.status);
    }
  }

  function drawRows() {
    const now = Date.now();
    rows.replaceChildren(...sagas.map((saga) => row(saga, now)));
    more.hidden = !nextToken;
  }

  async function loadDefinitions() {
    try {
      const listed = await getJson('/api/definitions');
      for (const info of listed.definitions || []) {
        const name = info.definition?.name || '';
        definition.append(el('option', { value: name }, name));
      }
    } catch {
      // The filter still works by the sagas' own names.
    }
  }

  // Every status, so that every count stays current whichever status is shown.
  const refresh = throttle(load, 500);
  function reconnect() {
    if (events) events.close();
    events = new EventSource(`/api/events${query({ definition: filter.definition })}`);
    events.addEventListener('saga', refresh);
    events.addEventListener('open', () => { document.getElementById('live')?.classList.add('on'); refresh(); });
    events.addEventListener('error', () => document.getElementById('live')?.classList.remove('on'));
  }

  // Ages grow while nothing happens.
  const ages = setInterval(drawRows, 5000);
  loadDefinitions();
  reconnect();
  load();
  return {
    stop() {
      clearInterval(ages);
      if (events) events.close();
    },
  };
}

function row(saga, now) {
  const status = statusOf(saga);
  const created = millis(saga.created_at);
  const updated = millis(saga.updated_at);
  const current = (saga.steps || []).find((step) => step.status === 'running' || step.status === 'compensating');
  const step = !TERMINAL.has(status) && current ? current.name + (current.status === 'compensating' ? ' (undo)' : '') : '—';
  const href = `#/sagas/${encodeURIComponent(saga.saga_id)}`;
  return el('tr', { 'data-saga-id': saga.saga_id, 'data-status': status },
    el('td', { class: 'id' }, el('a', { href }, saga.saga_id)),
    el('td', {}, badge(status), saga.parked ? el('span', { class: 'parked', title: 'retried at the slow pace: look at its error' }, 'parked') : null),
    el('td', {}, `${saga.definition || '?'} v${saga.definition_version || 0}`),
    el('td', { class: 'key' }, saga.idempotency_key || ''),
    el('td', {}, step),
    el('td', { class: 'num' }, created === null ? '' : duration(now - created)),
    el('td', { class: 'num' }, updated === null ? '' : `${duration(now - updated)} ago`),
  );
}
