// Observe: watch a live session from elsewhere (/ws/sessions/{id}/live): its gaze on the subject's screen and
// its live metrics, reconnecting with backoff until the session ends.

import { wsUrl } from "../api.js";
import { MiniGazeView } from "../gaze.js";
import { $, fmt } from "../ui.js";

/** An observer of one session at a time, drawn in the Observe view. */
export class Observer {
  constructor() {
    this.ws = null;
    this.view = new MiniGazeView($("obs-screen"));
    this.count = 0;
    this.times = [];
    this.stopped = true;
    this.attempt = 0;
    this.timer = null;
  }

  _state(state, text) {
    const el = $("obs-state");
    el.dataset.state = state;
    el.textContent = text;
  }

  start(sessionId) {
    this.stop();
    this.sessionId = sessionId;
    this.stopped = false;
    this.count = 0;
    this.attempt = 0;
    $("o-samples").textContent = "0";
    this.view.points = [];
    this.view.draw();
    this._open();
  }

  _open() {
    this._state(this.attempt ? "reconnecting" : "connecting", this.attempt ? "reconnecting…" : "connecting…");
    const ws = new WebSocket(wsUrl(`/ws/sessions/${encodeURIComponent(this.sessionId)}/live`));
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this._state("connected", "watching");
    };
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      this._onMessage(m);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws || this.stopped) return;
      if (ev.code === 1000 || ev.code === 4404) {
        this._state("ended", ev.code === 1000 ? "session ended" : "no such session");
        this.stopped = true;
        return;
      }
      const delay = Math.min(15000, 500 * 2 ** this.attempt);
      this.attempt += 1;
      this._state("reconnecting", `reconnecting in ${(delay / 1000).toFixed(1)} s`);
      this.timer = setTimeout(() => this._open(), delay);
    };
  }

  _onMessage(m) {
    if (m.type === "session") {
      const s = m.session || {};
      this.view.setScreen(s.screen_w_px, s.screen_h_px);
      $("obs-meta").textContent = `session ${s.id} · user ${s.user_id || "–"} · ${
        m.tracking ? "the subject is streaming" : "waiting for the subject to stream"
      }`;
      this.view.draw();
    } else if (m.type === "sample") {
      this.count += 1;
      const now = performance.now();
      this.times.push(now);
      while (this.times.length && now - this.times[0] > 2000) this.times.shift();
      $("o-samples").textContent = String(this.count);
      const st = $("o-state");
      st.textContent = (m.attention_state || "–").replace("_", " ");
      st.dataset.state = m.attention_state || "";
      $("o-score").textContent = fmt(m.attention_score, "", 2);
      $("o-eye").textContent = fmt(m.eye_contact_pct, " %", 0);
      $("o-blinks").textContent = String(m.blink_count ?? "–");
      $("o-fps").textContent = this.times.length > 1 ? fmt(((this.times.length - 1) * 1000) / (now - this.times[0]), "", 1) : "–";
      this.view.push(m);
    } else if (m.type === "event") {
      if (m.event === "tracking_started") $("obs-meta").textContent = `session ${this.sessionId} · the subject is streaming`;
      if (m.event === "tracking_stopped") $("obs-meta").textContent = `session ${this.sessionId} · the subject stopped streaming`;
      if (m.event === "session_ended" || m.event === "session_deleted") {
        this._state("ended", m.event.replace("_", " "));
      }
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      try {
        this.ws.close(1000);
      } catch {
        /* closed */
      }
    }
    this.ws = null;
  }
}

const observer = new Observer();

/** Watch session `sessionId` in the Observe view (stops watching the one before). */
export function showObserve(sessionId) {
  observer.start(sessionId);
}

/** Stop watching (the router calls it when another view is shown). */
export function stopObserve() {
  observer.stop();
}
