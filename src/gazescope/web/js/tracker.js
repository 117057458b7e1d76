// The tracking WebSocket client (/ws/sessions/{id}/track, docs/protocol.md): binary JPEG frames out, JSON
// messages in; at most `maxInFlight` frames unanswered; reconnects with exponential backoff to the same
// session after a dropped connection.

import { wsUrl } from "./api.js";

/** Close codes after which reconnecting is pointless (gazescope.engine.transport.CloseCode). */
const FINAL_CLOSE = new Map([
  [1000, "session ended"],
  [1008, "refused by the server (API token?)"],
  [4000, "taken over by another tab or device"],
  [4404, "session not found"],
  [4409, "session has ended"],
  [4410, "session deleted"],
]);
/** A frame unanswered this long is taken as lost (the server drops the oldest waiting frame). */
const FRAME_TIMEOUT_MS = 3000;
// Error codes the server sends only in answer to text messages (protocol errors, calibration and drift
// replies; engine/connection.py _dispatch, api/calibration.py). Every other error while frames are in flight
// answers a frame: a refused one (bad_frame, frame_too_large) or one whose processing failed
// (internal_error, calibration_error, ...: engine/connection.py _process).
const NON_FRAME_ERROR_CODES = new Set([
  "bad_message",
  "unknown_type",
  "invalid_request",
  "no_calibration",
  "calibration_busy",
  "not_calibrated",
  "no_drift_check",
  "profile_not_found",
  "unknown_mapper",
  "not_enough_data",
]);
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;

/**
 * The tracking WebSocket of one session. Events (`detail` holds the message or the new state): state,
 * hello (the session message), sample, server-error (error), ended (session_ended), message (any other).
 */
export class TrackingClient extends EventTarget {
  constructor() {
    super();
    this.sessionId = null;
    this.ws = null;
    this.state = "idle"; // idle | connecting | connected | reconnecting | ended | error
    this.attempt = 0;
    this.maxInFlight = 2;
    this.inFlight = []; // [{index, sentAt}]
    this.nextIndex = null; // frame_index the server gives our next binary frame
    this.ready = false;
    this.messageTypes = [];
    this.closing = false;
    this.retryTimer = null;
    this.stats = {
      sent: 0,
      samples: 0,
      lost: 0,
      skipped: 0,
      maxInFlight: 0,
      latencies: [],
      sampleTimes: [],
      reconnects: 0,
    };
  }

