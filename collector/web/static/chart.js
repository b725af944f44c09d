// A small SVG trend chart: one parameter over a time range, class limits as horizontal lines,
// flagged (non-N) values drawn with a different marker, a tooltip that follows pointer or arrow keys.

import { CLASSES, CLASS_COLOURS } from "./colours.js";
import { h, s } from "./dom.js";
import { flagName, fmtAxis, fmtTime, t } from "./i18n.js";
import { fmtValue } from "./numbers.js";

const HOUR = 3600e3;
const STEPS = [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 48 * HOUR, 7 * 24 * HOUR];
const SHANGHAI_OFFSET = 8 * HOUR; // fixed UTC+8, no daylight saving: lets ticks fall on local hours

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

/** A bucket width as "5 min", "2 h", "1 d". */
function fmtWidth(sec) {
  if (sec % 86400 === 0) return `${sec / 86400} d`;
  return sec % 3600 === 0 ? `${sec / 3600} h` : `${sec / 60} min`;
}

/** Limit lines: [{value, classes: ["I","II"], target: bool}] from {"I": 0.15, ...} or {"I": [6, 9], ...}. */
export function limitLines(limits, target) {
  const byValue = new Map();
  for (const cls of CLASSES) {
    const raw = limits ? limits[cls] : null;
    if (raw == null) continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      if (!Number.isFinite(v)) continue;
      if (!byValue.has(v)) byValue.set(v, { value: v, classes: [], target: false });
      const line = byValue.get(v);
      line.classes.push(cls);
      if (cls === target) line.target = true;
    }
  }
  return [...byValue.values()];
}

/** "III", "I/II", or "I–V" for three or more classes sharing one limit (pH): short enough for the margin. */
export function classSpan(classes) {
  return classes.length > 2 ? `${classes[0]}–${classes[classes.length - 1]}` : classes.join("/");
}

/**
 * renderChart({readings, limits, target_class, unit, decimals, name, from, to}) → element (a figure).
 * `from` and `to` are epoch milliseconds of the chosen range.
 */
