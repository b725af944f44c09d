// Small pieces shared by the views. Colour is never the only signal: every chip carries its text.

import { classToken } from "./colours.js";
import { h } from "./dom.js";
import { fmtAge, t, tl } from "./i18n.js";

export function stateChip(state, testid) {
  const st = state || "unknown";
  return h("span", { class: `chip state-${st}`, "data-testid": testid, "data-state": st }, t(st));
}

export function classChip(cls, testid) {
  return h("span", { class: `chip cls-${classToken(cls)}`, "data-testid": testid, "data-class": cls || "" },
    cls || "—");
}

export function severityChip(sev) {
  return h("span", { class: `chip sev-${sev || "info"}` }, t(sev || "info"));
}

/** A link that the router handles without reloading. */
export function link(href, ...children) {
  return h("a", { href }, ...children);
}

export function stationLink(id, nameZh) {
  return link(`/station/${encodeURIComponent(id)}`, nameZh || id);
}

/** The age of a station's latest data, kept fresh by the app's ticker (data-age-base / data-age-at). */
export function ageSpan(station, receivedAt) {
  const el = h("span", { class: "age" });
  setAge(el, station, receivedAt);
  return el;
}

export function setAge(el, station, receivedAt) {
  let base = station ? station.data_age_s : null;
  // Counting from the server's own age (plus time since we got it) keeps a wrong client clock out of it.
  if (base == null && station && station.last_reading_at) base = (Date.now() - Date.parse(station.last_reading_at)) / 1e3;
  if (base == null) {
    el.textContent = t("no_data");
    el.removeAttribute("data-age-base");
    return;
  }
  el.dataset.ageBase = String(base);
  el.dataset.ageAt = String(receivedAt || Date.now());
  refreshAge(el);
}

export function refreshAge(el) {
  const base = Number(el.dataset.ageBase);
  const at = Number(el.dataset.ageAt);
  const age = base + (Date.now() - at) / 1e3;
  el.textContent = fmtAge(age);
  el.classList.toggle("stale", age > 3600);
}

export function card(titleKey, attrs, ...children) {
  return h("section", { class: "card", ...attrs }, h("h2", null, tl(titleKey)), ...children);
}

/** A table whose cells carry their column label (shown as a caption on phones). */
export function table(cols, rows, attrs) {
  return h("table", { class: "grid-table", ...attrs },
    h("thead", null, h("tr", null, cols.map((c) => h("th", { scope: "col" }, tl(c))))),
    h("tbody", null, rows));
}

export function cells(cols, values) {
  return values.map((v, i) => h("td", { "data-label": t(cols[i]) }, v));
}

export function message(text, cls) {
  return h("p", { class: `msg ${cls || ""}` }, text);
}
