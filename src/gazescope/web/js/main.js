// gazescope web app: wiring of the views (track, calibrate, stimulus, review, observe).
// Plain ES modules, no build step; served by gazescope at /app/.

import { ApiError, api, getToken, has, imageUrl, setToken } from "./api.js";
import { CalibrationRunner, CalibrationUnsupported } from "./calibration.js";
import { Camera, explainCameraError } from "./camera.js";
import { GazeLayer } from "./gaze.js";
import { Observer, deleteSession, forgetStimuli, showAggregate, showDashboard, showReport } from "./review.js";
import { FrameSender, TrackingClient } from "./tracker.js";
import { fmt, hideBanner, showBanner } from "./ui.js";
import { playVideoStimulus } from "./video_stimulus.js";

const $ = (id) => document.getElementById(id);
const USER_KEY = "gazescope.userId";
const SETTINGS_KEY = "gazescope.settings";
const SETTING_IDS = ["frame-size", "fps", "quality", "inflight", "target-timeout", "alert-threshold", "alert-seconds"];

// ------------------------------------------------------------------------------------------------
// settings

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

function num(id, lo, hi, dflt) {
  const v = Number($(id).value);
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : dflt;
}

function frameSettings() {
  const [w, h] = $("frame-size").value.split("x").map(Number);
  return {
    width: w || 640,
    height: h || 480,
    fps: num("fps", 1, 30, 15),
    quality: num("quality", 0.3, 0.95, 0.7),
    maxInFlight: Math.round(num("inflight", 1, 2, 2)),
  };
}

// ------------------------------------------------------------------------------------------------
// app state

const camera = new Camera($("video"));
const client = new TrackingClient();
const sender = new FrameSender(camera, client, frameSettings);
const gazeLayer = new GazeLayer($("gaze-canvas"));
const runner = new CalibrationRunner(client);
const observer = new Observer();

const app = {
  session: null, // the session being tracked (SessionOut)
  profileId: null, // calibration profile applied to it
  calibration: null, // text shown in the metrics
  lowSince: null,
  lastSample: null,
  stimulus: null, // {id, name} chosen in the dialog
  recording: null, // {timer, sessionId} while a stimulus is shown
};
window.gazescope = { app, client, camera, gazeLayer }; // for debugging and tests

// ------------------------------------------------------------------------------------------------
// connection state

function setPill(state, text) {
  const el = $("conn-state");
  el.dataset.state = state;
  el.textContent = text;
}

client.addEventListener("state", (ev) => {
  const d = ev.detail;
  const text = {
    idle: "not connected",
    connecting: "connecting…",
    connected: "connected",
    reconnecting: d.delayMs ? `reconnecting in ${(d.delayMs / 1000).toFixed(1)} s (try ${d.attempt})` : "reconnecting…",
    ended: "session ended",
    error: `disconnected: ${d.reason || "error"}`,
  }[d.state];
  setPill(d.state, text || d.state);
  if (d.state === "error") {
    sender.stop();
    showBanner(`Tracking stopped: ${d.reason}.`);
  }
});

client.addEventListener("hello", () => {
  hideBanner();
  // keep the calibration across reconnects (and apply the user's saved one on a new session)
  if (!client.supports("calibration_use")) return;
  let msg = null;
  if (app.profileId) msg = { type: "calibration_use", profile_id: app.profileId };
  else if (app.session && app.session.user_id) msg = { type: "calibration_use", user_id: app.session.user_id };
  if (msg) client.send(msg); // answered with calibration_applied (below) or error profile_not_found
});

client.addEventListener("message", (ev) => {
  const r = ev.detail;
  if (r.type !== "calibration_applied") return;
  app.profileId = r.profile_id || app.profileId;
  if (app.profileId) sessionStorage.setItem("gazescope.profile", app.profileId);
  const acc = r.accuracy && typeof r.accuracy.mean_error_px === "number" ? `, ${r.accuracy.mean_error_px.toFixed(0)} px` : "";
  setCalibration(`saved profile (${r.grade || "?"}${acc})`);
});

client.addEventListener("message", (ev) => {
  const r = ev.detail;
  if (r.type !== "click_result") return;
  const layer = $("stimulus-layer");
  layer.dataset.click = r.status;
  if (r.status === "refit") layer.dataset.fit = r.fit_id;
  if (r.status === "refit" && app.recording) app.recording.refits = (app.recording.refits || 0) + 1;
});

