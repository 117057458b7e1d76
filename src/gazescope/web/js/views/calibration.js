// Calibration: the full-screen calibration layer, run over the tracking WebSocket (docs/protocol.md
// "Calibration over the tracking WebSocket"): full-screen targets; for each, show it, send calibration_target,
// wait for calibration_progress done (or a timeout), next; then calibration_finish -> calibration_result
// (grade, accuracy, per-point errors). Also keeps the session's calibration across reconnects.

import { num } from "../settings.js";
import { app, client, gazeLayer } from "../state.js";
import { $, showBanner } from "../ui.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Thrown by CalibrationRunner.run when the server offers no calibration messages. */
export class CalibrationUnsupported extends Error {}

/** [x, y] of a point given as [x, y], {x, y} or {x_px, y_px}; [NaN, NaN] when absent. */
function xy(p) {
  if (Array.isArray(p)) return [Number(p[0]), Number(p[1])];
  if (p && typeof p === "object") return [Number(p.x ?? p.x_px), Number(p.y ?? p.y_px)];
  return [NaN, NaN];
}

async function enterFullscreen() {
  if (document.fullscreenElement || !document.documentElement.requestFullscreen) return;
  try {
    await document.documentElement.requestFullscreen({ navigationUI: "hide" });
    await sleep(350); // let the viewport settle before measuring it
  } catch {
    /* not allowed here (no user gesture, iframe...): calibrate on the viewport as it is */
  }
}

async function exitFullscreen() {
  if (!document.fullscreenElement) return;
  try {
    await document.exitFullscreen();
  } catch {
    /* already left */
  }
}

/** Shows the calibration targets of one calibration on the #calibration layer and its result card. */
export class CalibrationRunner {
  /** @param client TrackingClient */
  constructor(client) {
    this.client = client;
    this.layer = $("calibration");
    this.intro = $("cal-intro");
    this.status = $("cal-status");
    this.target = $("cal-target");
    this.result = $("cal-result");
    this.skip = null;
    this.cancelled = false;
    this.running = false;
    this._onKey = (ev) => {
      if (!this.running) return;
      if (ev.key === " " || ev.code === "Space") {
        ev.preventDefault();
        if (this.skip) this.skip();
      } else if (ev.key === "Escape") {
        this.cancel();
      }
    };
  }

  _phase(p) {
    this.layer.dataset.phase = p;
  }

  cancel() {
    if (!this.running) return;
    this.cancelled = true;
    this.client.send({ type: "calibration_cancel" });
    if (this.skip) this.skip();
  }

  /**
   * Run one calibration. Resolves with the calibration_result message, or null when cancelled.
   * Throws CalibrationUnsupported when the server has no calibration messages, Error(message) on a
   * server error (e.g. not_enough_data).
   */
  async run({ layout = "9", userId = "", targetTimeoutS = 4, mapper = null }) {
    if (!this.client.supports("calibration_start")) {
      throw new CalibrationUnsupported("this server does not offer calibration (no calibration_start message)");
    }
    this.cancelled = false;
    this.running = true;
    this.layer.hidden = false;
    this.intro.hidden = false;
    this.result.hidden = true;
    this.target.hidden = true;
    this.status.textContent = "Starting…";
    this._phase("intro");
    document.addEventListener("keydown", this._onKey);
    try {
      await enterFullscreen();
      const msg = {
        type: "calibration_start",
        layout: String(layout),
        screen_w_px: Math.round(window.innerWidth),
        screen_h_px: Math.round(window.innerHeight),
      };
      if (mapper) msg.mapper = mapper;
      if (userId) {
        msg.user_id = userId;
        msg.save = true;
      }
      const reply = this.client.waitFor((m) => m.type === "calibration_started" || m.type === "error", 15000);
      if (!this.client.send(msg)) throw new Error("not connected");
      const started = await reply;
      if (started.type === "error") throw new Error(started.message || started.code);
      this.layer.dataset.calibrationId = started.calibration_id || "";
      const targets = started.targets || [];
      this.layer.dataset.targets = String(targets.length);
      this.layer.dataset.shown = "";
      this.layer.dataset.outcomes = "";
      this.status.textContent = `${targets.length} dots`;
      await sleep(1200);
      this.intro.hidden = true;
      for (const t of targets) {
        if (this.cancelled) break;
        await this._showTarget(t, started, targetTimeoutS);
      }
      this.target.hidden = true;
      if (this.cancelled) return null;
      this._phase("fitting");
      this.intro.hidden = false;
      this.status.textContent = "Fitting…";
      const done = this.client.waitFor((m) => m.type === "calibration_result" || m.type === "error", 60000);
      this.client.send({ type: "calibration_finish" });
      const res = await done;
      if (res.type === "error") throw new Error(res.message || res.code);
      return res;
    } finally {
      this.running = false;
      this.target.hidden = true;
      document.removeEventListener("keydown", this._onKey);
    }
  }

