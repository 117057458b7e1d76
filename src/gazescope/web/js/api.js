// REST helpers: token handling (?token= / Bearer, kept in sessionStorage), JSON calls, and feature
// detection from /openapi.json so the app never requests an endpoint the server does not have.

const TOKEN_KEY = "gazescope.token";

/** A failed API call: `status` (0 when the server could not be reached) and the server's `detail`. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

/** The API token of this tab ("" when none is set). */
export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

/** Keep `value` as this tab's API token (an empty value forgets it). */
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A URL on this server with ?token= added when a token is set (for <img>, <iframe>, links, WebSockets). */
export function withToken(path) {
  const token = getToken();
  if (!token) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

/** The ws:// or wss:// URL of `path` on this server, with the token. */
export function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${withToken(path)}`;
}

/** fetch JSON (or nothing for 204); throws ApiError with the server's `detail` on a 4xx/5xx. */
export async function api(path, { method = "GET", body, form } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server (${err.message})`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const detail = data && typeof data === "object" && "detail" in data ? data.detail : data || res.statusText;
    throw new ApiError(res.status, detail);
  }
  return data;
}

let routesPromise = null;

/** The set of "METHOD /path/{param}" the server serves (from its OpenAPI document). */
export function routes() {
  if (!routesPromise) {
    routesPromise = fetch("/openapi.json", { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { paths: {} }))
      .then((doc) => {
        const out = new Set();
        for (const [p, ops] of Object.entries(doc.paths || {})) {
          for (const m of Object.keys(ops)) out.add(`${m.toUpperCase()} ${p}`);
        }
        return out;
      })
      .catch(() => new Set());
  }
  return routesPromise;
}

/** Whether the server serves `method path` (path with the OpenAPI parameter names, e.g. {session_id}). */
export async function has(method, pathTemplate) {
  const set = await routes();
  if (set.has(`${method} ${pathTemplate}`)) return true;
  // parameter names may differ ({id} vs {session_id}): compare with the names blanked out
  const norm = (s) => s.replace(/\{[^}]+\}/g, "{}");
  const want = norm(`${method} ${pathTemplate}`);
  for (const r of set) if (norm(r) === want) return true;
  return false;
}

/** Fetch a binary resource (PNG) as an object URL; null when unavailable. Errors are returned, not logged. */
export async function imageUrl(path) {
  const headers = {};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers });
  if (!res.ok) {
    let detail = res.statusText;
    try {
      const j = await res.json();
      detail = j.detail || detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, detail);
  }
  return URL.createObjectURL(await res.blob());
}
