// The dashboard shell: shared state, header, client-side routes (/, /station/ID, /alerts, /sections,
// /#/reports/KIND/PERIOD), live updates.

import { ApiError, getDeadLetters, getOverview, getOperator, getParameters, getToken, login, logout } from "./api.js";
import { clear, h } from "./dom.js";
import { getLang, setLang, t, tl } from "./i18n.js";
import { startLive } from "./live.js";
import { alertsView } from "./view-alerts.js";
import { fleetView } from "./view-fleet.js";
import { reportsView } from "./view-reports.js";
import { sectionsView } from "./view-sections.js";
import { stationView } from "./view-station.js";
import { message, refreshAge } from "./widgets.js";

const COLOUR_KEY = "qingliu.colour";
const DEAD_LETTER_LIMIT = 50; // the header says "50+" beyond: the badge is a signal, the list is in the alerts view
const DEAD_LETTER_POLL_MS = 60000;

const state = {
  overview: null,
  receivedAt: new Map(), // station id → Date.now() when its summary arrived (for ages)
  liveStatus: "connecting",
  colourMode: "state",
  params: null,
  deadLetters: null, // GET /api/dead-letters: {counts, items} (quarantined messages), refreshed every minute
};
try {
  state.colourMode = localStorage.getItem(COLOUR_KEY) === "class" ? "class" : "state";
} catch {
  /* default */
}

const top = document.getElementById("top");
const root = document.getElementById("view");
let view = null;
let paramsPromise = null;

// ---- state updates -------------------------------------------------------------------------------------------

function recount() {
  const counts = { online: 0, degraded: 0, offline: 0, open_alerts: 0, off_target: 0 };
  for (const st of state.overview.stations) {
    if (st.state in counts) counts[st.state] += 1;
    counts.open_alerts += st.open_alerts || 0;
    if (st.off_target) counts.off_target += 1;
  }
  state.overview.counts = { ...state.overview.counts, ...counts };
}

function applyOverview(ov) {
  const now = Date.now();
  state.overview = ov;
  for (const st of ov.stations || []) state.receivedAt.set(st.id, now);
  refreshHeader();
  if (view) view.update("overview", ov);
}

function applyStation(st) {
  if (!state.overview) return;
  const list = state.overview.stations;
  const i = list.findIndex((x) => x.id === st.id);
  if (i >= 0) list[i] = st;
  else list.push(st);
  state.receivedAt.set(st.id, Date.now());
  recount();
  refreshHeader();
  if (view) view.update("station", st);
}

function applyAlert(alert) {
  if (view) view.update("alert", alert);
}

async function loadOverview() {
  try {
    applyOverview(await getOverview());
  } catch (err) {
    if (!state.overview) {
      clear(root).append(message(`${t("load_failed")}: ${err.message}`, "error"));
      setTimeout(loadOverview, 5000);
    }
  }
}

async function loadDeadLetters() {
  try {
    state.deadLetters = await getDeadLetters({ limit: DEAD_LETTER_LIMIT });
  } catch {
    return; // kept as it was; the next poll tries again
  }
  refreshHeader();
  if (view) view.update("dead_letters", state.deadLetters);
}

function params() {
  // The catalogue never changes while the page is open; fetch it once.
  if (!paramsPromise) {
    paramsPromise = getParameters().then((list) => {
      state.params = new Map(list.map((p) => [p.code, p]));
      return state.params;
    }).catch((err) => {
      paramsPromise = null;
      throw err;
    });
  }
  return paramsPromise;
}

// ---- login dialog --------------------------------------------------------------------------------------------

let loginDialog = null;

