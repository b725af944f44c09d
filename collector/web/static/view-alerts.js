// Alerts view: open / acknowledged / resolved tabs, filters, acknowledge with the operator's token; below,
// the rejected messages (dead letters) the collector quarantined.

import { ApiError, ackAlert, getAlerts, getToken } from "./api.js";
import { h } from "./dom.js";
import { field, fmtTime, t, tl } from "./i18n.js";
import { cells, message, severityChip, stationLink, table } from "./widgets.js";
import { auditCard } from "./audit-panel.js";
import { stationName } from "./names.js";

const TABS = ["open", "acknowledged", "resolved"];
const SEVERITIES = ["critical", "warning", "info"];
const DEAD_COLS = ["station", "reason", "last_seen", "times", "error"];
const DEAD_SHOWN = 20;

export function alertsView(root, ctx, query) {
  let tab = TABS.includes(query.get("state")) ? query.get("state") : "open";
  const filters = {
    station: query.get("station") || "", severity: query.get("severity") || "", param: query.get("param") || "",
  };
  const alerts = new Map();
  let destroyed = false;
  let loadToken = 0;

  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": t("alerts") });
  const filterBox = h("form", { class: "filters", onsubmit: (ev) => ev.preventDefault() });
  const status = h("p", { class: "msg", role: "status", "aria-live": "polite" });
  const listBox = h("div", { class: "alerts-list", role: "tabpanel" });

  const cols = () => ["severity", "station", "alert", "parameter", "opened_at",
    tab === "acknowledged" ? "acked" : tab === "resolved" ? "resolved_at" : "last_value", ""];

  function syncUrl() {
    const q = new URLSearchParams();
    if (tab !== "open") q.set("state", tab);
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    const s = q.toString();
    history.replaceState(null, "", `/alerts${s ? `?${s}` : ""}${location.hash}`);
  }

  function matches(a) {
    return a.state === tab && (!filters.station || a.station === filters.station)
      && (!filters.severity || a.severity === filters.severity) && (!filters.param || a.param === filters.param);
  }

  function paramLabel(code) {
    if (!code) return "—";
    const p = ctx.state.params && ctx.state.params.get(code);
    return p ? field(p, "name") : code;
  }

  function renderTabs() {
    tabs.replaceChildren(...TABS.map((key) => h("button", {
      type: "button", role: "tab", class: "tab", "aria-selected": String(key === tab), "data-testid": `tab-${key}`,
      onclick: () => {
        tab = key;
        renderTabs();
        load();
      },
    }, tl(`tab_${key}`))));
  }

  function select(name, label, options) {
    return h("label", null, h("span", null, tl(label)), h("select", {
      name, "data-testid": `filter-${name}`,
      onchange: (ev) => {
        filters[name] = ev.target.value;
        if (name === "param") {
          syncUrl();
          renderList();
        } else load();
      },
    }, h("option", { value: "" }, t("all")),
    options.map(([value, text]) => h("option", { value, selected: value === filters[name] }, text))));
  }

  function renderFilters() {
    const stations = ctx.state.overview ? ctx.state.overview.stations : [];
    const params = ctx.state.params ? [...ctx.state.params.values()] : [];
    filterBox.replaceChildren(
      select("station", "station", stations.map((st) => [st.id, stationName(st)])),
      select("severity", "severity", SEVERITIES.map((s) => [s, t(s)])),
      select("param", "parameter", params.map((p) => [p.code, field(p, "name")])));
  }

  async function acknowledge(a, button, noteInput) {
    if (!getToken() && !(await ctx.login())) return;
    button.disabled = true;
    const note = noteInput ? noteInput.value.trim() : "";
    try {
      let updated;
      try {
        updated = await ackAlert(a.id, note);
      } catch (err) {
        // A token that expired or was revoked: ask once more, then retry.
        if (!(err instanceof ApiError && err.status === 401) || !(await ctx.login())) throw err;
        updated = await ackAlert(a.id, note);
      }
      status.className = "msg ok";
      status.textContent = `${t("tab_acknowledged")}: ${field(updated, "title")} (${stationName(updated, "station")})`;
      ctx.applyAlert(updated);
      audit.reload();
    } catch (err) {
      status.className = "msg error";
      status.textContent = `${t("ack_failed")}: ${err instanceof ApiError ? err.detail : err.message}`;
      if (err instanceof ApiError && err.status === 409) load();
      button.disabled = false;
    }
  }

  function row(a) {
    const c = cols();
    const last = tab === "acknowledged" ? ackedText(a)
      : tab === "resolved" ? fmtTime(a.resolved_at)
        : h("span", { class: "nowrap", "data-testid": `last-value-${a.id}` }, field(a, "last_value") || "—");
    let action = "";
    if (a.state === "open") {
      // An optional note for the record (who acknowledged, when and why is kept with the alert).
      const note = h("input", { type: "text", class: "ack-note", maxlength: 1000, placeholder: t("note_optional"),
        "aria-label": t("note"), "data-testid": `ack-note-${a.id}` });
      const button = h("button", { type: "submit", class: "btn small primary", "data-testid": `ack-button-${a.id}` },
        t("ack"));
      action = h("form", { class: "ack-form", onsubmit: (ev) => {
        ev.preventDefault();
        acknowledge(a, button, note);
      } }, note, button);
    }
    return h("tr", { "data-testid": `alert-row-${a.id}`, "data-state": a.state, class: `sev-row-${a.severity}` },
      cells(c, [
        severityChip(a.severity),
        stationLink(a.station, stationName(a, "station")),
        h("span", { class: "alert-title" }, h("strong", null, field(a, "title")),
          field(a, "message") ? h("span", { class: "muted small" }, field(a, "message")) : null,
          // The flood-season judgement of an exceedance (class, multiple, duration, upstream, trend, validity).
          a.supervision ? h("span", { class: "muted small supervision", "data-testid": `supervision-${a.id}` },
            field(a.supervision, "text")) : null,
          // The outfalls upstream of a section's exceedance, those over their limits first.
          a.sources && a.sources.outfalls && a.sources.outfalls.length
            ? h("span", { class: "muted small sources", "data-testid": `sources-${a.id}` },
              `${field(a.sources, "heading")}: ${field(a.sources, "text")}`) : null),
        paramLabel(a.param),
        fmtTime(a.opened_at),
        last,
        action,
      ]));
  }

  function ackedText(a) {
    return h("span", { class: "acked" },
      h("span", null, `${fmtTime(a.acked_at)}${a.acked_by ? ` · ${a.acked_by}` : ""}`),
      a.ack_note ? h("span", { class: "muted small note" }, a.ack_note) : null);
  }

  const deadBox = h("div", { class: "dead-list" });

  function deadRow(d) {
    const st = ctx.state.overview ? ctx.state.overview.stations.find((x) => x.id === d.station) : null;
    return h("tr", { "data-testid": `dead-letter-${d.id}` }, cells(DEAD_COLS, [
      d.station ? stationLink(d.station, st ? stationName(st) : d.station) : "—",
      h("code", null, d.reason),
      fmtTime(d.last_seen, true),
      String(d.count),
      h("span", { class: "muted small dead-error", title: d.preview || "" }, d.error || ""),
    ]));
  }

  function renderDead() {
    const d = ctx.state.deadLetters;
    if (!d) {
      deadBox.replaceChildren(message(t("loading")));
      return;
    }
    const items = (d.items || []).slice(0, DEAD_SHOWN);
    const totals = Object.entries(d.counts || {}).map(([reason, n]) => `${reason} ${n}`).join(" · ");
    // replaceChildren turns a null argument into the text "null": pass only the nodes there are.
    const parts = [items.length ? table(DEAD_COLS, items.map(deadRow), { "data-testid": "dead-letters-table" })
      : message(t("no_dead_letters"))];
    if (totals) {
      parts.push(h("p", { class: "muted small", "data-testid": "dead-letters-totals" },
        `${t("dead_letters_total")}: ${totals}`));
    }
    deadBox.replaceChildren(...parts);
  }

  function renderList() {
    const list = [...alerts.values()].filter(matches).sort((a, b) => (a.opened_at < b.opened_at ? 1 : -1));
    listBox.replaceChildren(list.length
      ? table(cols(), list.map(row), { "data-testid": "alerts-table" })
      : message(t("no_alerts")));
  }

  async function load() {
    syncUrl();
    const mine = ++loadToken;
    listBox.replaceChildren(message(t("loading")));
    try {
      const res = await getAlerts({ state: tab, station: filters.station, severity: filters.severity, limit: 500 });
      if (destroyed || mine !== loadToken) return;
      alerts.clear();
      for (const a of res.alerts || []) alerts.set(a.id, a);
      renderList();
    } catch (err) {
      if (mine === loadToken) listBox.replaceChildren(message(`${t("load_failed")}: ${err.message}`, "error"));
    }
  }

  function onAlert(a) {
    const had = listBox.querySelector(`[data-testid="alert-row-${CSS.escape(String(a.id))}"]`);
    const focused = had && had.contains(document.activeElement);
    alerts.set(a.id, a);
    if (!matches(a) && !had) return;
    renderList();
    if (focused) {
      // Keep the keyboard user in the list after their row moved away.
      const next = listBox.querySelector("button[data-testid^='ack-button-']") || listBox.querySelector("a");
      if (next) next.focus();
    }
  }

  renderTabs();
  renderFilters();
  root.append(h("section", { class: "card alerts-card" }, h("h1", null, tl("alerts")), tabs, filterBox, status,
    listBox));
  root.append(h("section", { class: "card dead-card", id: "dead-letters", "data-testid": "dead-letters" },
    h("h2", null, tl("dead_letters")), h("p", { class: "muted small" }, t("dead_letters_hint")), deadBox));
  const audit = auditCard(); // who acknowledged and commanded what (issue 16)
  root.append(audit.el);
  renderDead();
  if (location.hash === "#dead-letters") document.getElementById("dead-letters").scrollIntoView();
  load();
  ctx.loadDeadLetters();
  ctx.params().then(() => {
    if (destroyed) return;
    renderFilters();
    if (alerts.size) renderList(); // parameter names replace the codes
  }).catch(() => null);

  return {
    update(kind, data) {
      if (kind === "alert") onAlert(data);
      else if (kind === "dead_letters") renderDead();
      else if (kind === "overview") {
        renderFilters();
        renderDead(); // station names
      }
    },
    destroy() {
      destroyed = true;
    },
  };
}
