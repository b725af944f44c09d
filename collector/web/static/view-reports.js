// Reports view (/#/reports/<kind>/<period>): the bureau's products — 日预警 daily, 周研判 weekly, 月通报 monthly,
// 汛期排名 flood-season ranking. Choose a product and a date (the view maps the date to the product's period),
// read the product's page in a sandboxed frame, print it, download it as html/xlsx/docx/json; the archive of
// what was made is listed beside. Data: GET /api/reports?kind=, GET /api/reports/{kind}/{period}?format=&lang=.

import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { both, fmtPct, fmtTime, getLang, t, tl, toShanghaiLocal } from "./i18n.js";
import { card, cells, message, table } from "./widgets.js";

export const KINDS = ["daily", "weekly", "monthly", "flood"];
const FORMATS = ["html", "xlsx", "docx", "json"];
const FLOOD_FIRST_MONTH = 7; // the default season (July–September); a later season is still found in its year
const ARCHIVE_COLS = ["period", "made_at", "completeness", "figures"];
const DAY_MS = 86400000;

// The date last typed, kept while the period shown contains it: switching product then shows that date's
// period of the other product; without one, each product opens on its latest complete period.
let typedDate = null;

// ---- dates and periods (pure, in Asia/Shanghai local dates as "YYYY-MM-DD") --------------------------------

/** Today's date in Asia/Shanghai. */
export function today(now = new Date()) {
  return toShanghaiLocal(now).slice(0, 10);
}

function utcDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function addDays(iso, n) {
  return isoDay(new Date(utcDay(iso).getTime() + n * DAY_MS));
}

/** The ISO week of a date: "2026-W48" (the week belongs to the year of its Thursday). */
export function isoWeek(iso) {
  const d = utcDay(iso);
  const thursday = new Date(d.getTime() + (3 - ((d.getUTCDay() + 6) % 7)) * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / DAY_MS / 7) + 1;
  return `${year}-W${String(week).padStart(2, "0")}`;
}

/** The period of ``kind`` that contains the date, as the API names it. */
export function periodOf(kind, iso) {
  if (kind === "daily") return iso;
  if (kind === "weekly") return isoWeek(iso);
  if (kind === "monthly") return iso.slice(0, 7);
  return iso.slice(0, 4);
}

/** The first date of a period; null when it is not one of ``kind``. */
export function periodStart(kind, period) {
  const shapes = { daily: /^\d{4}-\d{2}-\d{2}$/, weekly: /^(\d{4})-W(\d{2})$/, monthly: /^\d{4}-\d{2}$/,
    flood: /^\d{4}$/ };
  const m = shapes[kind] && shapes[kind].exec(period || "");
  if (!m) return null;
  if (kind === "daily") return isoDay(utcDay(period)) === period ? period : null;
  if (kind === "monthly") return /-(0[1-9]|1[0-2])$/.test(period) ? `${period}-01` : null;
  if (kind === "flood") return `${period}-${String(FLOOD_FIRST_MONTH).padStart(2, "0")}-01`;
  const jan4 = utcDay(`${m[1]}-01-04`);
  const monday = addDays(isoDay(jan4), -((jan4.getUTCDay() + 6) % 7) + (Number(m[2]) - 1) * 7);
  return isoWeek(monday) === period ? monday : null;
}

/** What a product shows when no period is asked: the day, ISO week or month just ended; the flood season of
 * this year once it has begun, else last year's. */
export function defaultPeriod(kind, day) {
  if (kind === "daily") return addDays(day, -1);
  if (kind === "weekly") return isoWeek(addDays(day, -7));
  if (kind === "monthly") return addDays(`${day.slice(0, 7)}-01`, -1).slice(0, 7);
  const year = Number(day.slice(0, 4));
  return String(Number(day.slice(5, 7)) >= FLOOD_FIRST_MONTH ? year : year - 1);
}

export function reportHref(kind, period) {
  return `/#/reports/${kind}/${encodeURIComponent(period)}`;
}

export function productUrl(kind, period, format, lang) {
  const q = new URLSearchParams({ format });
  if (format !== "json") q.set("lang", lang);
  return `/api/reports/${kind}/${encodeURIComponent(period)}?${q}`;
}

