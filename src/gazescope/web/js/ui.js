// Small UI helpers shared by the views.

/** The element with id `id` (null when the page has none). */
export const $ = (id) => document.getElementById(id);

/** `s` as text safe inside HTML (the five special characters escaped); "" for null or undefined. */
export const esc = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/** A time given in ms since the epoch as local date and time, or an en dash when missing. */
export const when = (ms) => (ms ? new Date(ms).toLocaleString() : "–");

/** A number with a unit and `digits` decimals, or an en dash when missing. */
export function fmt(v, unit = "", digits = 1) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "–";
  return `${v.toFixed(digits)}${unit}`;
}

let bannerTimer = null;

/** Show a message under the top bar (kind "error" or "info"); info messages fade after a while. */
export function showBanner(text, kind = "error", ms = kind === "info" ? 6000 : 0) {
  const el = document.getElementById("banner");
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(bannerTimer);
  if (ms) bannerTimer = setTimeout(() => (el.hidden = true), ms);
}

/** Hide the message under the top bar. */
export function hideBanner() {
  document.getElementById("banner").hidden = true;
}
