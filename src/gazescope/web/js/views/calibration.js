// Calibration: the full-screen calibration layer, run over the tracking WebSocket (docs/protocol.md
// "Calibration over the tracking WebSocket"): an explanation of the dots (how many calibrate, how many then
// check the accuracy), full-screen targets with a caption ("dot 3 of 9", "checking accuracy: 1 of 4"); for
// each, show it, send calibration_target, wait for calibration_progress done (or a timeout), next; then
// calibration_finish -> calibration_result (grade, accuracy, per-point errors, quality gate), where a
// calibration that fails the gate is offered "Recalibrate" or "Keep anyway" (calibration_keep). Also keeps
// the session's calibration across reconnects.

import { api, has } from "../api.js";
import { num } from "../settings.js";
import { app, client, gazeLayer } from "../state.js";
import { $, esc, showBanner } from "../ui.js";
import { ensureSession } from "./track.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Thrown by CalibrationRunner.run when the server offers no calibration messages. */
export class CalibrationUnsupported extends Error {}

/** [x, y] of a point given as [x, y], {x, y} or {x_px, y_px}; [NaN, NaN] when absent. */
function xy(p) {
  if (Array.isArray(p)) return [Number(p[0]), Number(p[1])];
  if (p && typeof p === "object") return [Number(p.x ?? p.x_px), Number(p.y ?? p.y_px)];
  return [NaN, NaN];
}

/** Dots of each grid layout: {layout: {n: calibration dots, v: validation dots}} (GET
 * /api/calibration/layouts when the server has it; these are the server's own grids). */
const LAYOUT_COUNTS = { 5: { n: 5, v: 4 }, 9: { n: 9, v: 4 }, 13: { n: 13, v: 4 }, 16: { n: 16, v: 4 } };

