// Fleet view: summary counts, the basin schematic and one row per station, upstream → downstream.

import { getFleetHealth } from "./api.js";
import { h } from "./dom.js";
import { fmtPct, fmtShort, fmtTime, t, tl } from "./i18n.js";
import { riverName, stationName } from "./names.js";
import { renderSchematic } from "./schematic.js";
import { ageSpan, card, cells, classChip, message, severityChip, stateChip, stationLink, table } from "./widgets.js";

const COLS = ["station", "river", "state", "data_age", "uptime_24h", "capture_24h", "backlog", "alerts",
  "current_class", "target_class"];
const HEALTH_REFRESH_MS = 60e3;

/** Stations in schematic order: basin by basin, river by river, upstream first; then any the rivers miss. */
export function orderedStations(overview) {
  const byId = new Map(overview.stations.map((st) => [st.id, st]));
  const rivers = new Map((overview.rivers || []).map((r) => [r.id, r]));
  const out = [];
  const seen = new Set();
  const add = (id) => {
    if (byId.has(id) && !seen.has(id)) {
      seen.add(id);
      out.push(byId.get(id));
    }
  };
  for (const b of overview.basins || []) for (const rid of b.rivers || []) (rivers.get(rid)?.stations || []).forEach(add);
  for (const r of overview.rivers || []) r.stations.forEach(add);
  overview.stations.forEach((st) => add(st.id));
  return out;
}

export function fleetView(root, ctx) {
  const summary = h("section", { class: "summary", "aria-label": t("fleet") });
  const schematicBox = h("div", { class: "schematic-box" });
  const toggle = h("div", { class: "toggle", role: "group", "aria-label": t("colour_by") });
  const tbody = h("tbody");
  const updated = h("p", { class: "muted small" });
  let lastWidth = 0;
  let health = new Map(); // station → its last 24 h uptime and capture, from first heard (/api/fleet/health)

  function renderSummary(counts) {
    const item = (key, value, cls) => h("div", { class: `count ${cls}`, "data-testid": `count-${key}` },
      h("span", { class: "num" }, value == null ? "—" : String(value)), h("span", { class: "lbl" }, tl(key)));
    summary.replaceChildren(
      item("online", counts.online, "c-online"),
      item("degraded", counts.degraded, "c-degraded"),
      item("offline", counts.offline, "c-offline"),
      item("open_alerts", counts.open_alerts, counts.open_alerts ? "c-alert" : ""),
      item("off_target", counts.off_target, counts.off_target ? "c-alert" : ""));
  }

  function renderToggle() {
    const btn = (mode, key) => h("button", {
      type: "button", class: "btn small", "aria-pressed": String(ctx.state.colourMode === mode),
      "data-testid": `colour-${mode}`,
      onclick: () => {
        ctx.setColourMode(mode);
        renderToggle();
        drawSchematic();
      },
    }, t(key));
    toggle.replaceChildren(h("span", { class: "muted" }, t("colour_by")), btn("state", "by_state"),
      btn("class", "by_class"));
  }

  function drawSchematic() {
    if (!ctx.state.overview) return;
    lastWidth = schematicBox.clientWidth || 600;
    schematicBox.replaceChildren(renderSchematic(ctx.state.overview, ctx.state.colourMode, lastWidth));
  }

  function row(st) {
    const alerts = st.open_alerts
      ? h("span", { class: "alerts-cell" }, String(st.open_alerts), " ", severityChip(st.worst_alert_severity))
      : "0";
    return h("tr", { "data-testid": `station-row-${st.id}`, "data-state": st.state },
      cells(COLS, [
        h("span", { class: "st-name" }, stationLink(st.id, stationName(st)),
          stationName(st) === st.id ? null : h("span", { class: "muted id" }, st.id)),
        riverName(st) || "—",
        stateChip(st.state, `station-state-${st.id}`),
        ageSpan(st, ctx.state.receivedAt.get(st.id)),
        ...healthCells(st.id),
        h("span", { class: st.backlog ? "warn-text" : "" }, String(st.backlog ?? "—")),
        alerts,
        h("span", { class: "cls-cell" }, classChip(st.current_class, `station-class-${st.id}`),
          st.off_target ? h("span", { class: "off-target" }, t("not_on_target")) : null),
        st.target_class || "—",
      ]));
  }

  // Below 90 % in warning colour; a station first heard within the 24 h says since when (its figures start there).
  function healthCells(id) {
    const hl = health.get(id);
    const since = hl && hl.first_heard ? t("since_first_heard").replace("{t}", fmtShort(hl.first_heard)) : null;
    const cell = (x, key) => h("span", { class: x != null && x < 0.9 ? "warn-text" : "",
      "data-testid": `${key}-${id}`, title: since }, fmtPct(x, true));
    const up = hl && hl.uptime_pct != null ? hl.uptime_pct / 100 : null;
    return [cell(up, "uptime"), cell(hl ? hl.capture_rate : null, "capture")];
  }

  async function loadHealth() {
    try {
      const body = await getFleetHealth();
      health = new Map((body.stations || []).map((x) => [x.id, x]));
      if (ctx.state.overview) tbody.replaceChildren(...orderedStations(ctx.state.overview).map(row));
    } catch {
      /* the columns stay "—"; the next round tries again */
    }
  }
  loadHealth();
  const healthTimer = setInterval(loadHealth, HEALTH_REFRESH_MS);

  function renderAll() {
    const ov = ctx.state.overview;
    if (!ov) return;
    renderSummary(ov.counts || {});
    drawSchematic();
    tbody.replaceChildren(...orderedStations(ov).map(row));
    updated.textContent = `${t("updated")} ${fmtTime(ov.generated_at, true)}`;
  }

  function renderStation(st) {
    renderSummary(ctx.state.overview.counts || {});
    drawSchematic();
    const old = tbody.querySelector(`[data-testid="station-row-${CSS.escape(st.id)}"]`);
    if (old) old.replaceWith(row(st));
    else tbody.replaceChildren(...orderedStations(ctx.state.overview).map(row));
  }

  renderToggle();
  const tableEl = table(COLS, [], { class: "grid-table stations" });
  tableEl.querySelector("tbody").replaceWith(tbody);
  root.append(
    summary,
    h("div", { class: "fleet-grid" },
      card("schematic", { class: "card schematic-card" },
        h("div", { class: "card-tools" }, toggle, h("span", { class: "muted small" }, tl("upstream_downstream"))),
        schematicBox, h("p", { class: "muted small ring-legend" }, t("ring_legend"))),
      card("stations", { class: "card stations-card" }, tableEl, updated)));
  if (ctx.state.overview) renderAll();
  else schematicBox.append(message(t("loading")));

  const ro = new ResizeObserver(() => {
    if (Math.abs((schematicBox.clientWidth || 0) - lastWidth) > 8) drawSchematic();
  });
  ro.observe(schematicBox);

  return {
    update(kind, data) {
      if (kind === "overview") renderAll();
      else if (kind === "station") renderStation(data);
    },
    destroy() {
      ro.disconnect();
      clearInterval(healthTimer);
    },
  };
}