  _setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...extra } }));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Connect to the session's tracking WebSocket (and keep reconnecting until close()). */
  connect(sessionId) {
    this.close();
    this.sessionId = sessionId;
    this.closing = false;
    this.attempt = 0;
    this._open();
  }

  _open() {
    clearTimeout(this.retryTimer);
    this._setState(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
    const ws = new WebSocket(wsUrl(`/ws/sessions/${encodeURIComponent(this.sessionId)}/track`));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.ready = false;
    this.inFlight = [];
    ws.onopen = () => {
      if (ws !== this.ws) return;
      if (this.attempt > 0) this.stats.reconnects += 1;
      this.attempt = 0;
      this._setState("connected");
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws || typeof ev.data !== "string") return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this._onMessage(msg);
    };
    ws.onerror = () => {
      /* followed by onclose, which decides */
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.ready = false;
      if (this.closing) {
        if (this.state !== "ended") this._setState("idle");
        return;
      }
      if (FINAL_CLOSE.has(ev.code)) {
        const why = ev.reason || FINAL_CLOSE.get(ev.code);
        this._setState(ev.code === 1000 || ev.code === 4409 ? "ended" : "error", { code: ev.code, reason: why });
        return;
      }
      this._scheduleReconnect(ev.code);
    };
  }

  _scheduleReconnect(code) {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this._setState("reconnecting", { attempt: this.attempt, delayMs: Math.round(delay), code });
    this.retryTimer = setTimeout(() => this._open(), delay);
  }

  _onMessage(msg) {
    const now = performance.now();
    switch (msg.type) {
      case "session":
        this.nextIndex = Number.isInteger(msg.next_frame_index) ? msg.next_frame_index : null;
        this.messageTypes = msg.message_types || [];
        this.ready = true;
        this._emit("hello", msg);
        return;
      case "sample": {
        this.stats.samples += 1;
        const idx = msg.frame_index;
        let sentAt = null;
        const keep = [];
        for (const f of this.inFlight) {
          if (f.index === idx) sentAt = f.sentAt;
          else if (f.index > idx) keep.push(f);
        }
        this.inFlight = keep;
        if (sentAt === null && typeof msg.client_t_ms === "number") sentAt = msg.client_t_ms;
        msg.latency_ms = sentAt === null ? null : now - sentAt;
        if (msg.latency_ms !== null) {
          this.stats.latencies.push(msg.latency_ms);
          if (this.stats.latencies.length > 30) this.stats.latencies.shift();
        }
        this.stats.sampleTimes.push(now);
        while (this.stats.sampleTimes.length && now - this.stats.sampleTimes[0] > 2000) this.stats.sampleTimes.shift();
        this._emit("sample", msg);
        return;
      }
      case "error":
        // a frame that was refused or failed is answered with an error (no frame_index): free the oldest
        // slot. An internal_error answering a text message frees one too early: one extra frame in flight.
        if (this.inFlight.length && !NON_FRAME_ERROR_CODES.has(msg.code)) this.inFlight.shift();
        this._emit("server-error", msg);
        return;
      case "session_ended":
        this.closing = true;
        this._setState("ended", { reason: "session ended" });
        this._emit("ended", msg);
        return;
      default:
        this._emit("message", msg);
    }
  }

  /** Whether a frame may be sent now (connection ready, fewer than maxInFlight frames unanswered). */
  canSend() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.ready) return false;
    const now = performance.now();
    const before = this.inFlight.length;
    this.inFlight = this.inFlight.filter((f) => now - f.sentAt < FRAME_TIMEOUT_MS);
    this.stats.lost += before - this.inFlight.length;
    return this.inFlight.length < this.maxInFlight && ws.bufferedAmount < 256 * 1024;
  }

  /** Send one encoded frame (JPEG bytes) as a binary message; false when it may not be sent now. */
  sendFrame(data) {
    if (!this.canSend()) return false;
    this.ws.send(data);
    this.inFlight.push({ index: this.nextIndex ?? -1, sentAt: performance.now() });
    if (this.nextIndex !== null) this.nextIndex += 1;
    this.stats.sent += 1;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlight.length);
    return true;
  }

  /** Send a JSON message; false when not connected. */
  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  /** Whether the server understands a message type (from its hello message). */
  supports(type) {
    return this.messageTypes.includes(type);
  }

  /** Wait for the next message matching `pred` (resolves with it) or reject after timeoutMs. */
  waitFor(pred, timeoutMs) {
    return new Promise((resolve, reject) => {
      const onMsg = (ev) => {
        if (pred(ev.detail)) {
          cleanup();
          resolve(ev.detail);
        }
      };
      const onErr = (ev) => {
        if (pred(ev.detail)) {
          cleanup();
          resolve(ev.detail);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error("timeout"));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.removeEventListener("message", onMsg);
        this.removeEventListener("server-error", onErr);
      };
      this.addEventListener("message", onMsg);
      this.addEventListener("server-error", onErr);
    });
  }

  /** Stop for good (no reconnect). */
  close() {
    this.closing = true;
    clearTimeout(this.retryTimer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try {
        ws.close(1000, "client closed");
      } catch {
        /* already closed */
      }
    }
    if (this.state !== "ended") this._setState("idle");
  }

  /** Frames per second of samples received (last 2 s). */
  fps() {
    const t = this.stats.sampleTimes;
    if (t.length < 2) return 0;
    return ((t.length - 1) * 1000) / (t[t.length - 1] - t[0]);
  }

  /** Median round-trip latency (ms) of the last samples. */
  latency() {
    const l = [...this.stats.latencies].sort((a, b) => a - b);
    return l.length ? l[Math.floor(l.length / 2)] : null;
  }
}

/** Sends camera frames to a TrackingClient at `fps`, skipping a tick when frames are in flight. */
export class FrameSender {
  constructor(camera, client, settings) {
    this.camera = camera;
    this.client = client;
    this.settings = settings; // () => {width, height, fps, quality, maxInFlight}
    this.timer = null;
    this.busy = false;
  }

  start() {
    this.stop();
    const tick = async () => {
      const s = this.settings();
      this.timer = setTimeout(tick, 1000 / s.fps);
      this.client.maxInFlight = s.maxInFlight;
      if (this.busy || !this.camera.running) return;
      if (!this.client.canSend()) {
        if (this.client.state === "connected" && this.client.ready) this.client.stats.skipped += 1;
        return;
      }
      this.busy = true;
      try {
        const blob = await this.camera.capture(s.width, s.height, s.quality);
        // sent as an ArrayBuffer: one binary message per JPEG, counted in bufferedAmount at once
        if (blob) this.client.sendFrame(await blob.arrayBuffer());
      } finally {
        this.busy = false;
      }
    };
    this.timer = setTimeout(tick, 0);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}
