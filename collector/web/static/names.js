// Names in the reader's language: a station (its section's English name in English), its river. County
// names have no English form on the official lists, so English pages leave them out.

import { getLang } from "./i18n.js";

/** A station summary's or an alert's station name: name_zh / name_en (or station_zh / station_en). */
export function stationName(obj, prefix = "name") {
  if (!obj) return "";
  const zh = obj[`${prefix}_zh`];
  const en = obj[`${prefix}_en`];
  const id = obj.id || obj.station || "";
  return (getLang() === "zh" ? zh || en : en || id) || id;
}

/** "汾河 · 静乐 · 国考" in Chinese, "Fen · national" in English. */
export function riverName(st) {
  if (!st) return "";
  return getLang() === "zh" ? st.river_zh || st.river || "" : st.river_en || st.river || "";
}