export function renderChart(opts, width) {
  const W = Math.max(300, Math.floor(width));
  const H = W < 560 ? 220 : 280;
  const m = { l: 52, r: W < 560 ? 40 : 64, t: 22, b: 30 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const pts = opts.readings
    // A bucket (long ranges, collector/api/series.py) carries its min and max beside the mean.
    .map((r) => ({ t: Date.parse(r.t), v: r.value, flag: r.flag || "N", lo: r.min, hi: r.max, n: r.n }))
    .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
    .sort((a, b) => a.t - b.t);
  const lines = limitLines(opts.limits, opts.target_class);
  const targetLines = lines.filter((l) => l.target);

  let x0 = opts.from;
  let x1 = opts.to;
  if (!(x1 > x0)) x1 = x0 + HOUR;
  const bucketed = opts.bucket_s != null;
  const values = pts.flatMap((p) => (bucketed ? [p.lo ?? p.v, p.hi ?? p.v] : [p.v]))
    .concat(targetLines.map((l) => l.value));
  if (!pts.length) values.push(0); // nothing to plot: show the limit against zero, not a sliver around it
  let y0 = values.length ? Math.min(...values) : 0;
  let y1 = values.length ? Math.max(...values) : 1;
  if (y0 === y1) {
    const pad = Math.abs(y0) * 0.1 || 1;
    y0 -= pad;
    y1 += pad;
  }
  const yStep = niceStep(y1 - y0, H < 250 ? 4 : 5);
  y0 = Math.floor(y0 / yStep) * yStep;
  y1 = Math.ceil(y1 / yStep) * yStep;
  if (y0 < 0 && Math.min(...values, 0) >= 0) y0 = 0; // no negative axis for never-negative data

  const X = (tm) => m.l + ((tm - x0) / (x1 - x0)) * pw;
  const Y = (v) => m.t + ph - ((v - y0) / (y1 - y0)) * ph;

  const svg = s("svg", {
    class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", tabindex: 0,
    "data-testid": "trend-chart", "data-points": pts.length, "data-bucket-s": opts.bucket_s ?? "",
    "data-last-t": pts.length ? new Date(pts[pts.length - 1].t).toISOString() : "",
    "aria-label": `${opts.name || ""} ${t("trend")}`,
  });

  // Grid and y axis.
  const grid = s("g", { class: "grid" });
  for (let v = y0; v <= y1 + yStep / 2; v += yStep) {
    const y = Y(v);
    grid.append(s("line", { x1: m.l, x2: m.l + pw, y1: y, y2: y }));
    grid.append(s("text", { x: m.l - 6, y: y + 4, class: "ytick" }, fmtValue(+v.toPrecision(10), null)));
  }
  // X ticks on whole Shanghai hours/days.
  const step = STEPS.find((st) => (x1 - x0) / st <= Math.max(2, pw / 90)) || STEPS[STEPS.length - 1];
  const firstTick = Math.ceil((x0 + SHANGHAI_OFFSET) / step) * step - SHANGHAI_OFFSET;
  for (let tm = firstTick; tm <= x1; tm += step) {
    const x = X(tm);
    grid.append(s("line", { x1: x, x2: x, y1: m.t, y2: m.t + ph, class: "vgrid" }));
    grid.append(s("text", { x, y: H - 10, class: "xtick" }, fmtAxis(tm, step >= 24 * HOUR || (x1 - x0) > 36 * HOUR)));
  }
  svg.append(grid);
  svg.append(s("text", { x: m.l - 6, y: 11, class: "unit" }, opts.unit || ""));

  // Class limits: the target strong, the others faint; only those inside the plotted range.
  const limitsG = s("g", { class: "limits" });
  for (const line of lines) {
    if (line.value < y0 || line.value > y1) continue;
    const y = Y(line.value);
    const cls = line.target ? opts.target_class : line.classes[line.classes.length - 1];
    limitsG.append(s("line", {
      x1: m.l, x2: m.l + pw, y1: y, y2: y, stroke: CLASS_COLOURS[cls] || "#888",
      class: line.target ? "limit target" : "limit", "data-class": line.classes.join("/"),
    }));
    limitsG.append(s("text", { x: m.l + pw + 4, y: y + 4, class: line.target ? "limit-label target" : "limit-label" },
      classSpan(line.classes)));
  }
  svg.append(limitsG);

  // The line joins valid values (N, T) and breaks over gaps of more than three usual intervals.
  const valid = pts.filter((p) => p.flag === "N" || p.flag === "T");
  if (bucketed && valid.length) {
    // Each bucket's min–max as a band behind the line of its means.
    const up = valid.map((p) => `${X(p.t).toFixed(1)},${Y(p.hi ?? p.v).toFixed(1)}`);
    const down = valid.map((p) => `${X(p.t).toFixed(1)},${Y(p.lo ?? p.v).toFixed(1)}`).reverse();
    svg.append(s("path", { d: `M${up.join("L")}L${down.join("L")}Z`, class: "band" }));
  }
  const gaps = valid.slice(1).map((p, i) => p.t - valid[i].t).sort((a, b) => a - b);
  const usual = gaps.length ? gaps[Math.floor(gaps.length / 2)] : Infinity;
  let d = "";
  valid.forEach((p, i) => {
    const jump = i === 0 || p.t - valid[i - 1].t > 3 * usual;
    d += `${jump ? "M" : "L"}${X(p.t).toFixed(1)},${Y(p.v).toFixed(1)}`;
  });
  if (d) svg.append(s("path", { d, class: "series" }));

  const marks = s("g", { class: "marks" });
  const dense = bucketed || pts.length > 250;
  for (const p of pts) {
    const x = X(p.t);
    const y = Y(p.v);
    if (p.flag !== "N") {
      marks.append(s("path", {
        d: `M${x},${y - 5}L${x + 5},${y}L${x},${y + 5}L${x - 5},${y}Z`, class: `flagged flag-${p.flag}`,
        "data-flag": p.flag,
      }));
    } else if (!dense) {
      marks.append(s("circle", { cx: x, cy: y, r: 2.5, class: "pt" }));
    }
  }
  svg.append(marks);

  if (!pts.length) {
    svg.append(s("text", { x: m.l + pw / 2, y: m.t + ph / 2, class: "empty" }, t("no_readings")));
  }

  // Tooltip: nearest reading in time to the pointer, or stepped with the arrow keys.
  const cursor = s("g", { class: "cursor", visibility: "hidden" },
    s("line", { y1: m.t, y2: m.t + ph }), s("circle", { r: 5 }));
  svg.append(cursor);
  const tip = h("div", { class: "tip", hidden: true, role: "status", "data-testid": "chart-tooltip" });
  let index = -1;

  function show(i) {
    if (!pts.length) return;
    index = Math.max(0, Math.min(pts.length - 1, i));
    const p = pts[index];
    const x = X(p.t);
    const y = Y(p.v);
    cursor.setAttribute("visibility", "visible");
    cursor.firstChild.setAttribute("x1", x);
    cursor.firstChild.setAttribute("x2", x);
    cursor.lastChild.setAttribute("cx", x);
    cursor.lastChild.setAttribute("cy", y);
    tip.replaceChildren(
      h("div", null, fmtTime(p.t, true)),
      h("strong", null, `${fmtValue(p.v, opts.decimals)} ${opts.unit || ""}`),
      p.lo != null && p.hi != null
        ? h("div", null, `${fmtValue(p.lo, opts.decimals)}–${fmtValue(p.hi, opts.decimals)} · n ${p.n}`) : null,
      h("div", { class: p.flag === "N" ? "" : "tip-flag" }, `${t("flag")} ${p.flag} · ${flagName(p.flag)}`),
    );
    tip.hidden = false;
    const left = (x / W) * 100;
    tip.classList.toggle("flip", left > 60);
    tip.style.left = `${left}%`;
    tip.style.top = `${(y / H) * 100}%`;
  }

  function nearest(tm) {
    let lo = 0;
    let hi = pts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pts[mid].t < tm) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(pts[lo - 1].t - tm) < Math.abs(pts[lo].t - tm)) lo -= 1;
    return lo;
  }

  svg.addEventListener("pointermove", (ev) => {
    const box = svg.getBoundingClientRect();
    const x = ((ev.clientX - box.left) / box.width) * W;
    show(nearest(x0 + ((x - m.l) / pw) * (x1 - x0)));
  });
  svg.addEventListener("pointerleave", () => {
    cursor.setAttribute("visibility", "hidden");
    tip.hidden = true;
  });
  svg.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
      ev.preventDefault();
      show(index < 0 ? pts.length - 1 : index + (ev.key === "ArrowRight" ? 1 : -1));
    }
  });

  // One value ("≤ 1"), or a range ("6–9") when the target class has a lower and an upper limit.
  const targetText = targetLines.map((l) => fmtValue(l.value, null)).join("–");
  const legend = h("div", { class: "legend" },
    h("span", { class: "lg-line" }, t("trend")),
    targetLines.length ? h("span", { class: "lg-target" }, `${t("limit")} ${opts.target_class} ${targetText}`)
      : null,
    h("span", { class: "lg-flag" }, `◆ ${t("flag")} ≠ N`),
    bucketed ? h("span", { class: "lg-band", "data-testid": "bucket-note" },
      t("bucket_note").replace("{w}", fmtWidth(opts.bucket_s))) : null,
  );
  return h("figure", { class: "chart-wrap" }, h("div", { class: "chart-box" }, svg, tip), legend);
}
