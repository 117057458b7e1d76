// Small UI helpers shared by the views.

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

export function hideBanner() {
  document.getElementById("banner").hidden = true;
}
