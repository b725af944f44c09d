// Sections view (/sections?month=YYYY-MM): every assessed section over a month (this month by default, so far),
// with its GB 3838 class, target, met or not, main pollutants, CWQI and data completeness; the counts and shares
// by level; and each river upstream → downstream with its grade and the outfalls on it (over their discharge
// limits or within). Data: GET /api/assessment?period=month&ref=…, GET /api/outfalls.

import { getAssessment, getOutfalls } from "./api.js";
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
      s.county ? h("span", { lang: "zh-CN" }, s.county) : "—", // no English names on the official lists
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
        ` ${c.i_to_iii}/${c.classed}`, " · ", `${t("worse_than_v")} ${c.worse_than_v}`));
  };
  return h("section", { class: "summary shares", "aria-label": t("share_i_iii") },
    box("national"), box("provincial"), box("all"));
}

// An outfall in a river's chain: its name, and whether its latest values are within its discharge limits.
function outfallNode(o) {
  const state = !o.reporting || !Object.values(o.latest).some((v) => v.value != null) ? null
    : o.over.length ? "outfall_over" : "outfall_within";
  return h("span", { class: `flow-node outfall${o.over.length ? " off-target" : ""}`,
    "data-testid": `river-outfall-${o.id}`, "data-over": o.over.length ? "true" : "false",
    title: `${field(o, "enterprise")} · ${o.standard}` },
  h("span", { class: "muted small" }, t("outfall")), h("span", { lang: "zh-CN" }, o.name_zh),
  state ? h("span", { class: "muted small" }, t(state)) : null);
}

function rivers(body, outfalls) {
  const byId = new Map(body.sections.map((s) => [s.id, s]));
  const list = body.rivers.filter((r) => r.sections.length).map((r) => {
    // Sections and the outfalls on the river, upstream → downstream on the registry's order scale.
    const nodes = r.sections.map((sid) => byId.get(sid)).filter(Boolean)
      .map((s) => ({ order: s.order, node: h("span", { class: "flow-node", "data-testid": `river-node-${s.id}` },
        h("span", { lang: "zh-CN" }, s.name_zh), statusChip(s, null)) }))
      .concat(outfalls.filter((o) => o.river === r.id).map((o) => ({ order: o.order, node: outfallNode(o) })))
      .sort((a, b) => a.order - b.order);
    const chain = [];
    nodes.forEach(({ node }, i) => {
      if (i) chain.push(h("span", { class: "flow-arrow", "aria-hidden": "true" }, "→"));
      chain.push(node);
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

  Promise.all([getAssessment({ period: "month", ref: month }),
    getOutfalls().then((o) => o.outfalls, () => [])]).then(([data, outfalls]) => {
    if (!alive) return;
    const tableEl = table(COLS, data.sections.map(row), { class: "grid-table sections-table",
      "data-testid": "sections-table" });
    root.querySelector('[data-testid="sections-period"]').textContent =
      `${data.period.ref}${data.period.partial ? ` (${t("so_far")})` : ""}`;
    body.replaceChildren(
      counts(data),
      card("sections_title", { class: "card" }, h("div", { class: "table-scroll" }, tableEl)),
      card("river_view", { class: "card" }, h("p", { class: "muted small" }, tl("upstream_downstream")),
        rivers(data, outfalls)));
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
