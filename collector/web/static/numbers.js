// Values as people read them: rounded to the parameter's decimals half to even, as the bulletins and the
// collector round (GB/T 8170, collector/assessment/rounding.py), with the unit after a space.

/** `v` to `decimals` places, half to even on its shortest decimal form; a non-zero value that would show
 * as zero keeps one significant digit; without decimals, at most six significant digits. */
export function fmtValue(v, decimals) {
  if (v == null || !Number.isFinite(v)) return "—";
  if (decimals == null) return String(+v.toPrecision(6));
  const f = 10 ** decimals;
  const a = Math.abs(v);
  const x = +(a * f).toPrecision(12); // drops binary noise: 1.15 * 100 is 114.99999999999999
  let n = Math.floor(x);
  const frac = +(x - n).toPrecision(6);
  if (frac > 0.5 || (frac === 0.5 && n % 2 === 1)) n += 1;
  const sign = v < 0 ? "-" : "";
  if (n === 0) return a === 0 ? (0).toFixed(decimals) : sign + String(+a.toPrecision(1));
  return sign + (n / f).toFixed(decimals);
}

/** "1.239 mg/L", "7.12" (pH has no unit), "—" for none. */
export function fmtAmount(v, decimals, unit) {
  const text = fmtValue(v, decimals);
  return unit && text !== "—" ? `${text} ${unit}` : text;
}
