// The settings panel: frame size and rate, JPEG quality, frames in flight, calibration and focus-alert
// settings (kept in localStorage), the API token (kept for the tab, api.js), and the remembered user id.

import { ApiError, getToken, setToken } from "./api.js";
import { $, hideBanner, showBanner } from "./ui.js";

const USER_KEY = "gazescope.userId";
const SETTINGS_KEY = "gazescope.settings";
const SETTING_IDS = ["frame-size", "fps", "quality", "inflight", "target-timeout", "alert-threshold", "alert-seconds"];

function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
    for (const id of SETTING_IDS) if (saved[id] !== undefined) $(id).value = saved[id];
  } catch {
    /* ignore a damaged entry */
  }
  $("token").value = getToken();
  $("user-id").value = localStorage.getItem(USER_KEY) || "";
}

function saveSettings() {
  const out = {};
  for (const id of SETTING_IDS) out[id] = $(id).value;
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(out));
}

/** Remember the user id on this device (forget it when empty). */
export function saveUserId(userId) {
  if (userId) localStorage.setItem(USER_KEY, userId);
  else localStorage.removeItem(USER_KEY);
}

/** The number in input `id`, clamped to [lo, hi]; `dflt` when it is not a number. */
export function num(id, lo, hi, dflt) {
  const v = Number($(id).value);
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : dflt;
}

/** The frame settings now: {width, height} of the frames sent (px), fps, JPEG quality (0..1), maxInFlight. */
export function frameSettings() {
  const [w, h] = $("frame-size").value.split("x").map(Number);
  return {
    width: w || 640,
    height: h || 480,
    fps: num("fps", 1, 30, 15),
    quality: num("quality", 0.3, 0.95, 0.7),
    maxInFlight: Math.round(num("inflight", 1, 2, 2)),
  };
}

/** Open (and focus the token field) or close the settings panel. */
export function openSettings(open) {
  const panel = $("settings");
  panel.hidden = !open;
  $("settings-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("token").focus();
}

/** Show `prefix: message` for a failed API call; a 401 asks for the API token and opens the settings. */
export function reportApiError(prefix, err) {
  if (err instanceof ApiError && err.status === 401) {
    showBanner(`${prefix}: this server needs an API token. Enter it under Settings.`);
    openSettings(true);
  } else {
    showBanner(`${prefix}: ${err.message}`);
  }
}

/** `/app/?token=...` stores the token for this tab and removes it from the address bar. */
function tokenFromUrl() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (!token) return;
  setToken(token);
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
}

/** Load the saved settings (and a token from the URL) into the panel; `onToken()` runs after the token changes. */
export function initSettings({ onToken }) {
  tokenFromUrl();
  loadSettings();
  for (const id of SETTING_IDS) $(id).addEventListener("change", saveSettings);
  $("token").addEventListener("change", () => {
    setToken($("token").value.trim());
    hideBanner();
    onToken();
  });
  $("settings-toggle").onclick = () => openSettings($("settings").hidden);
}