const plural = (k, one, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;

/** HTML explaining `n` calibration dots then `v` validation dots. */
function explainDots(n, v) {
  const val = v
    ? `, then <b class="val">${plural(v, "dot")}</b> check how accurate it is (they are not used to fit it)`
    : "";
  return `<span class="cal-explain-counts">First <b>${plural(n, "dot")}</b> calibrate${val}.</span><br>` +
    "Look at each dot until its ring closes. Keep your head still.";
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
    this.caption = $("cal-caption");
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
  async run({ layout = "9", userId = "", targetTimeoutS = 4, mapper = null, save = true }) {
    if (!this.client.supports("calibration_start")) {
      throw new CalibrationUnsupported("this server does not offer calibration (no calibration_start message)");
    }
    this.cancelled = false;
    this.running = true;
    this.layer.hidden = false;
    this.intro.hidden = false;
    this.result.hidden = true;
    this.target.hidden = true;
    this.caption.hidden = true;
    const guess = LAYOUT_COUNTS[layout];
    $("cal-intro-title").textContent = "Calibration";
    $("cal-explain").innerHTML = guess ? explainDots(guess.n, guess.v) : explainDots(0, 0);
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
      if (userId) msg.user_id = userId;
      // saved even without a user id, so this tab's recordings can name it (calibration_id)
      msg.save = !!save;
      const reply = this.client.waitFor((m) => m.type === "calibration_started" || m.type === "error", 15000);
      if (!this.client.send(msg)) throw new Error("not connected");
      const started = await reply;
      if (started.type === "error") throw new Error(started.message || started.code);
      this.layer.dataset.calibrationId = started.calibration_id || "";
      const targets = started.targets || [];
      const nVal = targets.filter((t) => t.validation).length;
      const nCal = targets.length - nVal;
      this.layer.dataset.targets = String(targets.length);
      this.layer.dataset.calibrationDots = String(nCal);
      this.layer.dataset.validationDots = String(nVal);
      this.layer.dataset.shown = "";
      this.layer.dataset.outcomes = "";
      $("cal-explain").innerHTML = explainDots(nCal, nVal);
      if (this.cancelled) return null;
      await this._pause(3000, (left) => `Starting in ${left} s (Space starts now).`);
      this.intro.hidden = true;
      let iCal = 0;
      let iVal = 0;
      for (const t of targets) {
        if (this.cancelled) break;
        if (t.validation && iVal === 0 && nCal > 0) {
          // between the phases: say that the next dots only measure the accuracy
          this.target.hidden = true;
          this.caption.hidden = true;
          this._phase("interlude");
          $("cal-intro-title").textContent = "Checking accuracy";
          $("cal-explain").innerHTML = `<span class="cal-explain-counts">The ${plural(nCal, "calibration dot")} ` +
            `are done. Now <b class="val">${plural(nVal, "dot")}</b> check how accurate the calibration is.</span>` +
            "<br>Look at each the same way; they are not used to fit it.";
          this.intro.hidden = false;
          await this._pause(2000, () => "");
          this.intro.hidden = true;
          if (this.cancelled) break;
        }
        const validation = !!t.validation;
        const k = validation ? ++iVal : ++iCal;
        this.caption.textContent = validation ? `Checking accuracy: dot ${k} of ${nVal}` : `Calibration: dot ${k} of ${nCal}`;
        this.caption.dataset.phase = validation ? "validation" : "calibration";
        this.caption.hidden = false;
        await this._showTarget(t, started, targetTimeoutS);
      }
      this.target.hidden = true;
      this.caption.hidden = true;
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
      this.caption.hidden = true;
      document.removeEventListener("keydown", this._onKey);
    }
  }

  /** Wait `ms` (Space or a cancel ends it sooner), showing `text(seconds left)` in the status line. */
  async _pause(ms, text) {
    let finish;
    const done = new Promise((r) => (finish = r));
    this.skip = () => finish();
    const end = performance.now() + ms;
    const tick = () => {
      const left = Math.ceil((end - performance.now()) / 1000);
      this.status.textContent = text(left);
      if (left <= 0) finish();
    };
    tick();
    const timer = setInterval(tick, 200);
    await Promise.race([done, sleep(ms)]);
    clearInterval(timer);
    this.skip = null;
    this.status.textContent = "";
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
    this.target.dataset.validation = t.validation ? "1" : "0";
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

  /**
   * Show the result card (grade, mean error, target vs. measured points). A result that fails the quality
   * gate (`quality.passed` false) shows its error against the threshold and offers "Recalibrate" (the
   * default) or "Keep anyway" (`onKeep()` runs, then the card closes); others offer Recalibrate / Done.
   */
  showResult(res, { onAgain, onDone, onKeep = null }) {
    this._phase("result");
    this.layer.hidden = false;
    this.intro.hidden = true;
    this.caption.hidden = true;
    this.result.hidden = false;
    const grade = $("cal-grade");
    grade.textContent = res.grade || "?";
    grade.dataset.grade = res.grade || "";
    const acc = res.accuracy || {};
    const q = res.quality || null;
    const failed = !!(q && q.passed === false);
    this.layer.dataset.gate = q ? (failed ? "failed" : "passed") : "";
    const parts = [];
    if (typeof acc.mean_error_px === "number") parts.push(`mean error ${acc.mean_error_px.toFixed(0)} px`);
    if (typeof acc.mean_error_pct_width === "number") {
      const limit = q ? ` (limit ${q.max_error_pct_width} %)` : "";
      parts.push(`${acc.mean_error_pct_width.toFixed(1)} % of the width${limit}`);
    }
    if (typeof acc.precision_rms_px === "number") parts.push(`precision ${acc.precision_rms_px.toFixed(0)} px RMS`);
    const nVal = acc.validation_source === "validation" ? acc.n_validation_points : 0;
    const where = nVal ? `, measured on the ${plural(nVal, "accuracy-check dot")}` : "";
    $("cal-summary").textContent = parts.length ? `${parts.join(" · ")}${where}.` : "no accuracy figures";
    const gate = $("cal-gate");
    gate.hidden = !failed;
    if (failed) {
      const err = q.error_pct_width ?? acc.mean_error_pct_width;
      $("cal-gate-text").innerHTML =
        `<strong>Not accurate enough to reuse:</strong> the mean error is ${esc(Number(err).toFixed(1))} % of ` +
        `the screen width, above the ${esc(q.max_error_pct_width)} % this server accepts. Recalibrate ` +
        "(better light on your face, head still, eyes on each dot), or keep it anyway: later sessions and " +
        "recordings then use it.";
      const scale = Math.max(Number(err) || 0, 2 * q.max_error_pct_width);
      const at = (v) => `${Math.min(100, (100 * v) / scale)}%`;
      $("cal-gate-fill").style.width = at(err);
      $("cal-gate-mark").style.left = at(q.max_error_pct_width);
      const limit = $("cal-gate-limit");
      limit.style.left = at(q.max_error_pct_width);
      limit.textContent = `limit ${q.max_error_pct_width} %`;
      const value = $("cal-gate-value");
      value.style.left = at(err);
      value.textContent = `${Number(err).toFixed(1)} %`;
    }
    const user = res.user_id ? "this user id's" : "this tab's";
    let profile;
    if (!res.profile_id) profile = res.save_error ? `Not saved: ${res.save_error}` : "Not saved.";
    else if (failed) profile = `Saved as profile ${res.profile_id}, not accepted: ${user} later sessions and recordings will not use it unless you keep it.`;
    else profile = `Saved as profile ${res.profile_id}; ${user} later sessions and recordings use it.`;
    $("cal-profile").textContent = profile;
    this._drawPoints(res.points || []);
    const again = $("cal-again");
    const done = $("cal-done");
    again.className = failed ? "primary" : "";
    done.className = failed ? "" : "primary";
    done.textContent = failed && onKeep ? "Keep anyway" : "Done";
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
      if (failed && onKeep) onKeep();
      this.close();
      onDone();
    };
    (failed ? again : done).focus();
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
    ctx.fillText("○ dot (blue: accuracy check)   ■ where your gaze was measured", 8, H - 8);
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

/**
 * Calibrate the session being tracked (a session is started first when there is none: the camera must be
 * on). `after()` runs once the user is done with the result (Done, or Keep anyway), not after a cancel.
 */
export async function calibrate({ after = null } = {}) {
  if (!app.session && !(await ensureSession({ label: "calibration" }))) return;
  if (!app.session || client.state !== "connected" || !client.ready) {
    showBanner("Calibration needs a connected session: wait until the connection is back.", "info");
    return;
  }
  const again = () => calibrate({ after });
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
    runner.showError(`Calibration failed: ${err.message}`, { onAgain: again, onDone: () => restoreGaze(wasShowing) });
    return;
  }
  if (!res) {
    runner.close();
    restoreGaze(wasShowing);
    return;
  }
  if (res.profile_id) {
    app.profileId = res.profile_id;
    app.profileSession = app.session ? app.session.id : null;
    sessionStorage.setItem("gazescope.profile", res.profile_id);
  }
  app.profileAccepted = !!res.profile_id && res.accepted !== false;
  app.gate = res.quality || null;
  const acc = res.accuracy || {};
  const base = `${res.grade || "?"}${typeof acc.mean_error_px === "number" ? `, ${acc.mean_error_px.toFixed(0)} px` : ""}`;
  setCalibration(res.accepted === false ? `${base}, not kept` : base);
  runner.showResult(res, {
    onAgain: again,
    onDone: () => {
      $("show-gaze").checked = true;
      restoreGaze(true);
      if (after) after();
    },
    onKeep: res.profile_id && client.supports("calibration_keep") ? () => keep(res.profile_id, base) : null,
  });
}

/** calibration_keep: accept a profile that failed the quality gate (taken as kept at once; a refusal is
 * shown and undoes that); resolves true once the server confirms. */
async function keep(profileId, text) {
  app.profileAccepted = true;
  setCalibration(`${text}, kept`);
  let m;
  if (!client.send({ type: "calibration_keep", profile_id: profileId })) {
    m = { type: "error", message: "not connected" };
  } else {
    try {
      m = await client.waitFor((r) => r.type === "calibration_kept" || r.type === "error", 15000);
    } catch (err) {
      m = { type: "error", message: err.message };
    }
  }
  if (m.type === "calibration_kept") return true;
  if (app.profileId === profileId) {
    app.profileAccepted = false;
    setCalibration(`${text}, not kept`);
  }
  showBanner(`The calibration could not be kept (${m.message || m.code}): calibrate again.`);
  return false;
}

/** Whether a recording started now would be calibrated: this tab's accepted calibration, or a saved
 * accepted profile of the user id (applied by the server to a new session of that user). */
export function calibratedForRecording() {
  return !!((app.profileId && app.profileAccepted) || app.savedProfile);
}

async function showLayoutHint() {
  const el = $("cal-layout-hint");
  const layout = $("cal-layout").value;
  const c = LAYOUT_COUNTS[layout];
  if (!c) {
    el.textContent = "";
    return;
  }
  el.textContent = `${layout} points: ${plural(c.n, "dot")} calibrate, then ${plural(c.v, "dot")} check the ` +
    `accuracy (${c.n + c.v} dots in all).`;
}

/** Take the dot counts of the server's layouts (GET /api/calibration/layouts), if it has them. */
async function loadLayoutCounts() {
  try {
    if (!(await has("GET", "/api/calibration/layouts"))) return;
    const info = await api("/api/calibration/layouts");
    for (const l of (info && info.layouts) || []) {
      if (typeof l.n_points === "number") LAYOUT_COUNTS[l.name] = { n: l.n_points, v: l.n_validation || 0 };
    }
  } catch {
    /* keep the built-in counts */
  }
  showLayoutHint();
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
    // this session's own calibration again after a reconnect; on another session only an accepted one
    const own = app.session && app.profileSession === app.session.id;
    if (app.profileId && (app.profileAccepted || own)) msg = { type: "calibration_use", profile_id: app.profileId };
    else if (app.session && app.session.user_id) msg = { type: "calibration_use", user_id: app.session.user_id };
    if (msg) client.send(msg); // answered with calibration_applied (below) or error profile_not_found
  });
  client.addEventListener("message", (ev) => {
    const r = ev.detail;
    if (r.type !== "calibration_applied") return;
    app.profileId = r.profile_id || app.profileId;
    app.profileAccepted = r.accepted !== false;
    app.profileSession = app.session ? app.session.id : null;
    if (app.profileId) sessionStorage.setItem("gazescope.profile", app.profileId);
    const acc = r.accuracy && typeof r.accuracy.mean_error_px === "number" ? `, ${r.accuracy.mean_error_px.toFixed(0)} px` : "";
    setCalibration(`saved profile (${r.grade || "?"}${acc})`);
  });
  $("calibrate").onclick = () => calibrate();
  $("cal-layout").addEventListener("change", showLayoutHint);
  showLayoutHint();
  loadLayoutCounts();
}
