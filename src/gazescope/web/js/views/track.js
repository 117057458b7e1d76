// Track: the start panel (consent, camera, user id, starting or resuming a session), the live preview with
// the eye overlay, the live metrics and the focus alert, the connection pill, and ending the session. A
// session is created only when frames are about to be sent (Start session, Calibrate, a recording); the
// camera stays on between recordings until the user stops it.

import { api, has } from "../api.js";
import { explainCameraError } from "../camera.js";
import { frameSettings, num, reportApiError, saveUserId } from "../settings.js";
import { app, camera, client, gazeLayer, runner, sender } from "../state.js";
import { DEVICE_MIN_FPS, faceMeshStatus } from "../tracker.js";
import { $, fmt, hideBanner, showBanner } from "../ui.js";
import { calibrating, setCalibration } from "./calibration.js";

// ------------------------------------------------------------------------------------------------
// connection state

function setPill(state, text) {
  const el = $("conn-state");
  el.dataset.state = state;
  el.textContent = text;
}

function onClientState(ev) {
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
}

function onServerError(ev) {
  const m = ev.detail;
  if (m.code === "session_ended") return;
  if (/frame|decode|image|landmarks/.test(m.code || "")) return; // counted, not shown one by one
  if (m.code === "not_found" || m.code === "profile_not_found") return; // no saved calibration
  if (!calibrating()) showBanner(`Server: ${m.message || m.code}`, "info");
}

function onEnded() {
  sender.stop();
  // ended from elsewhere (another tab, the dashboard, the API): tidy up and show its report
  if (app.session && !app.ending) {
    showBanner("This session was ended from elsewhere.", "info");
    endSession({ alreadyEnded: true });
  }
}

// ------------------------------------------------------------------------------------------------
// live metrics, overlay, focus alert

let metricsQueued = false;

function onSample(ev) {
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
}

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
// where the face is tracked: on this device (Face Mesh in the page, landmarks sent) or on the server
// (camera frames sent). Until the camera starts the app says "server" (the consent covers frames); when
// the camera starts, Face Mesh is loaded and timed for 2 s, and "on this device" becomes the mode when it
// reaches DEVICE_MIN_FPS (unless the user chose). A change towards sending frames asks for consent again.

const MODE_KEY = "gazescope.trackingMode";
const faceMesh = { available: null, pending: false, measured: false };

/** The mode the user chose on this device ("device", "server"), or null for the default. */
function chosenMode() {
  const m = localStorage.getItem(MODE_KEY);
  return m === "device" || m === "server" ? m : null;
}

function setModeInfo(text, state) {
  const el = $("mode-info");
  el.textContent = text;
  el.dataset.state = state;
}

/** Use `mode` ("device" or "server"): radios, consent text, live tag. */
function setMode(mode) {
  const before = app.trackingMode;
  app.trackingMode = mode;
  $("mode-device").checked = mode === "device";
  $("mode-server").checked = mode === "server";
  $("tracking-mode").dataset.mode = mode;
  $("consent-server").hidden = mode !== "server";
  $("consent-device").hidden = mode !== "device";
  const tag = $("m-mode");
  tag.dataset.mode = mode;
  tag.textContent = mode === "device" ? "on this device" : "on the server";
  tag.title = mode === "device"
    ? "Face Mesh runs in this page: only face landmarks (no image) leave this computer"
    : "Camera frames are sent to the server, analysed in memory and discarded";
  if (before === "device" && mode === "server" && $("consent").checked) {
    // more leaves the computer than the user agreed to
    $("consent").checked = false;
    showBanner("Tracking will now send camera frames to the server: read the updated text and agree again.", "info");
  }
  updateStartButtons();
}

/** At page load: does the server have the Face Mesh files? */
async function checkFaceMesh() {
  const st = await faceMeshStatus();
  faceMesh.available = !!st.available;
  if (!faceMesh.available) {
    setMode("server");
    setModeInfo(
      "On-device tracking is unavailable: this server has no Face Mesh files (its administrator runs " +
        "`gazescope vendor`). Camera frames are sent to the server.",
      "unavailable",
    );
  } else if (chosenMode()) {
    setMode(chosenMode());
    setModeInfo(chosenMode() === "device" ? "You chose this device; Face Mesh loads when the camera starts."
      : "You chose the server: camera frames are sent.", "chosen");
  } else {
    setMode("server");
    setModeInfo(`When the camera starts, Face Mesh is timed here for 2 s: at ${DEVICE_MIN_FPS} frames per second ` +
      "or more, your face is tracked on this device and only landmarks are sent.", "pending");
  }
  updateStartButtons();
}

