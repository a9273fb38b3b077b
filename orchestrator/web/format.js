// Small pieces every view uses: building DOM and SVG elements (text is always set as
// text, never parsed as HTML), and reading the API's proto3 JSON (enum names, times).

const SVG_NS = 'http://www.w3.org/2000/svg';

// An HTML element with attributes (`class`, `data-*`, `href`, ...) and children (nodes
// or text; null and false are left out).
export function el(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// The same for SVG elements.
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// `SAGA_STATUS_FAILED` -> `FAILED`; an absent enum is its zero value.
export function enumName(value, prefix) {
  if (!value) return 'UNSPECIFIED';
  return String(value).startsWith(prefix) ? String(value).slice(prefix.length) : String(value);
}

export const statusOf = (saga) => enumName(saga.status, 'SAGA_STATUS_');

export const TERMINAL = new Set(['COMPLETED', 'COMPENSATED', 'FAILED', 'RESOLVED']);

// Milliseconds since the epoch of a proto3 JSON timestamp, or null.
export function millis(timestamp) {
  if (!timestamp) return null;
  const ms = Date.parse(timestamp);
  return Number.isNaN(ms) ? null : ms;
}

// A duration for people: 850 ms, 2.4 s, 3 min 5 s, 2 h 10 min, 3 d.
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (abs < 60_000) return `${Math.round(ms / 1000)} s`;
  if (abs < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  if (abs < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
  return `${Math.round(ms / 86_400_000)} d`;
}

// A local date and time with milliseconds.
export function clock(ms) {
  if (ms === null) return '';
  const date = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

// `orders.v1.Orders/CancelOrder` -> `CancelOrder`.
export function methodName(full) {
  return String(full || '').split('/').pop();
}

// A status badge.
export function badge(status) {
  return el('span', { class: `badge status-${status.toLowerCase()}` }, status);
}