client.addEventListener("server-error", (ev) => {
  const m = ev.detail;
  if (m.code === "session_ended") return;
  if (/frame|decode|image/.test(m.code || "")) return; // counted, not shown one by one
  if (m.code === "not_found" || m.code === "profile_not_found") return; // no saved calibration
  if (!runner.running) showBanner(`Server: ${m.message || m.code}`, "info");
});

client.addEventListener("ended", () => {
  sender.stop();
  // ended from elsewhere (another tab, the dashboard, the API): tidy up and show its report
  if (app.session && !app.ending) {
    showBanner("This session was ended from elsewhere.", "info");
    endSession({ alreadyEnded: true });
  }
});

// ------------------------------------------------------------------------------------------------
// live metrics, overlay, focus alert

function setCalibration(text) {
  app.calibration = text;
  $("m-calibration").textContent = text;
}

let metricsQueued = false;

client.addEventListener("sample", (ev) => {
  const s = ev.detail;
  app.lastSample = s;
  gazeLayer.push(s);
  if (app.recording) app.recording.samples += 1;
  focusAlert(s);
  if (!metricsQueued) {
    metricsQueued = true;
    requestAnimationFrame(() => {
      metricsQueued = false;
      renderMetrics(app.lastSample);
      drawOverlay(app.lastSample);
    });
  }
});

function renderMetrics(s) {
  const state = s.attention_state || "absent";
  const st = $("m-state");
  st.textContent = state.replace("_", " ");
  st.dataset.state = state;
  $("m-score").textContent = fmt(s.attention_score, "", 2);
  $("m-score-bar").value = s.attention_score || 0;
  $("m-eye").textContent = fmt(s.eye_contact_pct, " %", 0);
  $("m-blinks").textContent = String(s.blink_count ?? "–");
  $("m-blink-rate").textContent = fmt(s.blink_rate_per_min, " /min", 1);
  const lat = client.latency();
  $("m-latency").textContent = lat === null ? "–" : `${lat.toFixed(0)} ms`;
  $("m-fps").textContent = fmt(client.fps(), "", 1);
  const skipped = client.stats.skipped;
  $("m-dropped").textContent = `${s.dropped_frames ?? 0} · ${skipped} skipped`;
  $("m-dropped").title = "first: frames the server dropped while another was processed (newest wins); " +
    "skipped: frames not sent because earlier ones were still in flight";
  $("m-samples").textContent = String(client.stats.samples);
  $("m-samples").dataset.count = String(client.stats.samples);
  $("no-face").hidden = s.face_detected !== false;
}

function focusAlert(s) {
  const threshold = num("alert-threshold", 0, 1, 0.5);
  const seconds = num("alert-seconds", 1, 300, 5);
  const state = s.attention_state || "absent";
  const scoreLow = !(s.attention_score >= threshold);
  const low = scoreLow || state !== "focused";
  const now = performance.now();
  const el = $("alert");
  if (!low || app.recording) {
    app.lowSince = null;
    el.hidden = true;
    return;
  }
  if (app.lowSince === null) app.lowSince = now;
  const lowFor = (now - app.lowSince) / 1000;
  if (lowFor >= seconds) {
    const why = state !== "focused" ? state.replace("_", " ") : `score ${fmt(s.attention_score, "", 2)} < ${threshold}`;
    el.textContent = `Attention has been low for ${lowFor.toFixed(0)} s (${why}). Are you still with us?`;
    el.hidden = false;
  }
}

/** Map a point of the sent frame (frame px) to the mirrored preview (CSS px of the overlay). */
function frameToPreview(p, fs, box) {
  const v = $("video");
  const vw = v.videoWidth || fs.width;
  const vh = v.videoHeight || fs.height;
  // the frame is the camera image scaled by s and centred (Camera.capture)
  const s = Math.min(fs.width / vw, fs.height / vh);
  const cx = (p[0] - (fs.width - vw * s) / 2) / s;
  const cy = (p[1] - (fs.height - vh * s) / 2) / s;
  // the preview shows the camera image with object-fit: contain, mirrored
  const d = Math.min(box.w / vw, box.h / vh);
  const ox = (box.w - vw * d) / 2;
  const oy = (box.h - vh * d) / 2;
  return [box.w - (ox + cx * d), oy + cy * d];
}