/** Ask for a token; resolves true once the collector accepted it. */
function openLogin() {
  return new Promise((resolve) => {
    if (loginDialog) loginDialog.remove();
    const error = h("p", { class: "msg error", role: "alert", hidden: true });
    const token = h("input", { type: "password", name: "token", required: true, autocomplete: "current-password",
      "data-testid": "login-token" });
    const operator = h("input", { type: "text", name: "operator", autocomplete: "username", value: getOperator(),
      "data-testid": "login-operator" });
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      if (loginDialog.open) loginDialog.close();
      renderHeader();
      resolve(ok);
    };
    const form = h("form", {
      method: "dialog",
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          await login(token.value.trim(), operator.value.trim());
          finish(true);
        } catch (err) {
          error.hidden = false;
          const known = { 401: "login_failed", 429: "login_locked" }[err instanceof ApiError ? err.status : 0];
          error.textContent = known ? t(known) : err.message;
        }
      },
    },
    h("h2", null, tl("login")),
    h("p", { class: "muted" }, t("login_needed")),
    h("label", null, h("span", null, tl("token")), token),
    h("label", null, h("span", null, tl("operator")), operator),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "btn", onclick: () => finish(false) }, t("cancel")),
      h("button", { type: "submit", class: "btn primary", "data-testid": "login-submit" }, t("login"))));
    loginDialog = h("dialog", { class: "login", "data-testid": "login-dialog", onclose: () => finish(false) }, form);
    document.body.append(loginDialog);
    loginDialog.showModal();
    token.focus();
  });
}

// Reading needs a login (api.read_requires_login): a read answered 401 asks for one, once, then reloads.
let signingIn = false;
window.addEventListener("qingliu:signin", async () => {
  if (signingIn) return;
  signingIn = true;
  const ok = await openLogin();
  signingIn = false;
  if (ok) location.reload();
});

// ---- header --------------------------------------------------------------------------------------------------

const LIVE_KEYS = { connecting: "connecting", live: "live", reconnecting: "reconnecting", polling: "polling" };

let liveEl = null;
let badgeEl = null;
let deadEl = null;

/** Cheap in-place refresh of the parts that change with live data; keeps keyboard focus where it is. */
function refreshHeader() {
  if (!liveEl) return renderHeader();
  liveEl.className = `live live-${state.liveStatus}`;
  liveEl.dataset.status = state.liveStatus;
  liveEl.lastChild.textContent = t(LIVE_KEYS[state.liveStatus]);
  const n = state.overview && state.overview.counts ? state.overview.counts.open_alerts || 0 : 0;
  badgeEl.textContent = String(n);
  badgeEl.hidden = !n;
  const dead = state.deadLetters ? (state.deadLetters.items || []).length : 0;
  deadEl.hidden = !dead;
  deadEl.lastChild.textContent = dead >= DEAD_LETTER_LIMIT ? `${DEAD_LETTER_LIMIT}+` : String(dead);
}

function renderHeader() {
  const path = location.pathname;
  const token = getToken();
  badgeEl = h("span", { class: "badge", "data-testid": "open-alerts-badge" });
  // Quarantined messages: shown only when there are some; the list is on the alerts view.
  deadEl = h("a", { href: "/alerts#dead-letters", class: "dead-link", "data-testid": "dead-letters-badge",
    title: t("dead_letters_hint") }, tl("rejected"), h("span", { class: "badge" }));
  liveEl = h("span", { "data-testid": "live-indicator", role: "status", "aria-live": "polite" },
    h("span", { class: "dot", "aria-hidden": "true" }), h("span", null));
  const reports = isReports();
  const navLink = (href, key, active, extra) =>
    h("a", { href, class: active ? "active" : "", "aria-current": active ? "page" : null }, tl(key), extra);
  top.replaceChildren(
    h("a", { href: "/", class: "brand" }, h("strong", { lang: "zh-CN" }, "清流"), h("span", null, t("title"))),
    h("nav", { "aria-label": "main" },
      navLink("/", "fleet", (path === "/" && !reports) || path.startsWith("/station/")),
      navLink("/sections", "sections", path === "/sections"),
      navLink("/alerts", "alerts", path === "/alerts", badgeEl),
      navLink("/#/reports", "reports", reports),
      deadEl),
    h("div", { class: "tools" },
      liveEl,
      h("button", {
        type: "button", class: "btn small", "data-testid": "lang-toggle", lang: getLang() === "zh" ? "en" : "zh",
        onclick: () => {
          setLang(getLang() === "zh" ? "en" : "zh");
          renderHeader();
          render();
        },
      }, getLang() === "zh" ? "EN" : "中文"),
      token
        ? h("button", {
          type: "button", class: "btn small", "data-testid": "logout",
          onclick: () => {
            logout();
            renderHeader();
          },
        }, `${getOperator() || t("logged_in")} · ${t("logout")}`)
        : h("button", { type: "button", class: "btn small", "data-testid": "login", onclick: () => openLogin() },
          t("login"))));
  refreshHeader();
}

