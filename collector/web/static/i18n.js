// Labels in Chinese and English, times in Asia/Shanghai, ages as "3 分钟前 / 3 min ago".
// Station and section names are never translated: they are the names on the official lists.

const KEY = "qingliu.lang";
export const TIME_ZONE = "Asia/Shanghai";

const S = {
  title: ["清流 · 水质自动站运行监控", "qingliu · water station health"],
  fleet: ["站点总览", "Fleet"],
  alerts: ["告警", "Alerts"],
  station: ["站点", "Station"],
  stations: ["站点列表", "Stations"],
  online: ["在线", "online"],
  degraded: ["降级", "degraded"],
  offline: ["离线", "offline"],
  unknown: ["未知", "unknown"],
  open_alerts: ["未处理告警", "open alerts"],
  off_target: ["未达目标断面", "sections off target"],
  not_on_target: ["未达标", "off target"],
  live: ["实时", "live"],
  connecting: ["连接中", "connecting"],
  reconnecting: ["重连中", "reconnecting"],
  polling: ["轮询 (10 秒)", "polling (10 s)"],
  schematic: ["流域示意图", "Basin schematic"],
  colour_by: ["着色", "Colour by"],
  by_state: ["运行状态", "state"],
  by_class: ["水质类别", "water class"],
  river: ["河流", "River"],
  state: ["状态", "State"],
  data_age: ["数据时效", "Data age"],
  backlog: ["积压", "Backlog"],
  current_class: ["当前类别", "Class"],
  target_class: ["目标", "Target"],
  no_data: ["无数据", "no data"],
  upstream_downstream: ["上游 → 下游", "upstream → downstream"],
  outfall: ["排口", "outfall"],
  outfall_over: ["超排放限值", "over its limit"],
  outfall_within: ["达标排放", "within limits"],
  ring_legend: ["红圈：有未处理告警", "red ring: open alerts"],
  county: ["区县", "County"],
  level: ["级别", "Level"],
  national: ["国考", "national"],
  provincial: ["省考", "provincial"],
  latest: ["最新数据", "Latest values"],
  parameter: ["参数", "Parameter"],
  value: ["数值", "Value"],
  flag: ["标记", "Flag"],
  time: ["时间", "Time"],
  limit: ["目标限值", "Target limit"],
  trend: ["趋势", "Trend"],
  range_24h: ["24 小时", "24 h"],
  range_7d: ["7 天", "7 d"],
  range_30d: ["30 天", "30 d"],
  range_custom: ["自定义", "custom"],
  from: ["从", "from"],
  to: ["到", "to"],
  apply: ["确定", "Apply"],
  no_readings: ["该时段无数据", "no readings in this range"],
  loading: ["加载中…", "loading…"],
  load_failed: ["加载失败", "failed to load"],
  devices: ["分析仪状态", "Analysers"],
  device: ["设备", "Device"],
  up: ["正常", "up"],
  down: ["故障", "down"],
  failures: ["失败次数", "Failures"],
  last_ok: ["最近正常", "Last OK"],
  error: ["错误", "Error"],
  controller: ["控制器信号", "Controller signals"],
  pump_running: ["采水泵", "Pump"],
  water_present: ["有水", "Water"],
  mains_power: ["市电", "Mains"],
  on_battery: ["UPS 供电", "On UPS"],
  battery_pct: ["电池", "Battery"],
  sample_flow: ["采样流量", "Sample flow"],
  water_level: ["水位", "Water level"],
  enclosure_temp: ["站房温度", "Enclosure temp."],
  sampling_state: ["采样状态", "Sampling state"],
  sampling_idle: ["待机", "idle"],
  sampling_active: ["采样中", "sampling"],
  sampling_flushing: ["清洗中", "flushing"],
  sampling_no_water: ["无水", "no water"],
  door_open: ["站房门", "Door"],
  yes: ["是", "yes"],
  no: ["否", "no"],
  running: ["运行", "running"],
  stopped: ["停止", "stopped"],
  present: ["有水", "present"],
  absent: ["无水", "absent"],
  power_ok: ["正常", "on"],
  power_off: ["断电", "off"],
  door_is_open: ["打开", "open"],
  door_is_closed: ["关闭", "closed"],
  health: ["运行率与数据捕获", "Uptime and data capture"],
  uptime: ["运行率", "Uptime"],
  capture_rate: ["捕获率", "Capture"],
  valid_rate: ["有效率", "Valid"],
  expected: ["应测", "Expected"],
  received: ["实测", "Received"],
  valid: ["有效", "Valid"],
  excluded: ["剔除时段", "Excluded"],
  ice: ["结冰", "ice"],
  no_water: ["断流", "no water"],
  agent: ["采集端", "Station agent"],
  oldest_unsent: ["最早未发送", "Oldest unsent"],
  dropped: ["丢弃", "Dropped"],
  clock_offset: ["时钟偏差", "Clock offset"],
  agent_version: ["版本", "Version"],
  heartbeat: ["心跳", "Heartbeat"],
  next_seq: ["下一序号", "Next seq"],
  last_status: ["最近状态", "Last status"],
  uplinks: ["上报平台（HJ 212）", "Platforms (HJ 212)"],
  uplink_connected: ["已连接", "connected"],
  uplink_disconnected: ["未连接", "not connected"],
  last_reply: ["最近应答", "Last reply"],
  retries: ["重发", "Retries"],
  refusals: ["拒收", "Refusals"],
  lost: ["丢失", "Lost"],
  last_reading: ["最近数据", "Last reading"],
  transitions: ["状态变化", "State changes"],
  reason: ["原因", "Reason"],
  alert_history: ["告警记录", "Alert history"],
  tab_open: ["未处理", "Open"],
  tab_acknowledged: ["已确认", "Acknowledged"],
  tab_resolved: ["已恢复", "Resolved"],
  severity: ["级别", "Severity"],
  critical: ["严重", "critical"],
  warning: ["警告", "warning"],
  info: ["提示", "info"],
  all: ["全部", "all"],
  alert: ["告警", "Alert"],
  opened_at: ["发生时间", "Opened"],
  acked: ["确认", "Acknowledged"],
  resolved_at: ["恢复时间", "Resolved"],
  last_value: ["最近值", "Last value"],
  ack: ["确认", "Acknowledge"],
  ack_failed: ["确认失败", "acknowledge failed"],
  no_alerts: ["没有告警", "no alerts"],
  login: ["登录", "Log in"],
  logout: ["退出", "Log out"],
  token: ["密码或令牌", "Password or token"],
  operator: ["用户名 / 操作员", "User name / operator"],
  note: ["备注", "Note"],
  offline_no_status: ["站点离线，采集端未报告", "station offline: nothing reported"],
  note_optional: ["备注（可选）", "note (optional)"],
  cancel: ["取消", "Cancel"],
  login_needed: ["确认告警需要登录", "Log in to acknowledge alerts"],
  login_failed: ["用户名、密码或令牌无效", "invalid user name, password or token"],
  login_locked: ["登录失败次数过多，请稍后再试", "too many failed logins: try again later"],
  audit: ["审计日志", "Audit log"],
  audit_hint: ["每次确认、评论和指令：谁、何时、从何处（只增不改）", "every acknowledgement, comment and command: who, when, from where (append-only)"],
  no_audit: ["暂无记录", "nothing recorded yet"],
  who: ["人员", "Who"],
  role: ["角色", "Role"],
  address: ["来源地址", "From"],
  action: ["操作", "Action"],
  target: ["对象", "Target"],
  detail: ["内容", "Detail"],
  logged_in: ["已登录", "logged in"],
  unknown_station: ["未知站点", "unknown station"],
  back: ["返回总览", "Back to fleet"],
  updated: ["更新于", "updated"],
  dead_letters: ["被拒消息", "Rejected messages"],
  rejected: ["被拒", "Rejected"],
  dead_letters_hint: ["采集中心无法存储的消息已隔离（不影响其他数据），修复后可重新导入。",
    "Messages the collector could not store are quarantined (nothing else is held up); they can be re-applied after a fix."],
  no_dead_letters: ["没有被拒消息", "no rejected messages"],
  dead_letters_total: ["累计（按原因）", "Total by reason"],
  last_seen: ["最近一次", "Last seen"],
  times: ["次数", "Count"],
  sections: ["断面", "Sections"],
  sections_title: ["断面水质评价", "Section assessment"],
  section: ["断面", "Section"],
  wq_class: ["水质类别", "Class"],
  met: ["达标", "Met"],
  target_met: ["达标", "met"],
  main_pollutants: ["主要污染指标", "Main pollutants"],
  cwqi: ["水质指数", "CWQI"],
  completeness: ["数据完整率", "Completeness"],
  all_sections: ["全部断面", "all sections"],
  share_i_iii: ["Ⅰ～Ⅲ类比例", "share I–III"],
  month: ["月份", "Month"],
  so_far: ["截至目前", "so far"],
  river_view: ["河流上下游", "Rivers upstream → downstream"],
  reports: ["报告", "Reports"],
  report_daily: ["日预警", "Daily warning"],
  report_weekly: ["周研判", "Weekly analysis"],
  report_monthly: ["月通报", "Monthly bulletin"],
  report_flood: ["汛期排名", "Flood-season ranking"],
  report_archive: ["已生成", "Archive"],
  product: ["产品", "Product"],
  date: ["日期", "Date"],
  period: ["期次", "Period"],
  made_at: ["生成时间", "Made"],
  figures: ["主要数字", "Figures"],
  download: ["下载", "Download"],
  print: ["打印", "Print"],
  no_reports: ["尚无已生成的产品", "nothing made yet"],
  report_making: ["正在生成…", "making it…"],
  report_failed: ["无法生成该产品", "the product could not be made"],
  report_not_started: ["该期尚未开始，无产品", "this period has not begun: there is no product"],
  report_bad_period: ["期次格式不正确", "not a period of this product"],
  fig_off_target: ["未达标", "off target"],
  fig_at_warning: ["预警", "at warning"],
  fig_judged: ["参评", "judged"],
  fig_counties: ["需采取措施区县", "counties to act"],
  // Issue 18: figures from when a station was first heard, the fleet's 24 h columns, state-change reasons.
  since_first_heard: ["自首次接收 {t} 起", "since first heard {t}"],
  uptime_24h: ["运行率 24 小时", "Uptime 24 h"],
  capture_24h: ["捕获率 24 小时", "Capture 24 h"],
  bucket_note: ["每 {w} 一点：均值，阴影为最小～最大", "one point per {w}: mean, shaded min–max"],
  reason_ok: ["正常", "ok"],
  worse_than_v: ["劣V", "worse than V"],
  reason_never_heard: ["从未收到消息", "never heard"],
  reason_reported_offline: ["站点报告离线", "station reported offline"],
  reason_reported_degraded: ["站点报告降级", "station reported degraded"],
  reason_silent: ["已 {a} 秒无消息（心跳 {b} 秒）", "silent for {a} s (heartbeat {b} s)"],
  reason_devices_down: ["设备故障：{a}", "devices down: {a}"],
  reason_backlog_growing: ["积压增长（{a} → {b}）", "backlog growing ({a} → {b})"],
  reason_dropped: ["丢弃 {a} 条数据", "{a} readings dropped"],
  reason_clock_offset: ["时钟偏差 {a} 秒", "clock offset {a} s"],
};