function drawOverlay(s) {
  const c = $("overlay");
  const box = { w: c.clientWidth, h: c.clientHeight };
  const dpr = window.devicePixelRatio || 1;
  if (c.width !== Math.round(box.w * dpr) || c.height !== Math.round(box.h * dpr)) {
    c.width = Math.round(box.w * dpr);
    c.height = Math.round(box.h * dpr);
  }
  const ctx = c.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, box.w, box.h);
  if (!$("show-overlay").checked || !s || !s.face_detected) return;
  const fs = frameSettings();
  const pupils = [s.pupil_left_px, s.pupil_right_px].filter((p) => Array.isArray(p) && p.length >= 2);
  const pts = pupils.map((p) => frameToPreview(p, fs, box));
  ctx.lineWidth = 2;
  for (const [x, y] of pts) {
    ctx.beginPath();
    ctx.arc(x, y, s.is_blinking ? 3 : 6, 0, Math.PI * 2);
    ctx.strokeStyle = s.is_blinking ? "#ffd24a" : "#34e07a";
    ctx.stroke();
  }
  if (pts.length === 2 && Array.isArray(s.gaze_vector)) {
    // gaze direction from between the eyes; x is mirrored like the preview
    const mx = (pts[0][0] + pts[1][0]) / 2;
    const my = (pts[0][1] + pts[1][1]) / 2;
    const len = Math.hypot(pts[0][0] - pts[1][0], pts[0][1] - pts[1][1]) * 1.5;
    ctx.strokeStyle = s.eye_contact ? "#34e07a" : "#ff9d3b";
    ctx.beginPath();
    ctx.moveTo(mx, my);
    ctx.lineTo(mx - s.gaze_vector[0] * len, my + s.gaze_vector[1] * len);
    ctx.stroke();
  }
  c.dataset.pupils = String(pts.length);
}

// ------------------------------------------------------------------------------------------------
// start: consent, camera, session

function updateStartButtons() {
  const ok = $("consent").checked;
  $("camera-start").disabled = !ok || camera.running;
  $("session-start").disabled = !ok || !camera.running;
  $("session-resume").disabled = !ok || !camera.running;
}

/** After a reload: offer to resume this tab's session if the server still has it running. */
async function offerResume() {
  const id = sessionStorage.getItem("gazescope.session");
  const button = $("session-resume");
  button.hidden = true;
  if (!id || app.session) return;
  let s;
  try {
    s = await api(`/api/sessions/${encodeURIComponent(id)}`);
  } catch {
    sessionStorage.removeItem("gazescope.session");
    return;
  }
  if (s.status === "ended") {
    sessionStorage.removeItem("gazescope.session");
    return;
  }
  button.hidden = false;
  button.textContent = `Resume session ${id.slice(0, 8)}…`;
  button.title = `Continue session ${id} (${s.sample_count} samples so far)`;
  button.onclick = () => {
    app.profileId = sessionStorage.getItem("gazescope.profile") || null;
    setCalibration(app.profileId ? "restoring…" : "none");
    track(s);
  };
}

async function startCamera() {
  const box = $("camera-error");
  box.hidden = true;
  const fs = frameSettings();
  $("camera-start").disabled = true;
  $("camera-start").textContent = "Starting camera…";
  try {
    await camera.start(fs.width, fs.height, fs.fps);
    $("live").hidden = false;
    const v = $("video");
    $("preview-wrap").style.aspectRatio = `${v.videoWidth || 4} / ${v.videoHeight || 3}`;
    $("camera-start").textContent = "Camera on";
  } catch (err) {
    box.textContent = explainCameraError(err);
    box.dataset.error = err.name || "Error";
    box.hidden = false;
    $("camera-start").textContent = "Start camera";
  }
  updateStartButtons();
}

async function refreshProfileInfo() {
  const el = $("profile-info");
  const user = $("user-id").value.trim();
  el.hidden = true;
  if (!user || !(await has("GET", "/api/profiles"))) return;
  try {
    const list = await api(`/api/profiles?user_id=${encodeURIComponent(user)}`);
    const items = Array.isArray(list) ? list : (list && list.profiles) || [];
    if (!items.length) {
      el.textContent = "No saved calibration for this user id yet: calibrate once and it is reused next time.";
    } else {
      const p = items[0];
      const when = p.created_at_ms ? new Date(p.created_at_ms).toLocaleString() : p.created_at || "";
      const acc = p.accuracy && typeof p.accuracy.mean_error_px === "number" ? `, mean error ${p.accuracy.mean_error_px.toFixed(0)} px` : "";
      el.textContent = `A saved calibration (${p.grade || "ungraded"}${acc}${when ? `, ${when}` : ""}) will be used. You can recalibrate at any time.`;
    }
    el.hidden = false;
  } catch {
    /* profiles unavailable: say nothing */
  }
}

