// Stimulus: the dialog that lists, uploads and chooses a stimulus, and the full-screen recording of gaze on
// it (an image, or a video played by video_stimulus.js) in a new session; a click on it is a calibration
// sample at the click point (issue 14). A recording without a usable calibration is warned about before it
// starts (calibrate first, or record anyway). After a recording the camera stays on and the "next" bar
// offers the next stimulus in one click.

import { api, has, imageUrl } from "../api.js";
import { num, reportApiError } from "../settings.js";
import { app, camera, client, gazeLayer } from "../state.js";
import { forgetStimuli } from "../stimuli.js";
import { $, showBanner } from "../ui.js";
import { playVideoStimulus } from "../video_stimulus.js";
import { calibrate, calibratedForRecording, setCalibration } from "./calibration.js";
import { createSession, endSession, stopCamera, track } from "./track.js";

const nameOf = (st) => st.name || st.id;

/** Open the stimulus dialog (`selectId` chosen); `warn`: show the missing-calibration warning at once. */
async function openStimulusDialog(selectId = null, { warn = false } = {}) {
  const dlg = $("stimulus-dialog");
  $("stimulus-error").hidden = true;
  $("stimulus-warning").hidden = true;
  $("stimulus-go").disabled = true;
  app.stimulus = null;
  if (!dlg.open) dlg.showModal();
  await renderStimulusList(typeof selectId === "string" ? selectId : null);
  if (warn && app.stimulus) showWarning();
}

/** Say in the dialog that the recording would have no screen gaze, and offer to calibrate first. */
function showWarning() {
  const gate = app.gate;
  const why =
    app.profileId && !app.profileAccepted && gate && gate.passed === false
      ? `Your calibration was not accurate enough (${Number(gate.error_pct_width).toFixed(1)} % of the width, ` +
        `above the ${gate.max_error_pct_width} % limit) and you did not keep it`
      : "You have not calibrated";
  $("stimulus-warning-text").textContent =
    `${why}, so this recording would have no gaze on the screen: no heatmap, scanpath or area-of-interest ` +
    "figures, only attention, blinks and head pose. Calibrate first, or record anyway?";
  $("stimulus-warning").hidden = false;
  $("stimulus-calibrate").focus();
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
  $("stimulus-warning").hidden = true;
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

/** Start recording on `st`, or, without a usable calibration, open the dialog with the warning. */
function startRecording(st) {
  app.stimulus = st;
  if (!calibratedForRecording()) {
    openStimulusDialog(st.id, { warn: true });
    return;
  }
  record(st);
}

/** The dialog's Start recording: warn first when the recording would have no screen gaze. */
function startStimulusRecording() {
  const st = app.stimulus;
  if (!st) return;
  if (!calibratedForRecording() && $("stimulus-warning").hidden) {
    showWarning();
    return;
  }
  record(st);
}

/** Record on `st` now: its session is created once the stimulus can be shown (frames follow at once). */
async function record(st) {
  if (!camera.running) {
    $("stimulus-error").textContent = "Start the camera first (Track: Start camera).";
    $("stimulus-error").hidden = false;
    return;
  }
  $("stimulus-dialog").close();
  $("next-bar").hidden = true;
  const old = app.session;
  const img = $("stimulus-img");
  let src = null;
  if (st.kind !== "video") {
    try {
      src = await imageUrl(`/api/stimuli/${encodeURIComponent(st.id)}/image`);
    } catch (err) {
      showBanner(`The stimulus image could not be loaded: ${err.message}`);
      return;
    }
  }
  let s;
  try {
    const extra = { stimulus_id: st.id, label: `stimulus: ${nameOf(st)}` };
    if (app.profileId && app.profileAccepted) extra.calibration_id = app.profileId;
    s = await createSession(extra);
    if (!extra.calibration_id) setCalibration(app.savedProfile ? "saved profile (applying…)" : "none");
  } catch (err) {
    if (src) URL.revokeObjectURL(src);
    reportApiError("The recording could not be started", err);
    return;
  }
  const wasShowing = gazeLayer.running;
  gazeLayer.stop();
  const layer = $("stimulus-layer");
  img.hidden = st.kind === "video";
  if (src) img.src = src;
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
  app.recording = { sessionId: s.id, samples: 0, wasShowing, stimulus: st };
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
  const rec = app.recording;
  if (!rec) return;
  clearTimeout(rec.timer);
  if (rec.stopVideo) rec.stopVideo();
  app.recording = null;
  $("stimulus-layer").hidden = true;
  delete $("stimulus-layer").dataset.recording;
  const img = $("stimulus-img");
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.removeAttribute("src");
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  if (rec.samples === 0) {
    // stopped before any frame was processed: no empty session is left behind
    await endSession({ toReport: false, keepCamera: true });
    api(`/api/sessions/${encodeURIComponent(rec.sessionId)}`, { method: "DELETE" }).catch(() => {});
    showBanner("The recording stopped before any frame was processed; its empty session was deleted.", "info");
    await showNextBar();
    return;
  }
  await endSession({ toReport: true, keepCamera: true });
  app.lastRecorded = { stimulus: rec.stimulus, sessionId: rec.sessionId, samples: rec.samples };
  await showNextBar();
}

/** After a recording (camera on, nothing tracked): offer the next stimulus of the list in one click. */
async function showNextBar() {
  const last = app.lastRecorded;
  if (!last || !camera.running || app.session || app.recording) return;
  let items = [];
  try {
    items = (await api("/api/stimuli")) || [];
  } catch {
    /* offer the same stimulus again */
  }
  const i = items.findIndex((x) => x.id === last.stimulus.id);
  const next = items.length ? items[(i + 1) % items.length] : last.stimulus;
  if (!camera.running || app.session || app.recording) return; // something started meanwhile
  $("next-text").textContent = `Recorded “${nameOf(last.stimulus)}” (${last.samples} samples). The camera stays on.`;
  const button = $("next-record");
  button.textContent = next.id === last.stimulus.id ? `Record “${nameOf(next)}” again` : `Record next: “${nameOf(next)}”`;
  button.dataset.stimulus = next.id;
  button.onclick = () => startRecording(next);
  $("next-choose").onclick = () => openStimulusDialog(next.id);
  $("next-bar").hidden = false;
}

/** Wire the stimulus dialog and the recording layer (Esc or leaving full screen stops a recording). */
export function initStimulus() {
  client.addEventListener("message", (ev) => {
    const r = ev.detail;
    if (r.type !== "click_result") return;
    const layer = $("stimulus-layer");
    layer.dataset.click = r.status;
    if (r.status === "refit") layer.dataset.fit = r.fit_id;
    if (r.status === "refit" && app.recording) app.recording.refits = (app.recording.refits || 0) + 1;
  });
  $("stimulus-open").onclick = () => openStimulusDialog();
  $("stimulus-upload").onclick = uploadStimulus;
  $("stimulus-go").onclick = startStimulusRecording;
  $("stimulus-anyway").onclick = () => app.stimulus && record(app.stimulus);
  $("stimulus-calibrate").onclick = () => {
    const st = app.stimulus;
    $("stimulus-dialog").close();
    if (!location.hash.startsWith("#/track")) location.hash = "#/track";
    calibrate({ after: () => openStimulusDialog(st ? st.id : null) });
  };
  $("next-stop").onclick = stopCamera;
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
}
