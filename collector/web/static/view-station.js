// Station view: trend per parameter, analysers, controller signals, uptime and capture, agent, alert history.

import { ApiError, getAlerts, getHealth, getReadings, getStation } from "./api.js";
import { renderChart } from "./chart.js";
import { h } from "./dom.js";
import {
  field, flagName, fmtPct, fmtSeconds, fmtShort, fmtTime, fromShanghaiLocal, getLang, t, tl, toShanghaiLocal,
} from "./i18n.js";
import {
  ageSpan, card, cells, classChip, link, message, severityChip, stateChip, table,
} from "./widgets.js";
import { riverName, stationName } from "./names.js";
import { fmtAmount } from "./numbers.js";
import { reasonsText } from "./reasons.js";

const RANGES = { "24h": 24 * 3600e3, "7d": 7 * 24 * 3600e3, "30d": 30 * 24 * 3600e3 };
const DETAIL_REFRESH_MS = 5000;
// The parameters operators look at first: ammonia nitrogen, total phosphorus, CODMn, DO.
const PREFERRED = ["w21003", "w21011", "w01019", "w01009"];

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function paramName(code, catalogue, latest) {
  const p = (catalogue && catalogue.get(code)) || (latest && latest[code]) || null;
  return p ? field(p, "name") || code : code;
}

/** The target limit as text: "≤ 1", "≥ 5" for dissolved oxygen (higher is better), "6–9" for pH. */
export function fmtLimit(code, limit) {
  if (limit == null) return "—";
  if (Array.isArray(limit)) return limit.join("–");
  return `${code === "w01009" ? "≥" : "≤"} ${limit}`;
}

/** "22:43" today (Shanghai), "11-27 22:43" before; the full time as a tooltip. */
function shortTime(iso) {
  return h("time", { datetime: iso || null, title: fmtTime(iso, true), class: "nowrap" }, fmtShort(iso));
}

function dl(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v, attrs]) => [
    h("dt", null, tl(k)), h("dd", attrs || null, v)]));
}

// The station controller's register map (protocols/profiles/station_controller.toml).
const SIGNAL_UNITS = { sample_flow: "L/min", water_level: "m", enclosure_temp: "°C" };
const SAMPLING_STATES = ["sampling_idle", "sampling_active", "sampling_flushing", "sampling_no_water"];

/** One controller signal as text plus a good/bad mark; unknown keys are shown as they come. */
function signal(key, value) {
  const on = value === 1 || value === true;
  const known = {
    pump_running: [on ? "running" : "stopped", on],
    water_present: [on ? "present" : "absent", on],
    mains_power: [on ? "power_ok" : "power_off", on],
    on_battery: [on ? "yes" : "no", !on],
    door_open: [on ? "door_is_open" : "door_is_closed", !on],
  };
  if (key in SIGNAL_UNITS) {
    return h("span", { class: "sig", "data-signal": key }, value == null ? "—" : `${fmtSignal(value)} ${SIGNAL_UNITS[key]}`);
  }
  if (key === "sampling_state" && SAMPLING_STATES[value]) {
    const state = SAMPLING_STATES[value];
    return h("span", { class: `sig ${state === "sampling_no_water" ? "bad" : "ok"}`, "data-signal": key,
      "data-value": String(value) }, t(state));
  }
  if (key === "battery_pct") {
    return h("span", { class: value != null && value < 30 ? "sig bad" : "sig ok" }, value == null ? "—" : `${value} %`);
  }
  if (key in known && value != null) {
    const [label, good] = known[key];
    return h("span", { class: `sig ${good ? "ok" : "bad"}`, "data-signal": key, "data-value": String(value) }, t(label));
  }
  return h("span", { class: "sig" }, fmtSignal(value));
}

/** A signal value as read: whole numbers as they are, others to at most 3 significant decimals. */
export function fmtSignal(value) {
  if (value == null) return "—";
  if (typeof value === "number" && Number.isFinite(value) && !Number.isInteger(value)) {
    return String(+value.toFixed(Math.abs(value) >= 100 ? 1 : 2));
  }
  return String(value);
}