/** Every label pair, for tests that look for text left in the other language. */
export const LABELS = S;

const FLAGS = {
  N: ["正常", "normal"], F: ["停运", "analyser stopped"], M: ["维护", "maintenance"], S: ["手工输入", "set by hand"],
  D: ["故障", "analyser fault"], C: ["校准", "calibration"], T: ["超测量上限", "over measurement range"],
  B: ["通讯异常", "communication failed"],
};

let lang = "zh";
try {
  lang = localStorage.getItem(KEY) === "en" ? "en" : "zh";
} catch {
  /* storage blocked: keep the default */
}

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    /* not remembered, still switched */
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

function pick(pair, key) {
  if (!pair) return key;
  return lang === "zh" ? pair[0] : pair[1];
}

/** The label in the current language. */
export function t(key) {
  return pick(S[key], key);
}

/** Both languages at once, "中文 / English": for errors, which must reach whoever reads them. */
export function both(key) {
  const pair = S[key];
  return pair ? `${pair[0]} / ${pair[1]}` : key;
}

/** The label as DOM: in Chinese mode with the English in a secondary span (hidden on narrow screens by CSS). */
export function tl(key) {
  const pair = S[key];
  const frag = document.createDocumentFragment();
  frag.append(pick(pair, key));
  if (lang === "zh" && pair) {
    const en = document.createElement("span");
    en.className = "en";
    en.textContent = pair[1];
    frag.append(en);
  }
  return frag;
}

