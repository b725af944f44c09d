// Sections view (/sections?month=YYYY-MM): every assessed section over a month (this month by default, so far),
// with its GB 3838 class, target, met or not, main pollutants, CWQI and data completeness; the counts and shares
// by level; and each river upstream → downstream with its grade. Data: GET /api/assessment?period=month&ref=….

import { getAssessment } from "./api.js";
import { h } from "./dom.js";
import { field, fmtPct, getLang, t, tl, toShanghaiLocal } from "./i18n.js";
import { card, cells, classChip, message, table } from "./widgets.js";

const COLS = ["section", "river", "level", "county", "wq_class", "target_class", "met", "main_pollutants", "cwqi",
  "completeness"];
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** "YYYY-MM" of now in Asia/Shanghai. */
export function currentMonth(now = new Date()) {
  return toShanghaiLocal(now).slice(0, 7);
}

/** A rounded figure as the API rounded it, with its decimals ("3.8" at 2 places → "3.80"). */
export function fixed(value, places) {
  return value == null || !Number.isFinite(value) ? "—" : value.toFixed(places);
}

function statusChip(s, testid) {
  if (s.class) return classChip(s.class, testid);
  const key = s.not_measured === "dry" ? "no_water" : s.not_measured === "ice" ? "ice" : "no_data";
  return h("span", { class: "chip cls-none", "data-testid": testid, "data-class": "" }, t(key));
}

function sectionName(s) {
  // Names are the official Chinese ones in both languages; English mode adds the registry's English name.
  return h("span", { class: "st-name" }, h("span", { lang: "zh-CN" }, s.name_zh),
    getLang() === "en" && s.name_en ? h("span", { class: "muted id" }, s.name_en) : null);
}

function met(s) {
  if (s.meets_target == null) return "—";
  return s.meets_target ? h("span", { class: "met" }, t("target_met")) : h("span", { class: "off-target" }, t("not_on_target"));
}

function row(s) {
  const pollutants = getLang() === "zh" ? s.main_pollutants_zh : s.main_pollutants_en;
  return h("tr", { "data-testid": `section-row-${s.id}`, "data-class": s.class || "" },
    cells(COLS, [
      sectionName(s),
      field(s, "river") || s.river,
      t(s.level),
      s.county || "—",
      statusChip(s, `section-class-${s.id}`),
      s.target,
      met(s),
      pollutants || "—",
      s.cwqi ? fixed(s.cwqi.value, 2) : "—",
      fmtPct(s.completeness, true),
    ]));
}

function counts(body) {
  const box = (scope) => {
    const c = body.counts[scope];
    return h("div", { class: "count", "data-testid": `share-${scope}` },
      h("span", { class: "num" }, c.percent_i_to_iii == null ? "—" : `${fixed(c.percent_i_to_iii, 1)} %`),
      h("span", { class: "lbl" }, tl(scope === "all" ? "all_sections" : scope), " · ", t("share_i_iii"),
        ` ${c.i_to_iii}/${c.classed}`, " · ", `劣V ${c.worse_than_v}`));
  };
  return h("section", { class: "summary shares", "aria-label": t("share_i_iii") },
    box("national"), box("provincial"), box("all"));
}

function rivers(body) {
  const byId = new Map(body.sections.map((s) => [s.id, s]));
  const list = body.rivers.filter((r) => r.sections.length).map((r) => {
    const chain = [];
    r.sections.forEach((sid, i) => {
      const s = byId.get(sid);
      if (!s) return;
      if (i) chain.push(h("span", { class: "flow-arrow", "aria-hidden": "true" }, "→"));
      chain.push(h("span", { class: "flow-node", "data-testid": `river-node-${sid}` },
        h("span", { lang: "zh-CN" }, s.name_zh), statusChip(s, null)));
    });
    const grade = r.grade
      ? h("span", { class: "muted small" }, `${getLang() === "zh" ? r.grade.label_zh : r.grade.label_en}`
        + ` · ${t("share_i_iii")} ${fixed(r.grade.percent_i_to_iii, 1)} %`)
      : null;
    return h("li", { "data-testid": `river-${r.id}` },
      h("div", { class: "flow-head" }, h("strong", { lang: "zh-CN" }, r.name_zh),
        getLang() === "en" ? h("span", { class: "muted" }, ` ${r.name_en}`) : null, " ", grade),
      h("div", { class: "flow" }, chain));
  });
  return h("ul", { class: "river-flows" }, list);
}

export function sectionsView(root, ctx, query) {
  const asked = query.get("month");
  const month = asked && MONTH.test(asked) ? asked : currentMonth();
  const picker = h("input", {
    type: "month", value: month, "data-testid": "sections-month", "aria-label": t("month"),
    onchange: () => {
      if (MONTH.test(picker.value)) ctx.navigate(`/sections?month=${picker.value}`, true);
    },
  });
  const body = h("div", { class: "sections-body" }, message(t("loading")));
  root.append(
    h("div", { class: "card-tools" }, h("label", null, h("span", { class: "muted" }, t("month")), " ", picker),
      h("span", { class: "muted small", "data-testid": "sections-period" })),
    body);
  let alive = true;

  getAssessment({ period: "month", ref: month }).then((data) => {
    if (!alive) return;
    const tableEl = table(COLS, data.sections.map(row), { class: "grid-table sections-table",
      "data-testid": "sections-table" });
    root.querySelector('[data-testid="sections-period"]').textContent =
      `${data.period.ref}${data.period.partial ? ` (${t("so_far")})` : ""}`;
    body.replaceChildren(
      counts(data),
      card("sections_title", { class: "card" }, h("div", { class: "table-scroll" }, tableEl)),
      card("river_view", { class: "card" }, h("p", { class: "muted small" }, tl("upstream_downstream")),
        rivers(data)));
  }).catch((err) => {
    if (alive) body.replaceChildren(message(`${t("load_failed")}: ${err.detail || err.message}`, "error"));
  });

  return {
    update() {},
    destroy() {
      alive = false;
    },
  };
}
