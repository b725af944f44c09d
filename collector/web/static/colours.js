// GB 3838 bulletin colours and station state colours; the same values live in app.css as custom properties.

export const CLASS_COLOURS = {
  I: "#1e6fd9", II: "#1e6fd9", III: "#2ca02c", IV: "#f2c200", V: "#ff7f0e", "劣V": "#d62728",
};
export const CLASSES = ["I", "II", "III", "IV", "V", "劣V"];
export const STATE_COLOURS = { online: "#2ca02c", degraded: "#e6a100", offline: "#c0392b", unknown: "#8a8f98" };
export const NO_DATA_COLOUR = "#c4c8ce";

/** A CSS-class-safe token for a water class ("劣V" → "worse-v"). */
export function classToken(cls) {
  return cls === "劣V" ? "worse-v" : cls ? cls.toLowerCase() : "none";
}

/** Text colour that stays readable on the class colour. */
export function inkOn(colour) {
  return colour === CLASS_COLOURS.IV || colour === CLASS_COLOURS.V || colour === STATE_COLOURS.degraded
    || colour === NO_DATA_COLOUR ? "#1b1b1b" : "#ffffff";
}
