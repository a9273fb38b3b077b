// The saga list: filter buttons by status with live counts, a definition and key filter,
// and one row per saga (newest first), kept current by the server-sent events of
// WatchSagas without a reload.

import { failureOf, follow, getJson, query, throttle } from './api.js';
import { TERMINAL, badge, duration, el, millis, statusOf } from './format.js';

const STATUSES = ['RUNNING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'FAILED', 'RESOLVED'];
const PAGE = 50;
// The largest page the orchestrator serves.
const MAX_PAGE = 500;

export function showList(view) {
  const filter = { status: '', definition: '', key: '', parked: false };
  // Rows the operator asked for: a page, and one more per click on "Older sagas".
  let wanted = PAGE;
  let nextToken = '';
  let events = null;
  let sagas = [];
  // Bumped by every request for rows: an answer to an older one is dropped, so that a
  // slow answer cannot draw a filter the operator has already left.
  let generation = 0;
  // The generation of the reload in flight, if one is.
  let loading = 0;

  // A new filter starts again from its newest page ("Older sagas" waits for it).
  const refilter = (change) => { change(); wanted = PAGE; more.hidden = true; load(); };
  const counts = new Map();
  const buttons = ['', ...STATUSES].map((status) => {
    const count = el('span', { class: 'count' }, '0');
    counts.set(status, count);
    return el('button', {
      type: 'button',
      class: 'filter',
      'data-status': status || 'ALL',
      onclick: () => refilter(() => { filter.status = status; }),
    }, status || 'ALL', count);
  });
  const definition = el('select', { id: 'filter-definition', onchange: () => {
    refilter(() => { filter.definition = definition.value; });
    reconnect();
  } }, el('option', { value: '' }, 'every definition'));
  const key = el('input', {
    id: 'filter-key', type: 'search', placeholder: 'key contains…',
    oninput: throttle(() => refilter(() => { filter.key = key.value.trim(); }), 300),
  });
  const parked = el('input', { id: 'filter-parked', type: 'checkbox', onchange: () => {
    refilter(() => { filter.parked = parked.checked; });
  } });
  const rows = el('tbody');
  const note = el('p', { class: 'note', id: 'list-note' });
  const more = el('button', { type: 'button', id: 'more', hidden: true, onclick: older }, 'Older sagas');
  const live = el('span', { class: 'live', id: 'live' }, 'live');

  view.append(
    el('div', { class: 'title' }, el('h1', {}, 'Sagas'), live),
    el('div', { class: 'filters' }, ...buttons),
    el('div', { class: 'filters secondary' }, definition, key, el('label', { class: 'check' }, parked, 'parked only')),
    el('table', { class: 'sagas', id: 'saga-list' },
      el('thead', {}, el('tr', {}, ...['Saga', 'Status', 'Definition', 'Key', 'Current step', 'Age', 'Last change']
        .map((name) => el('th', {}, name)))),
      rows),
    note, more,
  );

  // One page of the list as filtered, after `token` (empty: the newest).
  function page(token, size) {
    return getJson(`/api/sagas${query({
      status: filter.status, definition: filter.definition, key: filter.key,
      parked: filter.parked, page_size: size, page_token: token,
    })}`);
  }

  // The newest `wanted` rows again, page after page, with the counts.
  async function load() {
    const mine = ++generation;
    loading = mine;
    try {
      let listed = await page('', Math.min(wanted, MAX_PAGE));
      const counted = listed.counts || {};
      const found = [...(listed.sagas || [])];
      while (listed.next_page_token && found.length < wanted && mine === generation) {
        listed = await page(listed.next_page_token, Math.min(wanted - found.length, MAX_PAGE));
        found.push(...(listed.sagas || []));
      }
      if (mine !== generation) return;
      sagas = found;
      nextToken = listed.next_page_token || '';
      drawCounts(counted);
      drawRows();
      more.hidden = !nextToken;
      shown(null);
    } catch (error) {
      if (mine === generation) shown(error);
    } finally {
      if (loading === mine) loading = 0;
    }
  }

  // The page after the last row shown, added below it. A reload it overtakes is done
  // again after it, with the added rows.
  async function older() {
    const mine = ++generation;
    const overtaken = loading !== 0;
    loading = 0;
    more.disabled = true;
    try {
      const listed = await page(nextToken, PAGE);
      if (mine !== generation) return;
      wanted = sagas.length + PAGE;
      sagas = [...sagas, ...(listed.sagas || [])];
      nextToken = listed.next_page_token || '';
      drawRows();
      more.hidden = !nextToken;
      shown(null);
    } catch (error) {
      if (mine === generation) shown(error);
    } finally {
      more.disabled = false;
      if (overtaken && mine === generation) refresh();
    }
  }

  function shown(error) {
    note.textContent = error ? String(error) : sagas.length ? '' : 'No saga matches.';
    note.classList.toggle('error', Boolean(error));
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

  // Every status, so that every count stays current whichever status is shown. A watch
  // that fails or ends is dialled again; what it missed meanwhile, the reload on its
  // reopening shows.
  const refresh = throttle(load, 500);
  function reconnect() {
    if (events) events.close();
    let cutOff = null;
    events = follow(() => `/api/events${query({ definition: filter.definition })}`, {
      on: { saga: refresh, failure: (data) => { cutOff = failureOf(data); } },
      open: () => { live.classList.add('on'); live.title = ''; refresh(); },
      down: (error) => {
        live.classList.remove('on');
        live.title = `${cutOff || error}; following again`;
        cutOff = null;
      },
    });
  }

  // Ages grow while nothing happens.
  const ages = setInterval(drawRows, 5000);
  loadDefinitions();
  reconnect();
  load();
  return {
    stop() {
      clearInterval(ages);
      generation += 1;
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
