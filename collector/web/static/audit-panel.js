// The audit log panel (GET /api/audit): who acknowledged, commented or commanded what, when (Shanghai time) and
// from where. Read-only: the collector has no route that changes the log.

import { getAudit } from "./api.js";
import { h } from "./dom.js";
import { fmtTime, t, tl } from "./i18n.js";
import { cells, message, table } from "./widgets.js";

const COLS = ["time", "who", "role", "address", "action", "target", "detail"];
const SHOWN = 50;

function detailText(detail) {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(" · ");
}

function row(e) {
  return h("tr", { "data-testid": `audit-row-${e.id}` }, cells(COLS, [
    fmtTime(e.at, true), e.who, e.role, e.address, e.action, e.target,
    h("span", { class: "muted small" }, detailText(e.detail)),
  ]));
}

/** A card that loads the newest entries; ``reload()`` fetches them again (after an ack, say). */
export function auditCard() {
  const box = h("div", null, message(t("loading")));
  const el = h("section", { class: "card audit-card", id: "audit", "data-testid": "audit-log" },
    h("h2", null, tl("audit")), h("p", { class: "muted small" }, t("audit_hint")), box);
  async function reload() {
    try {
      const res = await getAudit({ limit: SHOWN });
      const entries = res.entries || [];
      box.replaceChildren(entries.length ? table(COLS, entries.map(row), { "data-testid": "audit-table" })
        : message(t("no_audit")));
    } catch (err) {
      box.replaceChildren(message(`${t("load_failed")}: ${err.message}`, "error"));
    }
  }
  reload();
  return { el, reload };
}
