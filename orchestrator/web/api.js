// The orchestrator's JSON API as the page uses it: every request carries the operator's
// token (kept for this tab in sessionStorage) as `Authorization: Bearer`, and a refusal
// comes back as an ApiError with the gRPC code and the orchestrator's message.

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