async function createSession(extra = {}) {
  const user = $("user-id").value.trim();
  const label = $("label").value.trim();
  const body = { screen_w_px: Math.round(window.innerWidth), screen_h_px: Math.round(window.innerHeight), ...extra };
  if (user) body.user_id = user;
  if (label && !body.label) body.label = label;
  return api("/api/sessions", { method: "POST", body });
}

function track(session) {
  app.session = session;
  app.lowSince = null;
  $("session-id").textContent = session.id;
  $("start-panel").hidden = true;
  $("live").hidden = false;
  $("live").dataset.active = "1";
  sessionStorage.setItem("gazescope.session", session.id);
  client.connect(session.id);
  sender.start();
}

async function startSession() {
  $("session-start").disabled = true;
  try {
    const s = await createSession();
    app.profileId = null;
    sessionStorage.removeItem("gazescope.profile");
    setCalibration("none");
    track(s);
  } catch (err) {
    reportApiError("The session could not be started", err);
    updateStartButtons();
  }
}

async function endSession({ toReport = true, alreadyEnded = false } = {}) {
  const s = app.session;
  if (!s || app.ending) return;
  app.ending = true;
  app.session = null;
  sender.stop();
  $("session-end").disabled = true;
  try {
    if (!alreadyEnded) await api(`/api/sessions/${encodeURIComponent(s.id)}/end`, { method: "POST" });
  } catch (err) {
    reportApiError("The session could not be ended", err);
  } finally {
    app.ending = false;
  }
  client.close();
  setPill("ended", "session ended");
  camera.stop();
  gazeLayer.stop();
  $("show-gaze").checked = false;
  sessionStorage.removeItem("gazescope.session");
  sessionStorage.removeItem("gazescope.profile");
  $("session-end").disabled = false;
  $("live").hidden = true;
  $("live").dataset.active = "0";
  $("start-panel").hidden = false;
  $("camera-start").textContent = "Start camera";
  updateStartButtons();
  if (toReport) location.hash = `#/report/${encodeURIComponent(s.id)}`;
}

function reportApiError(prefix, err) {
  if (err instanceof ApiError && err.status === 401) {
    showBanner(`${prefix}: this server needs an API token. Enter it under Settings.`);
    openSettings(true);
  } else {
    showBanner(`${prefix}: ${err.message}`);
  }
}

// ------------------------------------------------------------------------------------------------
// calibration

async function calibrate() {
  if (!app.session || client.state !== "connected" || !client.ready) {
    showBanner("Calibration needs a connected session: wait until the connection is back.", "info");
    return;
  }
  const layout = $("cal-layout").value;
  const userId = app.session && app.session.user_id ? app.session.user_id : "";
  const wasShowing = gazeLayer.running;
  gazeLayer.stop();
  let res;
  try {
    res = await runner.run({ layout, userId, targetTimeoutS: num("target-timeout", 1, 20, 4) });
  } catch (err) {
    if (err instanceof CalibrationUnsupported) {
      runner.close();
      showBanner("This gazescope server does not offer calibration yet, so there is no gaze on screen.", "info", 10000);
      return;
    }
    runner.showError(`Calibration failed: ${err.message}`, { onAgain: calibrate, onDone: () => restoreGaze(wasShowing) });
    return;
  }
  if (!res) {
    runner.close();
    restoreGaze(wasShowing);
    return;
  }
  if (res.profile_id) {
    app.profileId = res.profile_id;
    sessionStorage.setItem("gazescope.profile", res.profile_id);
  }
  const acc = res.accuracy || {};
  setCalibration(`${res.grade || "?"}${typeof acc.mean_error_px === "number" ? `, ${acc.mean_error_px.toFixed(0)} px` : ""}`);
  runner.showResult(res, {
    onAgain: calibrate,
    onDone: () => {
      $("show-gaze").checked = true;
      restoreGaze(true);
    },
  });
}