export function stationView(root, ctx, id, query) {
  let detail = null;
  let param = query.get("param") || null;
  const asked = query.get("range");
  let range = asked in RANGES || asked === "custom" ? asked : "24h";
  let custom = { from: Date.now() - RANGES["24h"], to: Date.now() };
  let readings = null;
  let refreshTimer = null;
  let lastRefresh = 0;
  let destroyed = false;
  const alerts = new Map();

  const head = h("section", { class: "card station-head" });
  const trendBody = h("div", { class: "trend-body" });
  const trendTools = h("div", { class: "card-tools trend-tools" });
  const latestBox = h("div");
  const devicesBox = h("div");
  const controllerBox = h("div");
  const agentBox = h("div");
  const uplinksBox = h("div", { "data-testid": "uplinks" });
  const healthBox = h("div");
  const transitionsBox = h("div", { class: "scroll" });
  const alertsBox = h("div", { class: "scroll" });

  function window_() {
    if (range === "custom") return custom;
    // The API takes whole seconds and its end is exclusive: rounded up, so that a reading of this very second is
    // in the range (rounded down, the newest reading could be left out of a chart that runs up to now).
    const to = Math.ceil(Date.now() / 1000) * 1000;
    return { from: to - RANGES[range], to };
  }

  function syncUrl() {
    const q = new URLSearchParams();
    if (param) q.set("param", param);
    if (range !== "24h") q.set("range", range);
    const s = q.toString();
    history.replaceState(null, "", location.pathname + (s ? `?${s}` : ""));
  }

  // ---- header and panels from the station detail ----

  function renderHead() {
    const st = detail;
    head.replaceChildren(
      h("div", { class: "head-main" },
        h("h1", null, stationName(st), h("span", { class: "muted id" }, st.id)),
        h("p", { class: "muted", "data-testid": "station-place" },
          [riverName(st), getLang() === "zh" ? st.county : null, t(st.level)].filter(Boolean).join(" · "))),
      h("div", { class: "head-chips" },
        h("div", null, h("span", { class: "muted" }, t("state")), stateChip(st.state, `station-state-${st.id}`)),
        h("div", null, h("span", { class: "muted" }, t("current_class")),
          classChip(st.current_class, `station-class-${st.id}`)),
        h("div", null, h("span", { class: "muted" }, t("target_class")), classChip(st.target_class)),
        h("div", null, h("span", { class: "muted" }, t("data_age")), ageSpan(st, ctx.state.receivedAt.get(st.id))),
        st.open_alerts ? h("div", null, h("span", { class: "muted" }, t("open_alerts")),
          link(`/alerts?station=${encodeURIComponent(st.id)}`, String(st.open_alerts))) : null));
  }

  function renderLatest() {
    const cols = ["parameter", "value", "flag", "current_class", "limit", "time"];
    const codes = Object.keys(detail.latest || {});
    const rows = codes.map((code) => {
      const v = detail.latest[code];
      const p = ctx.state.params && ctx.state.params.get(code);
      return h("tr", { class: code === param ? "selected" : "", "data-param": code },
        cells(cols, [
          h("button", { type: "button", class: "linkish", onclick: () => selectParam(code) },
            paramName(code, ctx.state.params, detail.latest)),
          h("span", { class: "nowrap", "data-testid": `latest-value-${code}` },
            fmtAmount(v.value, p ? p.decimals : null, v.unit)),
          h("span", { class: v.flag === "N" ? "" : "flag-bad", title: flagName(v.flag) }, v.flag,
            v.flag === "N" ? null : h("span", { class: "flag-name" }, ` ${flagName(v.flag)}`)),
          v.class ? classChip(v.class) : "—",
          fmtLimit(code, v.limit_target),
          shortTime(v.t),
        ]));
    });
    latestBox.replaceChildren(codes.length
      ? h("div", { class: "table-wrap" }, table(cols, rows, { class: "grid-table dense latest" }))
      : message(t("no_data")));
  }

  function renderDevices() {
    const cols = ["device", "state", "flag", "failures", "last_ok", "error"];
    const entries = Object.entries(detail.devices || {});
    const rows = entries.map(([name, d]) => h("tr", { "data-device": name }, cells(cols, [
      name,
      h("span", { class: `chip ${d.up ? "state-online" : "state-offline"}` }, t(d.up ? "up" : "down")),
      d.flag ? `${d.flag} ${d.flag === "N" ? "" : flagName(d.flag)}` : "—",
      String(d.failures ?? 0),
      shortTime(d.last_ok),
      d.error ? h("span", { class: "error-text", title: d.error }, d.error) : "",
    ])));
    devicesBox.replaceChildren(entries.length ? table(cols, rows) : message(t(offlineNote())));
  }

  function renderController() {
    const c = detail.controller || {};
    const order = ["pump_running", "water_present", "mains_power", "on_battery", "battery_pct", "door_open",
      "sample_flow", "water_level", "enclosure_temp", "sampling_state"];
    const keys = order.filter((k) => k in c).concat(Object.keys(c).filter((k) => !order.includes(k)));
    controllerBox.replaceChildren(keys.length
      ? h("dl", { class: "kv signals" }, keys.map((k) => [h("dt", null, order.includes(k) ? tl(k) : k),
        h("dd", null, signal(k, c[k]))]))
      : message(t(offlineNote())));
  }

  // An agent that went away (its will, or a clean stop) sends a status without devices or signals.
  function offlineNote() {
    return detail.state === "offline" && detail.last_status_at ? "offline_no_status" : "no_data";
  }

  function renderAgent() {
    const d = detail;
    const offsetBad = d.clock_offset_s != null && Math.abs(d.clock_offset_s) > 60;
    agentBox.replaceChildren(dl([
      ["backlog", String(d.backlog ?? "—"), { class: d.backlog ? "warn-text" : "", "data-testid": "agent-backlog" }],
      ["oldest_unsent", d.oldest_unsent ? fmtTime(d.oldest_unsent, true) : "—"],
      ["dropped", String(d.dropped ?? "—"), { class: d.dropped ? "warn-text" : "" }],
      ["clock_offset", fmtSeconds(d.clock_offset_s), { class: offsetBad ? "warn-text" : "" }],
      ["last_reading", fmtTime(d.last_reading_at, true)],
      ["last_status", fmtTime(d.last_status_at, true)],
      ["heartbeat", d.heartbeat_s == null ? "—" : `${d.heartbeat_s} s`],
      ["next_seq", String(d.next_seq ?? "—")],
      ["agent_version", d.agent_version || "—"],
    ]));
  }

  // HJ 212 platforms above the station (national, provincial): one line each, a backlog in warning colour.
  function renderUplinks() {
    const ups = detail.uplinks || {};
    const names = Object.keys(ups);
    uplinksBox.closest(".card")?.toggleAttribute("hidden", !names.length);
    uplinksBox.replaceChildren(...names.map((name) => {
      const u = ups[name];
      return h("div", { class: "uplink", "data-testid": `uplink-${name}` },
        h("strong", null, `${name} `),
        h("span", { class: u.connected ? "" : "warn-text" }, t(u.connected ? "uplink_connected" : "uplink_disconnected")),
        dl([
          ["backlog", String(u.backlog ?? 0), { class: u.alert ? "warn-text" : "" }],
          ["oldest_unsent", u.oldest_unsent ? fmtTime(u.oldest_unsent, true) : "—"],
          ["last_reply", u.last_reply ? fmtTime(u.last_reply, true) : "—"],
          ["retries", String(u.retries ?? 0)],
          ["refusals", String(u.refusals ?? 0), { class: u.refusals ? "warn-text" : "" }],
          ["lost", String(u.lost ?? 0), { class: u.lost ? "warn-text" : "" }],
        ]));
    }));
  }

  function renderTransitions() {
    const cols = ["time", "state", "reason"];
    const rows = (detail.transitions || []).map((tr) => h("tr", null, cells(cols, [
      fmtTime(tr.at, true),
      h("span", { class: "trans" }, stateChip(tr.from), " → ", stateChip(tr.to)),
      reasonsText(tr.reasons || tr.reason),
    ])));
    transitionsBox.replaceChildren(rows.length ? table(cols, rows) : message(t("no_data")));
  }

  function renderAll() {
    renderHead();
    renderLatest();
    renderDevices();
    renderController();
    renderAgent();
    renderUplinks();
    renderTransitions();
  }

  // ---- trend ----

  function renderTrendTools() {
    const codes = Object.keys(detail.latest || {});
    if (ctx.state.params) for (const code of ctx.state.params.keys()) if (!codes.includes(code)) codes.push(code);
    const select = h("select", { "data-testid": "param-select", "aria-label": t("parameter"),
      onchange: (ev) => selectParam(ev.target.value) },
    codes.map((code) => h("option", { value: code, selected: code === param },
      paramName(code, ctx.state.params, detail.latest))));
    const rangeBtn = (key) => h("button", {
      type: "button", class: "btn small", "aria-pressed": String(range === key), "data-testid": `range-${key}`,
      onclick: () => {
        range = key;
        if (key === "custom") custom = window_();
        renderTrendTools();
        if (key !== "custom") loadSeries();
      },
    }, t(`range_${key}`));
    const extra = [];
    if (range === "custom") {
      const from = h("input", { type: "datetime-local", value: toShanghaiLocal(new Date(custom.from)),
        "aria-label": t("from"), "data-testid": "custom-from" });
      const to = h("input", { type: "datetime-local", value: toShanghaiLocal(new Date(custom.to)),
        "aria-label": t("to"), "data-testid": "custom-to" });
      extra.push(h("form", { class: "custom", onsubmit: (ev) => {
        ev.preventDefault();
        const f = fromShanghaiLocal(from.value);
        const tt = fromShanghaiLocal(to.value);
        if (f && tt && tt > f) {
          custom = { from: f.getTime(), to: tt.getTime() };
          loadSeries();
        }
      } }, from, h("span", null, "–"), to, h("button", { type: "submit", class: "btn small" }, t("apply"))));
    }
    trendTools.replaceChildren(select, h("div", { class: "toggle", role: "group" },
      ["24h", "7d", "30d", "custom"].map(rangeBtn)), ...extra);
  }

  function drawChart() {
    if (!readings) return;
    const w = window_();
    const p = ctx.state.params && ctx.state.params.get(param);
    trendBody.replaceChildren(renderChart({
      readings: readings.readings || [], limits: readings.limits, target_class: readings.target_class,
      unit: readings.unit, decimals: p ? p.decimals : null, name: paramName(param, ctx.state.params, detail.latest),
      from: w.from, to: w.to, bucket_s: readings.bucket_s,
    }, trendBody.clientWidth || 600));
  }

  let seriesToken = 0;
  async function loadSeries() {
    syncUrl();
    if (!param) {
      trendBody.replaceChildren(message(t("no_data")));
      return;
    }
    const w = window_();
    const mine = ++seriesToken;
    trendBody.replaceChildren(message(t("loading")));
    healthBox.replaceChildren(message(t("loading")));
    const [r, hl] = await Promise.allSettled([
      getReadings(id, param, iso(w.from), iso(w.to)), getHealth(id, iso(w.from), iso(w.to))]);
    if (destroyed || mine !== seriesToken) return;
    if (r.status === "fulfilled") {
      readings = r.value;
      drawChart();
    } else {
      readings = null;
      trendBody.replaceChildren(message(`${t("load_failed")}: ${r.reason.message}`, "error"));
    }
    if (hl.status === "fulfilled") renderHealth(hl.value);
    else healthBox.replaceChildren(message(`${t("load_failed")}: ${hl.reason.message}`, "error"));
  }

  function selectParam(code) {
    param = code;
    renderTrendTools();
    renderLatest();
    loadSeries();
  }

  function renderHealth(hl) {
    const cols = ["parameter", "expected", "received", "valid", "capture_rate", "valid_rate"];
    const rows = (hl.params || []).map((p) => h("tr", null, cells(cols, [
      paramName(p.param, ctx.state.params, detail.latest), String(p.expected), String(p.received), String(p.valid),
      fmtPct(p.capture_rate, true), fmtPct(p.valid_rate, true)])));
    const low = (x) => (x != null && x < 0.9 ? "warn-text" : "");
    // A station first heard inside the window is judged from then on (the API clips the window).
    const since = hl.first_heard ? h("p", { class: "muted small", "data-testid": "health-since" },
      t("since_first_heard").replace("{t}", fmtShort(hl.first_heard))) : null;
    healthBox.replaceChildren(...[
      since,
      h("div", { class: "big-nums" },
        h("div", { "data-testid": "health-uptime", class: low(hl.uptime_pct == null ? null : hl.uptime_pct / 100) },
          h("span", { class: "num" }, fmtPct(hl.uptime_pct, false)), h("span", { class: "lbl" }, tl("uptime"))),
        h("div", { "data-testid": "health-capture", class: low(hl.capture_rate) },
          h("span", { class: "num" }, fmtPct(hl.capture_rate, true)), h("span", { class: "lbl" }, tl("capture_rate"))),
        h("div", { class: low(hl.valid_rate) },
          h("span", { class: "num" }, fmtPct(hl.valid_rate, true)), h("span", { class: "lbl" }, tl("valid_rate")))),
      rows.length ? h("div", { class: "table-wrap" }, table(cols, rows, { class: "grid-table dense" })) : null,
      (hl.excluded || []).length
        ? h("div", { class: "excluded" }, h("h3", null, tl("excluded")), h("ul", null, hl.excluded.map((x) =>
          h("li", null, `${fmtTime(x.from)} – ${fmtTime(x.to)} · ${t(x.reason)}`))))
        : null,
    ].filter(Boolean)); // replaceChildren would write a null as the text "null"
  }

  // ---- alerts ----

  function renderAlerts() {
    const cols = ["severity", "alert", "state", "opened_at", "acked", "resolved_at"];
    const list = [...alerts.values()].sort((a, b) => (a.opened_at < b.opened_at ? 1 : -1));
    const acked = (a) => (a.acked_at
      ? h("span", { class: "acked" }, h("span", null, `${fmtShort(a.acked_at)}${a.acked_by ? ` · ${a.acked_by}` : ""}`),
        a.ack_note ? h("span", { class: "muted small note" }, a.ack_note) : null)
      : "—");
    const rows = list.map((a) => h("tr", { "data-testid": `station-alert-${a.id}`, "data-state": a.state },
      cells(cols, [
        severityChip(a.severity), field(a, "title"), h("span", { class: "nowrap" }, t(`tab_${a.state}`)),
        shortTime(a.opened_at), acked(a), a.resolved_at ? shortTime(a.resolved_at) : "—",
      ])));
    alertsBox.replaceChildren(rows.length ? table(cols, rows) : message(t("no_alerts")),
      h("p", null, link(`/alerts?station=${encodeURIComponent(id)}`, t("alerts"), " →")));
  }

  async function loadAlerts() {
    try {
      const res = await getAlerts({ station: id, limit: 50 });
      if (destroyed) return;
      alerts.clear();
      for (const a of res.alerts || []) alerts.set(a.id, a);
      renderAlerts();
    } catch (err) {
      alertsBox.replaceChildren(message(`${t("load_failed")}: ${err.message}`, "error"));
    }
  }

  // ---- loading and live updates ----

  async function loadDetail() {
    lastRefresh = Date.now();
    const fresh = await getStation(id);
    if (destroyed) return;
    detail = fresh;
    ctx.state.receivedAt.set(id, Date.now());
    renderAll();
  }

  async function start() {
    root.replaceChildren(message(t("loading")));
    try {
      await Promise.all([loadDetail(), ctx.params().catch(() => null)]);
    } catch (err) {
      const unknown = err instanceof ApiError && err.status === 404;
      root.replaceChildren(h("section", { class: "card" },
        message(unknown ? `${t("unknown_station")}: ${id}` : `${t("load_failed")}: ${err.message}`, "error"),
        h("p", null, link("/", t("back")))));
      return;
    }
    if (destroyed) return;
    if (!param || !(param in (detail.latest || {}) || (ctx.state.params && ctx.state.params.has(param)))) {
      const codes = Object.keys(detail.latest || {});
      param = PREFERRED.find((c) => codes.includes(c))
        || codes.find((c) => detail.latest[c].limit_target != null) || codes[0]
        || PREFERRED[0]; // no data yet: an empty chart with its limits, and the health panel, still load
    }
    root.replaceChildren(
      head,
      h("div", { class: "station-grid" },
        card("trend", { class: "card trend-card" }, trendTools, trendBody),
        card("latest", { class: "card" }, latestBox),
        card("health", { class: "card" }, healthBox),
        card("devices", { class: "card" }, devicesBox),
        card("controller", { class: "card" }, controllerBox),
        card("agent", { class: "card" }, agentBox),
        card("uplinks", { class: "card" }, uplinksBox),
        card("alert_history", { class: "card" }, alertsBox),
        card("transitions", { class: "card" }, transitionsBox)));
    renderAll();
    renderTrendTools();
    loadSeries();
    loadAlerts();
  }

  function onSummary(st) {
    if (!detail || st.id !== id) return;
    // Append the new latest value of the charted parameter when the range runs up to now.
    const prev = detail.latest && detail.latest[param];
    const next = st.latest && st.latest[param];
    if (readings && range !== "custom" && next && (!prev || next.t !== prev.t)) {
      readings.readings = (readings.readings || []).concat([{ t: next.t, value: next.value, flag: next.flag }]);
      drawChart();
    }
    detail = { ...detail, ...st };
    renderHead();
    renderLatest();
    renderAgent();
    // Devices, controller and transitions come only with the detail: refetch, at most every few seconds.
    if (!refreshTimer) {
      const wait = Math.max(0, DETAIL_REFRESH_MS - (Date.now() - lastRefresh));
      refreshTimer = setTimeout(() => {
        refreshTimer = null;
        loadDetail().catch(() => null);
      }, wait);
    }
  }

  const ro = new ResizeObserver(() => {
    const chart = trendBody.querySelector("svg");
    if (chart && Math.abs(Number(chart.getAttribute("width")) - trendBody.clientWidth) > 8) drawChart();
  });
  ro.observe(trendBody);
  start();

  return {
    update(kind, data) {
      if (kind === "station") onSummary(data);
      else if (kind === "overview") {
        const st = (data.stations || []).find((x) => x.id === id);
        if (st) onSummary(st);
      } else if (kind === "alert" && data.station === id) {
        alerts.set(data.id, data);
        renderAlerts();
      }
    },
    destroy() {
      destroyed = true;
      ro.disconnect();
      if (refreshTimer) clearTimeout(refreshTimer);
    },
  };
}
