// A station's state-change reasons in the reader's language. The collector keeps them as English phrases
// (collector/stations.py evaluate()); each known phrase has its translation, anything else shows as it came.

import { t } from "./i18n.js";

const fill = (key, parts) => t(key).replace("{a}", parts[0] ?? "").replace("{b}", parts[1] ?? "");

const PATTERNS = [
  [/^ok$/, "reason_ok"],
  [/^never heard$/, "reason_never_heard"],
  [/^station reported offline$/, "reason_reported_offline"],
  [/^station reported degraded$/, "reason_reported_degraded"],
  [/^silent for (\S+) s \(heartbeat (\S+) s\)$/, "reason_silent"],
  [/^devices down: (.+)$/, "reason_devices_down"],
  [/^backlog growing \((\S+) → (\S+)\)$/, "reason_backlog_growing"],
  [/^(\d+) readings dropped$/, "reason_dropped"],
  [/^clock offset (\S+) s$/, "reason_clock_offset"],
];

/** One reason phrase translated. */
export function reasonText(reason) {
  const text = String(reason ?? "").trim();
  for (const [re, key] of PATTERNS) {
    const m = re.exec(text);
    if (m) return fill(key, m.slice(1));
  }
  return text;
}

/** A transition's reasons ("a; b", or the list), translated and joined; "ok" when there are none. */
export function reasonsText(reasons) {
  const list = Array.isArray(reasons) ? reasons : String(reasons ?? "").split("; ");
  const shown = list.filter((r) => r && r.trim());
  return (shown.length ? shown : ["ok"]).map(reasonText).join("; ");
}