// ---- routing -------------------------------------------------------------------------------------------------

// The reports view lives in the page's fragment (/#/reports/daily/2026-12-03): the link the daily warning's
// pushed message carries, served by the page at / without a server route of its own.
const REPORTS_HASH = /^#\/reports(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/;

function isReports() {
  return (location.pathname === "/" || location.pathname === "/index.html") && REPORTS_HASH.test(location.hash);
}

function match(pathname) {
  if (pathname === "/" || pathname === "/index.html") return { name: "fleet" };
  if (pathname === "/alerts") return { name: "alerts" };
  if (pathname === "/sections") return { name: "sections" };
  const m = /^\/station\/([^/]+)$/.exec(pathname);
  if (m) return { name: "station", id: decodeURIComponent(m[1]) };
  return null;
}

const ctx = {
  state,
  navigate,
  params,
  loadDeadLetters,
  login: openLogin,
  applyAlert,
  applyStation,
  setColourMode(mode) {
    state.colourMode = mode;
    try {
      localStorage.setItem(COLOUR_KEY, mode);
    } catch {
      /* not remembered */
    }
  },
};

function render() {
  if (view) view.destroy();
  view = null;
  clear(root);
  const hashRoute = isReports() ? REPORTS_HASH.exec(location.hash) : null;
  const r = hashRoute ? { name: "reports", kind: hashRoute[1], period: hashRoute[2] }
    : match(location.pathname) || { name: "fleet" };
  const query = new URLSearchParams(location.search);
  if (r.name === "fleet") view = fleetView(root, ctx);
  else if (r.name === "alerts") view = alertsView(root, ctx, query);
  else if (r.name === "sections") view = sectionsView(root, ctx, query);
  else if (r.name === "reports") view = reportsView(root, ctx, r);
  else view = stationView(root, ctx, r.id, query);
  document.title = `${t(r.name === "station" ? "station" : r.name)} · 清流`;
  renderHeader();
}

function navigate(href, replace) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  render();
  if (!replace) window.scrollTo(0, 0);
}

document.addEventListener("click", (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest("a");
  // getAttribute: on an SVG <a> (schematic nodes) .target and .href are objects, not strings.
  if (!a || a.getAttribute("target") || (a.getAttribute("href") || "").startsWith("#")) return;
  const url = new URL(a.getAttribute("href") || "", location.href);
  if (url.origin !== location.origin || !match(url.pathname)) return;
  ev.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener("popstate", render);
// A typed or linked /#/reports/… address; in-page anchors (#view, #dead-letters) leave the view alone.
window.addEventListener("hashchange", (ev) => {
  if (new URL(ev.newURL).hash.startsWith("#/") || new URL(ev.oldURL).hash.startsWith("#/")) render();
});

// Ages tick locally between updates.
setInterval(() => document.querySelectorAll("[data-age-base]").forEach(refreshAge), 5000);

setLang(getLang());
render();
loadOverview();
loadDeadLetters();
setInterval(loadDeadLetters, DEAD_LETTER_POLL_MS);
startLive({
  onStation: applyStation,
  onAlert: applyAlert,
  onOverview: applyOverview,
  onStatus: (status) => {
    state.liveStatus = status;
    refreshHeader();
  },
});
