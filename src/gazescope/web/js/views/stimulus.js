// Stimulus: the dialog that lists, uploads and chooses a stimulus, and the full-screen recording of gaze on
// it (an image, or a video played by video_stimulus.js) in a new session; a click on it is a calibration
// sample at the click point (issue 14).

import { api, has, imageUrl } from "../api.js";
import { num, reportApiError } from "../settings.js";
import { app, client, gazeLayer } from "../state.js";
import { forgetStimuli } from "../stimuli.js";
import { $, showBanner } from "../ui.js";
import { playVideoStimulus } from "../video_stimulus.js";
import { createSession, endSession, track } from "./track.js";

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
  $("stimulus-open").onclick = openStimulusDialog;
  $("stimulus-upload").onclick = uploadStimulus;
  $("stimulus-go").onclick = startStimulusRecording;
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