function restoreGaze(on) {
  if (on) gazeLayer.start();
}

// ------------------------------------------------------------------------------------------------
// stimulus mode

async function openStimulusDialog() {
  const dlg = $("stimulus-dialog");
  $("stimulus-error").hidden = true;
  $("stimulus-go").disabled = true;
  app.stimulus = null;
  dlg.showModal();
  await renderStimulusList();
}

async function renderStimulusList(selectId = null) {
  const list = $("stimulus-list");
  if (!(await has("GET", "/api/stimuli"))) {
    list.innerHTML = '<p class="hint">This server has no stimulus endpoints yet (GET/POST /api/stimuli).</p>';
    $("stimulus-upload").disabled = true;
    return;
  }
  $("stimulus-upload").disabled = false;
  let items = [];
  try {
    items = (await api("/api/stimuli")) || [];
  } catch (err) {
    list.textContent = `Stimuli could not be listed: ${err.message}`;
    return;
  }
  list.innerHTML = items.length ? "" : '<p class="hint">No stimuli yet: upload an image.</p>';
  for (const st of items) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.stimulus = st.id;
    b.setAttribute("aria-pressed", "false");
    const img = document.createElement("img");
    img.alt = "";
    const cap = document.createElement("span");
    cap.textContent = st.name || st.id;
    b.append(img, cap);
    b.onclick = () => selectStimulus(st, b);
    list.appendChild(b);
    imageUrl(`/api/stimuli/${encodeURIComponent(st.id)}/image`)
      .then((u) => {
        img.onload = () => URL.revokeObjectURL(u);
        img.src = u;
      })
      .catch(() => {});
    if (selectId && st.id === selectId) selectStimulus(st, b);
  }
}

function selectStimulus(st, button) {
  for (const b of $("stimulus-list").querySelectorAll("button")) b.setAttribute("aria-pressed", "false");
  button.setAttribute("aria-pressed", "true");
  app.stimulus = st;
  $("stimulus-go").disabled = false;
}

async function uploadStimulus() {
  const file = $("stimulus-file").files[0];
  const errEl = $("stimulus-error");
  errEl.hidden = true;
  if (!file) {
    errEl.textContent = "Choose an image file first.";
    errEl.hidden = false;
    return;
  }
  const form = new FormData();
  form.append("file", file);
  form.append("name", $("stimulus-name").value.trim() || file.name);
  try {
    const st = await api("/api/stimuli", { method: "POST", form });
    forgetStimuli();
    await renderStimulusList(st && st.id);
  } catch (err) {
    errEl.textContent = `Upload failed: ${err.message}`;
    errEl.hidden = false;
  }
}

async function startStimulusRecording() {
  const st = app.stimulus;
  if (!st) return;
  $("stimulus-dialog").close();
  const old = app.session;
  let s;
  try {
    const extra = { stimulus_id: st.id, label: `stimulus: ${st.name || st.id}` };
    if (app.profileId) extra.calibration_id = app.profileId;
    s = await createSession(extra);
  } catch (err) {
    reportApiError("The recording could not be started", err);
    return;
  }
  const wasShowing = gazeLayer.running;
  gazeLayer.stop();
  const layer = $("stimulus-layer");
  const img = $("stimulus-img");
  img.hidden = st.kind === "video";
  try {
    if (st.kind !== "video") img.src = await imageUrl(`/api/stimuli/${encodeURIComponent(st.id)}/image`);
  } catch (err) {
    showBanner(`The stimulus image could not be loaded: ${err.message}`);
    return;
  }
  layer.hidden = false;
  try {
    await document.documentElement.requestFullscreen();
  } catch {
    /* shown over the page instead */
  }
  track(s); // keeps the same camera and sender; the hello handler re-applies the calibration
  if (old) api(`/api/sessions/${encodeURIComponent(old.id)}/end`, { method: "POST" }).catch(() => {});
  const seconds = num("stimulus-seconds", 0, 600, 10);
  const started = performance.now();
  const hud = $("stimulus-hud");
  app.recording = { sessionId: s.id, samples: 0, wasShowing };
  if (st.kind === "video")
    app.recording.stopVideo = playVideoStimulus($("stimulus-video"), st, (m) => client.send(m), stopStimulusRecording);
  layer.dataset.recording = s.id;
  delete layer.dataset.fit;
  delete layer.dataset.click;
  const tick = () => {
    if (!app.recording) return;
    const el = (performance.now() - started) / 1000;
    const refits = app.recording.refits ? ` · ${app.recording.refits} click refits` : "";
    hud.textContent = `recording ${el.toFixed(0)} s${seconds ? ` / ${seconds} s` : ""} · ${app.recording.samples} samples${refits} · Esc to stop`;
    if (seconds && el >= seconds) stopStimulusRecording();
    else app.recording.timer = setTimeout(tick, 250);
  };
  tick();
}

