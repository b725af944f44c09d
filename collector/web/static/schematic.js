// The basin schematic: each river a line flowing left (upstream) to right into its main stem (黄河 / 海河),
// each station a node on it in the order /api/overview gives, coloured by state or by water class.

import { CLASS_COLOURS, NO_DATA_COLOUR, STATE_COLOURS, inkOn } from "./colours.js";
import { s } from "./dom.js";
import { field, getLang, t } from "./i18n.js";
import { stationName } from "./names.js";

const ROW = 70;
const HEAD = 30;

function mainStem(basin) {
  // "黄河流域" → "黄河", "Yellow River basin" → "Yellow River": the river the tributaries flow into.
  return {
    zh: (basin.name_zh || "").replace(/流域$/, ""),
    en: (basin.name_en || "").replace(/\s*basin$/i, ""),
  };
}

function nodeLook(st, mode) {
  if (!st) return { fill: NO_DATA_COLOUR, text: t("no_data") };
  if (mode === "class") {
    const cls = st.current_class;
    return { fill: cls ? CLASS_COLOURS[cls] || NO_DATA_COLOUR : NO_DATA_COLOUR, text: cls || t("no_data"), inner: cls };
  }
  const state = st.state || "unknown";
  return { fill: STATE_COLOURS[state] || STATE_COLOURS.unknown, text: t(state) };
}

/** A label cut to about ``width`` px at the node font (CJK ≈ 13 px, Latin ≈ 7 px), with "…" when cut. */
export function fitLabel(text, width) {
  let used = 0;
  const chars = [...(text || "")];
  for (let i = 0; i < chars.length; i += 1) {
    used += chars[i].charCodeAt(0) > 0x2e80 ? 13 : 7;
    if (used > width) return chars.slice(0, Math.max(1, i - 1)).join("") + "…";
  }
  return text || "";
}

/** The rivers grouped by basin, plus a group for stations no river lists. */
function layoutGroups(overview) {
  const rivers = new Map((overview.rivers || []).map((r) => [r.id, r]));
  const groups = [];
  const placed = new Set();
  for (const basin of overview.basins || []) {
    const rs = (basin.rivers || []).map((id) => rivers.get(id)).filter(Boolean);
    rs.forEach((r) => r.stations.forEach((id) => placed.add(id)));
    if (rs.length) groups.push({ basin, rivers: rs });
  }
  const loose = (overview.stations || []).map((st) => st.id).filter((id) => !placed.has(id));
  if (loose.length) {
    groups.push({ basin: { id: "other", name_zh: "其他", name_en: "Other" }, rivers: [
      { id: "other", name_zh: "其他", name_en: "other", stations: loose }], loose: true });
  }
  return groups;
}

export function renderSchematic(overview, mode, width) {
  const W = Math.max(320, Math.floor(width));
  const narrow = W < 460;
  const labelW = narrow ? 62 : getLang() === "en" ? 104 : 96; // English river names are longer
  const stemX = W - (narrow ? 26 : 40);
  const groups = layoutGroups(overview);
  const byId = new Map((overview.stations || []).map((st) => [st.id, st]));
  const H = groups.reduce((acc, g) => acc + HEAD + g.rivers.length * ROW + 12, 8);
  const svg = s("svg", {
    class: "schematic", viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-testid": "basin-schematic",
    "data-mode": mode, role: "group", "aria-label": t("schematic"),
  });
  let y = 8;
  for (const g of groups) {
    const stem = mainStem(g.basin);
    const top = y + HEAD;
    const bottom = top + g.rivers.length * ROW;
    svg.append(s("text", { x: 4, y: y + 18, class: "basin-name" }, field(g.basin, "name"),
      getLang() === "zh" && !narrow ? s("tspan", { class: "en", dx: 8 }, g.basin.name_en || "") : null));
    if (!g.loose) {
      svg.append(s("line", { x1: stemX, x2: stemX, y1: top + 6, y2: bottom - 10, class: "stem" }));
      svg.append(s("path", { d: `M${stemX - 5},${bottom - 14}L${stemX},${bottom - 4}L${stemX + 5},${bottom - 14}Z`,
        class: "stem-arrow" }));
      const stemLabel = getLang() === "zh" ? stem.zh : stem.en || stem.zh;
      svg.append(s("text", { x: stemX + 8, y: top + 2, class: "stem-name" }, stemLabel));
    }
    g.rivers.forEach((river, ri) => {
      const ry = top + ri * ROW + 24;
      const x0 = labelW;
      const x1 = g.loose ? W - 10 : stemX;
      // River names stay Chinese like section names (short, official); English below where there is room.
      // In English, the English name alone.
      const en = getLang() === "en" && river.name_en;
      svg.append(s("text", { x: 4, y: ry + 4, class: "river-name" }, en ? fitLabel(en, labelW - 10) : river.name_zh,
        !en && !narrow && river.name_en ? s("tspan", { x: 4, dy: 15, class: "en" }, river.name_en) : null));
      if (!g.loose) {
        svg.append(s("line", { x1: x0, x2: x1, y1: ry, y2: ry, class: "river" }));
        svg.append(s("path", { d: `M${x1 - 9},${ry - 4}L${x1 - 1},${ry}L${x1 - 9},${ry + 4}Z`, class: "flow" }));
      }
      const n = river.stations.length;
      const span = x1 - x0 - 20;
      river.stations.forEach((id, i) => {
        const st = byId.get(id);
        const look = nodeLook(st, mode);
        const cx = x0 + ((i + 0.5) / n) * span;
        const name = st ? stationName(st) : id;
        // Neighbours share the river: a long section name is cut to its slot (the full one is in the title).
        const label = fitLabel(name, Math.max(40, span / n - 8));
        const node = s("a", {
          href: `/station/${encodeURIComponent(id)}`, class: "node", "data-testid": `node-${id}`,
          "data-state": st ? st.state : "unknown", "data-class": st && st.current_class ? st.current_class : "",
          "aria-label": `${name} ${look.text}`,
        },
        s("title", null, `${name} · ${look.text}`),
        s("circle", { cx, cy: ry, r: 11, fill: look.fill, class: st && st.open_alerts ? "alerting" : "" }),
        look.inner ? s("text", { x: cx, y: ry + 3.5, class: "node-inner", fill: inkOn(look.fill) }, look.inner) : null,
        s("text", { x: cx, y: ry + 27, class: "node-name" }, label),
        s("text", { x: cx, y: ry + 40, class: "node-text" }, look.text));
        svg.append(node);
      });
    });
    y = bottom + 12;
  }
  return svg;
}