async function getReports(kind) {
  const res = await fetch(`/api/reports?kind=${encodeURIComponent(kind)}`, {
    headers: { Accept: "application/json" }, cache: "no-store",
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || res.statusText);
  return data;
}

// ---- the view ------------------------------------------------------------------------------------------------

function kindLabel(kind) {
  return tl(`report_${kind}`);
}

// The archive's headline figures worth a glance (Report.figures), with their labels; shares are fractions.
const FIGURES = [["off_target", "fig_off_target"], ["at_warning", "fig_at_warning"], ["judged", "fig_judged"],
  ["ranked", "fig_judged"], ["share_I_III", "share_i_iii"], ["city_cwqi", "cwqi"],
  ["counties_to_act", "fig_counties"]];

function figuresText(figures) {
  const f = figures || {};
  return FIGURES.filter(([k]) => f[k] != null && !(Array.isArray(f[k]) && !f[k].length)).map(([k, label]) => {
    const v = f[k];
    const shown = Array.isArray(v) ? v.join("、") : k.startsWith("share_") ? fmtPct(v, true)
      : Number.isInteger(v) ? String(v) : Number(v).toFixed(2);
    return `${t(label)} ${shown}`;
  }).join(" · ");
}

function archiveRow(r, kind, period) {
  const current = r.period === period;
  return h("tr", { "data-testid": `archive-${r.kind}-${r.period}`, class: current ? "selected" : null },
    cells(ARCHIVE_COLS, [
      h("a", { href: reportHref(kind, r.period), "aria-current": current ? "page" : null }, r.period),
      fmtTime(r.made_at),
      r.partial ? `${fmtPct(r.completeness, true)} (${t("so_far")})` : fmtPct(r.completeness, true),
      h("span", { class: "muted small" }, figuresText(r.figures)),
    ]));
}

/** The API said no: its detail under a message in both languages (404: nothing to make for that period). */
function failure(key, detail) {
  return message(`${both(key)}${detail ? `: ${detail}` : ""}`, "error");
}

function errorDetail(text) {
  try {
    const body = JSON.parse(text);
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  } catch {
    /* not JSON */
  }
  return text.slice(0, 300);
}

export function reportsView(root, ctx, route) {
  const day = today();
  const kind = KINDS.includes(route.kind) ? route.kind : "daily";
  const asked = route.period ? decodeURIComponent(route.period) : null;
  const period = asked || defaultPeriod(kind, day);
  const start = periodStart(kind, period);
  const lang = getLang();
  // The address names what is shown (/#/reports → /#/reports/daily/<yesterday>), to bookmark or send on.
  if (route.kind !== kind || !asked) history.replaceState(null, "", reportHref(kind, period));
  if (typedDate && periodOf(kind, typedDate) !== period) typedDate = null;

  const go = (k, p) => ctx.navigate(reportHref(k, p), true);
  const kinds = h("div", { class: "toggle", role: "group", "aria-label": t("product") },
    KINDS.map((k) => h("button", {
      type: "button", class: "btn small", "aria-pressed": String(k === kind), "data-testid": `report-kind-${k}`,
      onclick: () => go(k, typedDate ? periodOf(k, typedDate) : defaultPeriod(k, day)),
    }, kindLabel(k))));
  const picker = h("input", {
    type: "date", value: typedDate || start || "", max: day, "data-testid": "report-date", "aria-label": t("date"),
    onchange: () => {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(picker.value)) return;
      typedDate = picker.value;
      go(kind, periodOf(kind, picker.value));
    },
  });
  const frame = h("iframe", {
    class: "report-frame", "data-testid": "report-frame", title: `${t(`report_${kind}`)} ${period}`,
    // The page is the API's own standalone HTML (no scripts); same origin so that it can be printed and sized.
    sandbox: "allow-same-origin allow-modals", hidden: true,
  });
  const status = h("div", { "data-testid": "report-status", role: "status" });
  const downloads = h("div", { class: "report-downloads", "data-testid": "report-downloads" },
    h("span", { class: "muted" }, t("download")),
    FORMATS.map((f) => h("a", {
      class: "btn small", href: productUrl(kind, period, f, lang), download: true, "data-testid": `download-${f}`,
    }, f)));
  const print = h("button", {
    type: "button", class: "btn small", "data-testid": "report-print", disabled: true,
    onclick: () => {
      try {
        frame.contentWindow.focus();
        frame.contentWindow.print();
      } catch {
        window.open(productUrl(kind, period, "html", lang), "_blank", "noopener");
      }
    },
  }, t("print"));
  const archive = h("div", { "data-testid": "report-archive" }, message(t("loading")));

  root.append(
    h("div", { class: "reports-view" },
      h("div", { class: "card-tools report-tools" },
        kinds,
        h("label", null, h("span", { class: "muted" }, t("date")), " ", picker),
        h("span", { class: "report-period", "data-testid": "report-period" }, `${t("period")} ${period}`),
        downloads, print),
      h("div", { class: "reports-grid" },
        card("report_archive", { class: "card report-archive" }, archive),
        h("section", { class: "card report-doc", "aria-label": t(`report_${kind}`) }, status, frame))));

  let alive = true;
  loadArchive();
  if (!start) {
    status.replaceChildren(failure("report_bad_period", period));
    downloads.hidden = true;
  } else if (start > day) {
    status.replaceChildren(failure("report_not_started", period));
    downloads.hidden = true;
  } else {
    status.replaceChildren(message(t("report_making")));
    frame.addEventListener("load", () => {
      if (!alive) return;
      const doc = frame.contentDocument;
      if (!doc || doc.contentType !== "text/html") {
        // The API answered with an error (JSON): say so in both languages, with its reason.
        const text = doc && doc.body ? doc.body.textContent : "";
        status.replaceChildren(failure("report_failed", errorDetail(text || "")));
        frame.hidden = true;
        return;
      }
      status.replaceChildren();
      frame.hidden = false;
      print.disabled = false;
      frame.style.height = `${doc.documentElement.scrollHeight + 24}px`; // the whole page, no inner scrolling
      frame.dataset.loaded = period;
      loadArchive(); // a product made on demand for a complete period is archived by now
    });
    frame.src = productUrl(kind, period, "html", lang);
  }

  function loadArchive() {
    getReports(kind).then((data) => {
      if (!alive) return;
      const list = data.reports || [];
      archive.replaceChildren(list.length
        ? h("div", { class: "table-scroll" }, table(ARCHIVE_COLS, list.map((r) => archiveRow(r, kind, period)),
          { class: "grid-table dense archive-table", "data-testid": "archive-table" }))
        : message(t("no_reports")));
    }).catch((err) => {
      if (alive) archive.replaceChildren(failure("load_failed", err.detail || err.message));
    });
  }

  return {
    update() {},
    destroy() {
      alive = false;
    },
  };
}