/** After the camera starts: load Face Mesh, time it, and choose the default mode. */
async function measureDevice() {
  if (!faceMesh.available || faceMesh.measured || faceMesh.pending) return;
  faceMesh.pending = true;
  updateStartButtons();
  setModeInfo("Loading Face Mesh and timing it on this device (about 2 s)…", "measuring");
  try {
    await runner.load();
    const fs = frameSettings();
    const fps = await runner.measureFps(() => camera.draw(fs.width, fs.height), 2000);
    app.deviceFps = fps;
    faceMesh.measured = true;
    const fast = fps >= DEVICE_MIN_FPS;
    const speed = `Face Mesh runs at ${fps.toFixed(1)} frames per second on this device`;
    const chosen = chosenMode();
    if (chosen) {
      setMode(chosen);
      setModeInfo(`${speed}; you chose ${chosen === "device" ? "this device" : "the server"}.`, fast ? "ok" : "slow");
    } else if (fast) {
      setMode("device");
      setModeInfo(`${speed}: your face is tracked here and only landmarks are sent.`, "ok");
    } else {
      setMode("server");
      setModeInfo(`${speed} (under ${DEVICE_MIN_FPS}): camera frames are sent to the server instead.`, "slow");
    }
  } catch (err) {
    faceMesh.available = false;
    setMode("server");
    setModeInfo(`On-device tracking could not start here (${err.message}): camera frames are sent to the server.`, "unavailable");
  } finally {
    faceMesh.pending = false;
    updateStartButtons();
  }
}

function onModeChosen(ev) {
  const mode = ev.target.value;
  localStorage.setItem(MODE_KEY, mode);
  setMode(mode);
  setModeInfo(mode === "device" ? "You chose this device: only landmarks are sent." : "You chose the server: camera frames are sent.", "chosen");
  if (mode === "device" && camera.running) measureDevice();
}

// ------------------------------------------------------------------------------------------------
// start: consent, camera, session

function updateStartButtons() {
  const ok = $("consent").checked;
  const live = !!app.session;
  const ready = ok && camera.running && !faceMesh.pending;
  $("camera-start").disabled = !ok || camera.running;
  $("session-start").disabled = !ready;
  $("session-resume").disabled = !ready;
  $("mode-device").disabled = live || faceMesh.pending || faceMesh.available === false;
  $("mode-server").disabled = live || faceMesh.pending;
  $("session-end").hidden = !live;
  $("camera-stop").hidden = live || !camera.running;
  $("calibrate").disabled = (!ok && !live) || faceMesh.pending;
  $("stimulus-open").disabled = (!ok && !live) || faceMesh.pending;
}

/** The camera is on and no session runs: the preview with the actions that start one. */
function showPreview() {
  $("live").hidden = false;
  $("live").dataset.active = "0";
  const v = $("video");
  $("preview-wrap").style.aspectRatio = `${v.videoWidth || 4} / ${v.videoHeight || 3}`;
  $("camera-start").textContent = "Camera on";
}

/** Turn the camera off (the MediaStream's tracks stop) and go back to the start panel. */
export function stopCamera() {
  if (app.session || app.recording) return;
  camera.stop();
  $("next-bar").hidden = true;
  $("live").hidden = true;
  $("live").dataset.active = "0";
  $("start-panel").hidden = false;
  $("camera-start").textContent = "Start camera";
  updateStartButtons();
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
    app.profileSession = s.id;
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
    showPreview();
    updateStartButtons();
    await measureDevice();
  } catch (err) {
    box.textContent = explainCameraError(err);
    box.dataset.error = err.name || "Error";
    box.hidden = false;
    $("camera-start").textContent = "Start camera";
  }
  updateStartButtons();
}

