// The page's entry: routes `#/` (sagas), `#/sagas/ID` (one saga) and `#/definitions`
// to their views; a view's `stop()` closes its live connections when the route changes.

import { initToken } from './api.js';
import { showDefinitions } from './definitions.js';
import { showList } from './list.js';
import { showSaga } from './saga.js';

let current = null;

function route() {
  if (current) current.stop();
  const view = document.getElementById('view');
  view.replaceChildren();
  const hash = location.hash || '#/';
  const saga = hash.match(/^#\/sagas\/(.+)$/);
  let section = 'sagas';
  if (saga) {
    current = showSaga(view, decodeURIComponent(saga[1]));
  } else if (hash.startsWith('#/definitions')) {
    section = 'definitions';
    current = showDefinitions(view);
  } else {
    current = showList(view);
  }
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('active', link.dataset.nav === section);
  }
}

initToken();
window.addEventListener('hashchange', route);
route();