  async _showTarget(t, started, timeoutS) {
    this._phase("target");
    this.layer.dataset.index = String(t.index);
    this.layer.dataset.shown += `${this.layer.dataset.shown ? "," : ""}${t.index}`;
    const x = typeof t.x_px === "number" ? t.x_px : t.x_norm * window.innerWidth;
    const y = typeof t.y_px === "number" ? t.y_px : t.y_norm * window.innerHeight;
    this.target.style.left = `${x}px`;
    this.target.style.top = `${y}px`;
    this.target.style.setProperty("--remaining", "1");
    this.target.hidden = false;
    const needed = started.samples_per_target || 1;
    const settleMs = started.settle_ms || 0;
    let finish;
    const finished = new Promise((r) => (finish = r));
    this.skip = () => finish("skipped");
    const onMsg = (ev) => {
      const m = ev.detail;
      if (m.type !== "calibration_progress" || m.index !== t.index) return;
      const frac = Math.min(1, (m.samples || 0) / (m.needed || needed));
      this.target.style.setProperty("--remaining", String(Math.max(0.15, 1 - frac)));
      if (m.done) finish("done");
    };
    this.client.addEventListener("message", onMsg);
    const timer = setTimeout(() => finish("timeout"), settleMs + timeoutS * 1000);
    this.client.send({ type: "calibration_target", index: t.index });
    const how = await finished;
    clearTimeout(timer);
    this.client.removeEventListener("message", onMsg);
    this.skip = null;
    this.layer.dataset.last = how;
    this.layer.dataset.outcomes = `${this.layer.dataset.outcomes || ""}${how[0]}`;
    await sleep(150);
  }

  /** Show the result card (grade, mean error, target vs. measured points). */
  showResult(res, { onAgain, onDone }) {
    this._phase("result");
    this.layer.hidden = false;
    this.intro.hidden = true;
    this.result.hidden = false;
    const grade = $("cal-grade");
    grade.textContent = res.grade || "?";
    grade.dataset.grade = res.grade || "";
    const acc = res.accuracy || {};
    const parts = [];
    if (typeof acc.mean_error_px === "number") parts.push(`mean error ${acc.mean_error_px.toFixed(0)} px`);
    if (typeof acc.mean_error_pct_width === "number") parts.push(`${acc.mean_error_pct_width.toFixed(1)} % of the width`);
    if (typeof acc.precision_rms_px === "number") parts.push(`precision ${acc.precision_rms_px.toFixed(0)} px RMS`);
    $("cal-summary").textContent = parts.join(" · ") || "no accuracy figures";
    $("cal-profile").textContent = res.profile_id
      ? `Saved as profile ${res.profile_id}; it is used automatically next time for this user id.`
      : "Not saved (no user id given).";
    this._drawPoints(res.points || []);
    const again = $("cal-again");
    const done = $("cal-done");
    const cleanup = () => {
      again.onclick = null;
      done.onclick = null;
    };
    again.onclick = () => {
      cleanup();
      onAgain();
    };
    done.onclick = () => {
      cleanup();
      this.close();
      onDone();
    };
    done.focus();
  }

  /** Show an error on the calibration layer with Recalibrate / Close. */
  showError(message, { onAgain, onDone }) {
    this.showResult({ grade: "failed", points: [], accuracy: {} }, { onAgain, onDone });
    $("cal-grade").dataset.grade = "poor";
    $("cal-summary").textContent = message;
    $("cal-profile").textContent = "";
    this._phase("error");
  }

  _drawPoints(points) {
    const c = $("cal-points");
    const ctx = c.getContext("2d");
    const W = c.width;
    const H = c.height;
    ctx.clearRect(0, 0, W, H);
    const sx = W / window.innerWidth;
    const sy = H / window.innerHeight;
    ctx.lineWidth = 1.5;
    for (const p of points) {
      const [tx, ty] = xy(p.target_px);
      const mean = xy(p.mean_px);
      ctx.strokeStyle = p.validation ? "#7fd1ff" : "#ffd24a";
      ctx.beginPath();
      ctx.arc(tx * sx, ty * sy, 5, 0, Math.PI * 2);
      ctx.stroke();
      if (Number.isFinite(mean[0]) && Number.isFinite(mean[1])) {
        ctx.strokeStyle = "rgba(255,100,90,.9)";
        ctx.beginPath();
        ctx.moveTo(tx * sx, ty * sy);
        ctx.lineTo(mean[0] * sx, mean[1] * sy);
        ctx.stroke();
        ctx.fillStyle = "#ff645a";
        ctx.fillRect(mean[0] * sx - 2.5, mean[1] * sy - 2.5, 5, 5);
      }
    }
    ctx.fillStyle = "#b8c0cf";
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText("○ target (blue: validation)   ■ measured", 8, H - 8);
  }

  close() {
    this.layer.hidden = true;
    this.result.hidden = true;
    this._phase("closed");
    exitFullscreen();
  }
}

// ------------------------------------------------------------------------------------------------
// the calibration of the session being tracked

const runner = new CalibrationRunner(client);

/** Whether a calibration is running now (its server errors are shown on the calibration layer). */
export function calibrating() {
  return runner.running;
}

/** Show `text` as the calibration in use (the Track view's metrics). */
export function setCalibration(text) {
  app.calibration = text;
  $("m-calibration").textContent = text;
}

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

/** Wire the Calibrate button, and apply the session's calibration whenever the connection says hello. */
export function initCalibration() {
  client.addEventListener("hello", () => {
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
  $("calibrate").onclick = calibrate;
}