/** Pick the zh or en field of an API object, falling back to the other. */
export function field(obj, name) {
  if (!obj) return "";
  const zh = obj[name + "_zh"];
  const en = obj[name + "_en"];
  return (lang === "zh" ? zh || en : en || zh) || "";
}

export function flagName(letter) {
  return pick(FLAGS[letter], letter || "?");
}

const parts = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

function shanghaiParts(date) {
  const out = {};
  for (const p of parts.formatToParts(date)) out[p.type] = p.value;
  return out;
}

/** "2026-11-28 22:13" in Asia/Shanghai; "—" for null. */
export function fmtTime(iso, withSeconds = false) {
  if (!iso) return "—";
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = shanghaiParts(d);
  const base = `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  return withSeconds ? `${base}:${p.second}` : base;
}

/** Compact: "22:13" when the day is today in Shanghai, "11-27 22:13" in this year, else the full time. */
export function fmtShort(iso, now = new Date()) {
  if (!iso) return "—";
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = shanghaiParts(d);
  const n = shanghaiParts(now);
  if (p.year !== n.year) return fmtTime(d);
  const time = `${p.hour}:${p.minute}`;
  return p.month === n.month && p.day === n.day ? time : `${p.month}-${p.day} ${time}`;
}

/** Short axis label: "11-28 22:00" or "22:00". */
export function fmtAxis(ms, withDate) {
  const p = shanghaiParts(new Date(ms));
  return withDate ? `${p.month}-${p.day} ${p.hour}:${p.minute}` : `${p.hour}:${p.minute}`;
}

/** A Date from an <input type="datetime-local"> value read as Asia/Shanghai wall time (UTC+8, no DST). */
export function fromShanghaiLocal(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4] - 8, +m[5]));
}

/** The datetime-local value for a Date, as Asia/Shanghai wall time. */
export function toShanghaiLocal(date) {
  const p = shanghaiParts(date);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** "3 分钟前" / "3 min ago". */
export function fmtAge(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return t("no_data");
  const s = Math.max(0, seconds);
  const units = lang === "zh"
    ? [[86400, " 天前"], [3600, " 小时前"], [60, " 分钟前"], [1, " 秒前"]]
    : [[86400, " d ago"], [3600, " h ago"], [60, " min ago"], [1, " s ago"]];
  for (const [size, suffix] of units) {
    if (s >= size || size === 1) return Math.floor(s / size) + suffix;
  }
  return "";
}

/** "1.2 s" style durations for clock offsets. */
export function fmtSeconds(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  const sign = seconds > 0 ? "+" : "";
  return Math.abs(seconds) < 100 ? `${sign}${seconds.toFixed(1)} s` : `${sign}${Math.round(seconds)} s`;
}

export function fmtPct(x, isFraction) {
  if (x == null || !Number.isFinite(x)) return "—";
  return (isFraction ? x * 100 : x).toFixed(1) + " %";
}
