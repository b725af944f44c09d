// The collector's JSON API (API.md). A signed-in user's session is a cookie; writes then echo the CSRF cookie in
// X-CSRF-Token. The bootstrap admin token (scripts, migration) is sent as Bearer instead (docs/SECURITY.md).

const TOKEN_KEY = "qingliu.token";
const OPERATOR_KEY = "qingliu.operator";
const SESSION_KEY = "qingliu.session"; // the signed-in user's name (the session itself is an HttpOnly cookie)
const CSRF_COOKIE = "qingliu_csrf";

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status} ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function store(key, value) {
  try {
    if (value == null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* storage blocked */
  }
}

function load(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Truthy when signed in, by the bootstrap token or as a user. */
export const getToken = () => load(TOKEN_KEY) || load(SESSION_KEY);
export const getOperator = () => load(OPERATOR_KEY) || "";
export function logout() {
  if (load(SESSION_KEY)) fetch("/api/logout", { method: "POST" }).catch(() => null);
  store(TOKEN_KEY, null);
  store(SESSION_KEY, null);
}

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

async function request(method, path, body, auth) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const token = load(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
  }
  if (method !== "GET") {
    const csrf = cookie(CSRF_COOKIE);
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    /* empty or non-JSON body */
  }
  // Reading needs a login (api.read_requires_login): the page asks for one (app.js).
  if (res.status === 401 && method === "GET") window.dispatchEvent(new Event("qingliu:signin"));
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || res.statusText);
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== "") q.set(k, v);
  const str = q.toString();
  return str ? `?${str}` : "";
}

export const getOverview = () => request("GET", "/api/overview");
export const getParameters = () => request("GET", "/api/parameters");
export const getStation = (id) => request("GET", `/api/stations/${encodeURIComponent(id)}`);
/** A chart's series: the whole range, as buckets (mean, min, max) when it holds more than `points` readings. */
export const getReadings = (id, param, from, to, points = 600) =>
  request("GET", `/api/stations/${encodeURIComponent(id)}/readings` + query({ param, from, to, points }));
export const getFleetHealth = () => request("GET", "/api/fleet/health");
export const getHealth = (id, from, to) =>
  request("GET", `/api/stations/${encodeURIComponent(id)}/health` + query({ from, to }));
export const getAlerts = (params) => request("GET", "/api/alerts" + query(params));
export const getDeadLetters = (params) => request("GET", "/api/dead-letters" + query(params || {}));
export const getAssessment = (params) => request("GET", "/api/assessment" + query(params || {}));
export const getOutfalls = () => request("GET", "/api/outfalls");

/** Sign in: the secret is first tried as the bootstrap admin token (kept, with the operator's name, if valid),
 * then as the password of the user ``name`` (the collector then sets the session and CSRF cookies). */
export async function login(secret, name) {
  const post = (body) => fetch("/api/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  let res = await post({ token: secret });
  if (res.ok) {
    store(TOKEN_KEY, secret);
    store(SESSION_KEY, null);
    store(OPERATOR_KEY, name || "");
    return;
  }
  if (name) {
    res = await post({ username: name, password: secret });
    if (res.ok) {
      store(TOKEN_KEY, null);
      store(SESSION_KEY, name);
      store(OPERATOR_KEY, name);
      return;
    }
  }
  throw new ApiError(res.status, "login");
}

/** The audit log: who acknowledged, commented or commanded what, when, from where (newest first). */
export const getAudit = (params) => request("GET", "/api/audit" + query(params || {}));

export async function ackAlert(id, note) {
  try {
    return await request("POST", `/api/alerts/${encodeURIComponent(id)}/ack`, { by: getOperator(), note: note || "" },
      true);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) logout();
    throw err;
  }
}
