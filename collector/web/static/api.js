// The collector's JSON API (API.md). Reading needs no auth; changing anything sends the Bearer token.

const TOKEN_KEY = "qingliu.token";
const OPERATOR_KEY = "qingliu.operator";

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

export const getToken = () => load(TOKEN_KEY);
export const getOperator = () => load(OPERATOR_KEY) || "";
export const logout = () => store(TOKEN_KEY, null);

async function request(method, path, body, auth) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
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

/** Check a token with the collector; keep it (and the operator's name) only if it is valid. */
export async function login(token, operator) {
  const res = await fetch("/api/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
  });
  if (!res.ok) throw new ApiError(res.status, "login");
  store(TOKEN_KEY, token);
  store(OPERATOR_KEY, operator || "");
}

export async function ackAlert(id, note) {
  try {
    return await request("POST", `/api/alerts/${encodeURIComponent(id)}/ack`, { by: getOperator(), note: note || "" },
      true);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) logout();
    throw err;
  }
}