/** Say on the start panel whether the user id has a saved calibration (which a new session will use). */
export async function refreshProfileInfo() {
  const el = $("profile-info");
  const user = $("user-id").value.trim();
  el.hidden = true;
  app.savedProfile = null;
  if (!user || !(await has("GET", "/api/profiles"))) return;
  try {
    const list = await api(`/api/profiles?user_id=${encodeURIComponent(user)}`);
    const all = Array.isArray(list) ? list : (list && list.profiles) || [];
    const items = all.filter((p) => p.accepted !== false); // failed the quality gate and not kept: not reused
    app.savedProfile = items[0] || null;
    if (!items.length && all.length) {
      el.textContent = "This user id's last calibration was not accurate enough and was not kept: calibrate again.";
    } else if (!items.length) {
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

/**
 * Create a session (POST /api/sessions) for this viewport, with the user id and label of the start panel;
 * `extra` adds or overrides fields (stimulus_id, label, calibration_id). Resolves with the SessionOut.
 */
export async function createSession(extra = {}) {
  const user = $("user-id").value.trim();
  const label = $("label").value.trim();
  const body = { screen_w_px: Math.round(window.innerWidth), screen_h_px: Math.round(window.innerHeight), ...extra };
  if (user) body.user_id = user;
  if (label && !body.label) body.label = label;
  return api("/api/sessions", { method: "POST", body });
}

/** Track `session` (a SessionOut): show the live panel, connect the tracking socket and send frames. */
export function track(session) {
  app.session = session;
  app.lowSince = null;
  $("session-id").textContent = session.id;
  $("start-panel").hidden = true;
  $("next-bar").hidden = true;
  $("live").hidden = false;
  $("live").dataset.active = "1";
  sessionStorage.setItem("gazescope.session", session.id);
  client.connect(session.id);
  sender.start();
  updateStartButtons();
}

/** Resolves true once the tracking connection has said hello (false after `ms`). */
function connected(ms) {
  return new Promise((resolve) => {
    if (client.ready && client.state === "connected") {
      resolve(true);
      return;
    }
    const onHello = () => finish(true);
    const timer = setTimeout(() => finish(false), ms);
    const finish = (ok) => {
      clearTimeout(timer);
      client.removeEventListener("hello", onHello);
      resolve(ok);
    };
    client.addEventListener("hello", onHello);
  });
}

/**
 * The session being tracked, connected; when there is none (camera on, nothing tracked), one is created
 * now, its frames about to be sent (`extra` as in createSession; the start panel's label wins). Resolves
 * false (with a message shown) when the camera is off or the session cannot be started.
 */
export async function ensureSession(extra = {}) {
  if (!app.session) {
    if (!camera.running) {
      showBanner("Start the camera first (Track: consent, then Start camera).", "info");
      return false;
    }
    try {
      const s = await createSession($("label").value.trim() ? {} : extra);
      track(s);
    } catch (err) {
      reportApiError("The session could not be started", err);
      return false;
    }
  }
  return connected(20000);
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

/**
 * End the session being tracked (POST .../end unless `alreadyEnded`), close the socket, stop the camera
 * unless `keepCamera` (between recordings), and go back to the start panel, or to the session's report
 * when `toReport`. Resolves with the ended session (null when none was tracked).
 */
export async function endSession({ toReport = true, alreadyEnded = false, keepCamera = false } = {}) {
  const s = app.session;
  if (!s || app.ending) return null;
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
  if (!keepCamera) camera.stop();
  gazeLayer.stop();
  $("show-gaze").checked = false;
  sessionStorage.removeItem("gazescope.session");
  sessionStorage.removeItem("gazescope.profile");
  $("session-end").disabled = false;
  $("start-panel").hidden = false;
  if (camera.running) {
    showPreview();
  } else {
    $("live").hidden = true;
    $("live").dataset.active = "0";
    $("camera-start").textContent = "Start camera";
  }
  updateStartButtons();
  if (toReport) location.hash = `#/report/${encodeURIComponent(s.id)}`;
  return s;
}

// ------------------------------------------------------------------------------------------------
// the view

/** Wire the Track view (buttons, user id, the tracking client's events). */
export function initTrack() {
  client.addEventListener("state", onClientState);
  client.addEventListener("hello", () => hideBanner());
  client.addEventListener("server-error", onServerError);
  client.addEventListener("ended", onEnded);
  client.addEventListener("sample", onSample);
  $("server-origin").textContent = location.origin;
  $("server-origin-device").textContent = location.origin;
  $("mode-device").onchange = onModeChosen;
  $("mode-server").onchange = onModeChosen;
  $("consent").onchange = updateStartButtons;
  $("camera-start").onclick = startCamera;
  $("session-start").onclick = startSession;
  $("session-end").onclick = () => endSession();
  $("camera-stop").onclick = stopCamera;
  $("show-gaze").onchange = () => ($("show-gaze").checked ? gazeLayer.start() : gazeLayer.stop());
  $("show-overlay").onchange = () => drawOverlay(app.lastSample);
  let userTimer = null;
  $("user-id").addEventListener("input", () => {
    saveUserId($("user-id").value.trim());
    clearTimeout(userTimer);
    userTimer = setTimeout(refreshProfileInfo, 400);
  });
}

/** After the page loads: set the start buttons, say whether a calibration is saved, offer to resume. */
export function startTrack() {
  updateStartButtons();
  checkFaceMesh();
  refreshProfileInfo();
  offerResume();
}

/** Show the Track view (the router has made it visible): refresh the start panel's calibration note. */
export function showTrack() {
  if (!$("start-panel").hidden) refreshProfileInfo();
}
