// The orchestrator's JSON API as the page uses it: every request, the live event streams
// included, carries the operator's token (kept for this tab in sessionStorage) as
// `Authorization: Bearer`, and a refusal comes back as an ApiError with the gRPC code
// and the orchestrator's message.

const TOKEN_KEY = 'saga-orchestrator-token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

// Wires the token field in the page's header to the session's storage.
export function initToken() {
  const input = document.getElementById('token');
  document.getElementById('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    input.dispatchEvent(new Event('change'));
  });
  input.value = token();
  input.addEventListener('change', () => {
    const value = input.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  });
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  toString() {
    return `${this.code}: ${this.message}`;
  }
}

function headers(extra = {}) {
  const all = { Accept: 'application/json', ...extra };
  const secret = token();
  if (secret) all.Authorization = `Bearer ${secret}`;
  return all;
}

async function answer(response) {
  const text = await response.text();
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { code: 'UNKNOWN', message: text };
  }
  if (!response.ok) {
    throw new ApiError(response.status, body.code || `HTTP ${response.status}`, body.message || text);
  }
  return body;
}

export async function getJson(path) {
  let response;
  try {
    response = await fetch(path, { headers: headers() });
  } catch (error) {
    throw new ApiError(0, 'UNAVAILABLE', `the orchestrator cannot be reached (${error.message})`);
  }
  return answer(response);
}

export async function postJson(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, 'UNAVAILABLE', `the orchestrator cannot be reached (${error.message})`);
  }
  return answer(response);
}

// Follows the server-sent events at `path()` (asked again at each dial, so that a redial
// can say where to resume) with fetch(): unlike EventSource, it sends the token as every
// other request does. `on` maps an event's name to a handler of its data; `open()` is
// called when a stream is answered, `down(error)` when it fails or ends. Then, after
// `pause` ms, it dials again (with `Last-Event-ID` from the last event that had an id),
// until `close()`, which a handler may call (e.g. on an event that says nothing
// follows). A stream silent for `idle` ms (the orchestrator sends a comment every 15 s)
// counts as broken.
export function follow(path, { on = {}, open = () => {}, down = () => {}, pause = 3000, idle = 45000 } = {}) {
  let closed = false;
  let lastId = '';
  let abort = null;
  let redial = null;

  const received = (event) => {
    lastId = event.id;
    if (!closed && event.type && Object.hasOwn(on, event.type)) on[event.type](event.data);
  };

  async function dial() {
    abort = new AbortController();
    let why;
    try {
      const extra = { Accept: 'text/event-stream' };
      if (lastId) extra['Last-Event-ID'] = lastId;
      const response = await fetch(path(), { headers: headers(extra), signal: abort.signal, cache: 'no-store' });
      if (!response.ok) await answer(response);
      if (!response.body || !/^text\/event-stream/.test(response.headers.get('Content-Type') || '')) {
        throw new ApiError(response.status, 'UNAVAILABLE', 'the answer is not an event stream');
      }
      if (closed) return;
      open();
      await readEvents(response.body, abort, idle, lastId, received);
      why = new ApiError(0, 'UNAVAILABLE', 'the event stream ended');
    } catch (error) {
      why = error instanceof ApiError ? error : new ApiError(0, 'UNAVAILABLE', `the event stream broke (${error.message})`);
    }
    if (closed) return;
    down(why);
    redial = setTimeout(dial, pause);
  }

  dial();
  return {
    close() {
      closed = true;
      clearTimeout(redial);
      if (abort) abort.abort();
    },
  };
}

// The ApiError a `failure` event's data `{code, message}` says: why the orchestrator cut
// a watch off.
export function failureOf(data) {
  let why = {};
  try {
    why = JSON.parse(data || '{}');
  } catch {
    why = { message: data };
  }
  return new ApiError(0, why.code || 'UNKNOWN', why.message || 'the watch was cut off');
}

// Reads one event stream to its end, handing each event `{type, data, id}` to `received`
// (`type` empty for a block without data, which only sets the id). Aborts through
// `abort` when nothing, not even a comment, arrives for `idle` ms.
async function readEvents(body, abort, idle, lastId, received) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parse = eventParser(lastId, received);
  let quiet = null;
  try {
    for (;;) {
      clearTimeout(quiet);
      quiet = setTimeout(() => abort.abort(new ApiError(0, 'UNAVAILABLE', `no word from the orchestrator for ${idle / 1000} s`)), idle);
      const { value, done } = await reader.read();
      if (done) break;
      parse(decoder.decode(value, { stream: true }));
    }
    parse(decoder.decode());
  } finally {
    clearTimeout(quiet);
  }
}

// The event-stream format: lines end in CR LF, LF or CR; `field: value` lines make up an
// event (`event`, `data`, one line each, joined by LF, and `id`, which persists), a
// blank line dispatches it, and a line starting with `:` is a comment. Returns the
// function to feed decoded text to, in pieces of any size.
function eventParser(lastId, received) {
  let pending = '';
  let type = '';
  let data = [];
  let id = lastId;

  function line(text) {
    if (text === '') {
      received({ type: data.length ? type || 'message' : '', data: data.join('\n'), id });
      type = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) id = value;
  }

  return (text) => {
    pending += text;
    // A CR at the end may be the first half of a CR LF: it waits for the next piece.
    const held = pending.endsWith('\r') ? 1 : 0;
    const lines = pending.slice(0, pending.length - held).split(/\r\n|\r|\n/);
    pending = lines.pop() + (held ? '\r' : '');
    for (const text of lines) line(text);
  };
}

// Query parameters without the empty ones.
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== '' && value !== null && value !== undefined && value !== false) {
      search.set(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// Calls `fn` at most once per `ms`, with the latest call honoured.
export function throttle(fn, ms) {
  let timer = null;
  let again = false;
  const run = () => {
    timer = null;
    if (again) {
      again = false;
      fn();
      timer = setTimeout(run, ms);
    }
  };
  return () => {
    if (timer) {
      again = true;
      return;
    }
    fn();
    timer = setTimeout(run, ms);
  };
}
