// qingliu dashboard: polls /api/stations and renders the station table. No libraries, no network beyond this server.
"use strict";

const REFRESH_MS = 5000;
const ZONE = "Asia/Shanghai";
const STATE_LABELS = {
  online: ["在线", "online"],
  degraded: ["降级", "degraded"],
  offline: ["离线", "offline"],
  unknown: ["未知", "unknown"],
};
const LEVEL_LABELS = { national: ["国考", "national"], provincial: ["省考", "provincial"] };
const timeFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function shanghai(iso) {
  return iso ? timeFormat.format(new Date(iso)) : "—";
}

function age(iso, now) {
  if (!iso) return ["无数据 no data", true];
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  let text;
  if (s < 60) text = `${s} 秒前 / ${s} s ago`;
  else if (s < 3600) text = `${Math.floor(s / 60)} 分钟前 / ${Math.floor(s / 60)} min ago`;
  else if (s < 86400) text = `${Math.floor(s / 3600)} 小时前 / ${Math.floor(s / 3600)} h ago`;
  else text = `${Math.floor(s / 86400)} 天前 / ${Math.floor(s / 86400)} d ago`;
  return [text, s > 4 * 3600];
}

function formatValue(v) {
  if (v.value === null || v.value === undefined) return "—";
  return Number(v.value).toLocaleString("en-US", { maximumFractionDigits: 3 });
}

function valuesCell(latest) {
  const box = el("div", { class: "values" });
  for (const [code, v] of Object.entries(latest || {})) {
    const bad = v.flag !== "N" && v.flag !== "T";
    box.append(el("span", { class: "value", title: `${v.name_en} (${code}) · ${shanghai(v.t)}` },
      `${v.name_zh} `, el("b", {}, formatValue(v)), v.unit ? ` ${v.unit}` : "",
      el("span", { class: bad ? "flag flag-bad" : "flag" }, v.flag)));
  }
  if (!box.childNodes.length) box.append(el("small", {}, "—"));
  return box;
}

function row(s, now) {
  const [zh, en] = STATE_LABELS[s.state] || [s.state, s.state];
  const [level_zh, level_en] = LEVEL_LABELS[s.level] || [s.level, s.level];
  const [ageText, stale] = age(s.last_reading_at, now);
  return el("tr", { "data-station": s.id },
    el("td", {}, el("span", { class: `state state-${s.state}`, title: (s.state_reasons || []).join("; ") },
      `${zh} ${en}`), el("br"), el("small", { class: "reasons" }, (s.state_reasons || []).join("; "))),
    el("td", {}, el("b", {}, s.name_zh), el("br"), el("small", {}, s.id)),
    el("td", {}, `${s.river_zh} `, el("small", {}, s.river_en), el("br"), el("small", {}, `${s.basin_zh} ${s.basin_en}`)),
    el("td", {}, `${level_zh} `, el("small", {}, level_en), el("br"), s.county),
    el("td", {}, el("span", { class: stale ? "age-stale" : "" }, ageText), el("br"),
      el("small", {}, shanghai(s.last_reading_at))),
    el("td", {}, `${s.backlog ?? "—"} / ${s.dropped ?? "—"}`),
    el("td", {}, valuesCell(s.latest)));
}

function renderSummary(stations) {
  const counts = { online: 0, degraded: 0, offline: 0, unknown: 0 };
  for (const s of stations) counts[s.state] = (counts[s.state] || 0) + 1;
  const box = document.getElementById("summary");
  box.replaceChildren(...Object.entries(counts).map(([state, n]) =>
    el("span", {}, `${STATE_LABELS[state][0]} ${STATE_LABELS[state][1]}: `, el("b", {}, n))));
}

async function refresh() {
  const error = document.getElementById("error");
  try {
    const response = await fetch("/api/stations", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const stations = await response.json();
    const now = Date.now();
    document.querySelector("#stations tbody").replaceChildren(...stations.map((s) => row(s, now)));
    renderSummary(stations);
    document.getElementById("clock").textContent = `更新于 updated ${shanghai(new Date(now).toISOString())}`;
    error.hidden = true;
  } catch (exc) {
    error.textContent = `无法获取数据 cannot load data: ${exc.message}`;
    error.hidden = false;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