async function stopStimulusRecording() {
  if (!app.recording) return;
  clearTimeout(app.recording.timer);
  if (app.recording.stopVideo) app.recording.stopVideo();
  app.recording = null;
  $("stimulus-layer").hidden = true;
  delete $("stimulus-layer").dataset.recording;
  const img = $("stimulus-img");
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.removeAttribute("src");
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  await endSession({ toReport: true });
}

// ------------------------------------------------------------------------------------------------
// settings panel, router

function openSettings(open) {
  const panel = $("settings");
  panel.hidden = !open;
  $("settings-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("token").focus();
}

const VIEWS = ["track", "review", "report", "aggregate", "observe"];

function showView(name) {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll("[data-nav]")) {
    const nav = a.dataset.nav;
    a.classList.toggle("active", nav === name || (nav === "review" && name !== "track"));
  }
  document.body.dataset.view = name;
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [head, arg] = parts;
  if (head !== "observe") observer.stop();
  switch (head) {
    case "review":
      showView("review");
      await showDashboard();
      break;
    case "report":
      showView("report");
      await showReport(arg);
      break;
    case "stimulus":
    case "user":
      showView("aggregate");
      await showAggregate(head, arg);
      break;
    case "observe":
      showView("observe");
      observer.start(arg);
      break;
    default:
      showView("track");
      if (!$("start-panel").hidden) refreshProfileInfo();
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

function init() {
  tokenFromUrl();
  loadSettings();
  $("server-origin").textContent = location.origin;
  for (const id of SETTING_IDS) $(id).addEventListener("change", saveSettings);
  $("token").addEventListener("change", () => {
    setToken($("token").value.trim());
    hideBanner();
    refreshProfileInfo();
  });
  $("settings-toggle").onclick = () => openSettings($("settings").hidden);
  $("consent").onchange = updateStartButtons;
  $("camera-start").onclick = startCamera;
  $("session-start").onclick = startSession;
  $("session-end").onclick = () => endSession();
  $("calibrate").onclick = calibrate;
  $("show-gaze").onchange = () => ($("show-gaze").checked ? gazeLayer.start() : gazeLayer.stop());
  $("show-overlay").onchange = () => drawOverlay(app.lastSample);
  $("stimulus-open").onclick = openStimulusDialog;
  $("stimulus-upload").onclick = uploadStimulus;
  $("stimulus-go").onclick = startStimulusRecording;
  $("refresh-sessions").onclick = showDashboard;
  $("filter-user").onchange = showDashboard;
  $("filter-stimulus").onchange = showDashboard;
  $("report-delete").onclick = async () => {
    const id = $("view-report").dataset.session;
    if (!id || !confirm("Delete this session, its samples and its report?")) return;
    try {
      await deleteSession(id);
      location.hash = "#/review";
    } catch (err) {
      reportApiError("The session could not be deleted", err);
    }
  };
  let userTimer = null;
  $("user-id").addEventListener("input", () => {
    const v = $("user-id").value.trim();
    if (v) localStorage.setItem(USER_KEY, v);
    else localStorage.removeItem(USER_KEY);
    clearTimeout(userTimer);
    userTimer = setTimeout(refreshProfileInfo, 400);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && app.recording) stopStimulusRecording();
  });
  // a click on the stimulus is a calibration sample at the click point: the server refits (issue 14)
  $("stimulus-layer").addEventListener("click", (ev) => {
    if (app.recording && client.supports("click")) client.send({ type: "click", x_px: ev.clientX, y_px: ev.clientY });
  });
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement && app.recording) stopStimulusRecording();
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("gazescope:need-token", () => {
    showBanner("This server needs an API token: enter it under Settings, then try again.");
    openSettings(true);
  });
  updateStartButtons();
  refreshProfileInfo();
  offerResume();
  route();
}

init();
