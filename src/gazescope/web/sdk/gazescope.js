// gazescope browser SDK (ES module, served at /sdk/gazescope.js; guide and example in docs/sdk.md).
//
// Pieces, usable alone or through GazescopeTracker:
//   Camera           getUserMedia preview, the frame drawn at a chosen size, JPEG capture
//   TrackingClient   the tracking WebSocket (/ws/sessions/{id}/track, docs/protocol.md): token, reconnect
//                    with backoff to the same session (continuation), frames in flight, events
//   FaceMeshRunner   MediaPipe Face Mesh (npm @mediapipe/face_mesh, served by gazescope at
//                    /app/vendor/face_mesh/) in the page: 478 landmarks, the image never leaves the device
//   encodeLandmarks  the binary landmarks message (GSLM, docs/protocol.md "Landmarks")
//   FrameSender / LandmarkSender   send the camera at a rate, skipping while messages are in flight
//   Calibration      the calibration steps (calibration_start, one target at a time, calibration_finish)
//   GazescopeTracker camera + session + on-device landmarks (or frames) + samples in a few lines

/** Landmarks of Face Mesh with iris refinement. */
export const LANDMARK_COUNT = 478;
/** Binary landmarks message: magic, version, header size (docs/protocol.md). */
export const GSLM_MAGIC = [0x47, 0x53, 0x4c, 0x4d];
export const GSLM_VERSION = 1;
export const GSLM_HEADER_BYTES = 20;
/** Frame rate (per second) of the in-page Face Mesh at or above which "auto" tracks on the device. */
export const DEVICE_MIN_FPS = 15;
/** Path, below the server's origin, of the Face Mesh files. */
export const FACE_MESH_PATH = "/app/vendor/face_mesh/";

// ------------------------------------------------------------------------------------------------
// the binary landmarks message

/**
 * Encode one landmarks message: `landmarks` a flat array-like of 478*3 numbers (x, y normalised 0..1 of
 * width/height, z relative depth, as MediaPipe gives them) or null/empty when no face was found; `width`,
 * `height` the image size in px (1..4096); `tMs` the capture time (ms, performance.now() clock);
 * `faceCount` the faces found. Returns an ArrayBuffer of 20 + 12*n bytes (5,756 with a face, 20 without).
 */
export function encodeLandmarks({ landmarks, width, height, tMs, faceCount }) {
  const n = landmarks && landmarks.length ? landmarks.length / 3 : 0;
  if (n !== 0 && n !== LANDMARK_COUNT) throw new RangeError(`expected ${LANDMARK_COUNT} landmarks, got ${n}`);
  const buf = new ArrayBuffer(GSLM_HEADER_BYTES + 12 * n);
  const dv = new DataView(buf);
  GSLM_MAGIC.forEach((b, i) => dv.setUint8(i, b));
  dv.setUint8(4, GSLM_VERSION);
  dv.setUint8(5, n ? Math.max(1, Math.min(255, faceCount ?? 1)) : 0);
  dv.setUint16(6, n, true);
  dv.setUint16(8, width, true);
  dv.setUint16(10, height, true);
  dv.setFloat64(12, tMs, true);
  if (n) new Float32Array(buf, GSLM_HEADER_BYTES, 3 * n).set(landmarks);
  return buf;
}

// ------------------------------------------------------------------------------------------------
// camera

/** A human explanation of a getUserMedia failure (DOMException names from the Media Capture spec). */
export function explainCameraError(err) {
  const name = err && err.name;
  switch (name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
      return "Camera access was denied. Allow the camera for this site in the browser's address bar " +
        "(or site settings) and press Start camera again.";
    case "NotReadableError":
    case "TrackStartError":
      return "The camera is busy or cannot be read: another program or browser tab is probably using it. " +
        "Close it and try again.";
    case "NotFoundError":
    case "DevicesNotFoundError":
      return "No camera was found. Connect a webcam and try again.";
    case "OverconstrainedError":
      return "The camera cannot deliver the requested size; choose a smaller frame size in Settings.";
    case "SecurityError":
      return "The browser blocked the camera for this page (camera access needs https or localhost).";
    case "AbortError":
      return "The camera failed to start. Try again, or reconnect the webcam.";
    case "InsecureContext":
      return "Camera access needs a secure page: open gazescope over https, or on localhost.";
    default:
      return `The camera could not be started (${name || "error"}: ${(err && err.message) || err}).`;
  }
}

/** The webcam shown in a <video> element; frames drawn at a chosen size (letterboxed) or as JPEG. */
export class Camera {
  constructor(video) {
    this.video = video || document.createElement("video");
    this.video.muted = true;
    this.video.playsInline = true;
    this.stream = null;
    this.canvas = document.createElement("canvas");
    this.ctx = this.canvas.getContext("2d", { alpha: false, willReadFrequently: false });
  }

  get running() {
    return !!this.stream && this.stream.getVideoTracks().some((t) => t.readyState === "live");
  }

  /** Start the camera at about width x height; resolves when the video plays. Throws a DOMException-like
   * error (see explainCameraError). */
  async start(width = 640, height = 480, fps = 15) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const e = new Error("navigator.mediaDevices is unavailable");
      e.name = window.isSecureContext ? "NotFoundError" : "InsecureContext";
      throw e;
    }
    this.stop();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: Math.max(fps, 15) } },
    });
    this.video.srcObject = this.stream;
    await new Promise((resolve) => {
      if (this.video.readyState >= 2) resolve();
      else this.video.addEventListener("loadeddata", resolve, { once: true });
    });
    try {
      await this.video.play();
    } catch {
      /* autoplay of a muted stream is allowed; a paused element still gives frames */
    }
  }

  stop() {
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  /** The current camera image drawn on a width x height canvas (scaled to fit, letterboxed); null before
   * the first frame. The same canvas is reused: read it before the next call. */
  draw(width, height) {
    const v = this.video;
    if (!v.videoWidth) return null;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const s = Math.min(width / v.videoWidth, height / v.videoHeight);
    const w = v.videoWidth * s;
    const h = v.videoHeight * s;
    if (w < width || h < height) {
      this.ctx.fillStyle = "#000";
      this.ctx.fillRect(0, 0, width, height);
    }
    this.ctx.drawImage(v, (width - w) / 2, (height - h) / 2, w, h);
    return this.canvas;
  }

  /** One JPEG frame (Blob) of width x height, quality 0..1; null before the first frame. */
  capture(width, height, quality) {
    const c = this.draw(width, height);
    if (!c) return Promise.resolve(null);
    return new Promise((resolve) => c.toBlob(resolve, "image/jpeg", quality));
  }
}

// ------------------------------------------------------------------------------------------------
// REST helpers

/** The origin-relative base of a server ("" for this page's server), without a trailing slash. */
function trimBase(base) {
  return (base || "").replace(/\/+$/, "");
}

/**
 * Create a session: POST {server}/api/sessions with `body` (e.g. {user_id, label, screen_w_px, screen_h_px})
 * and the bearer `token` when given. Resolves with the SessionOut (its `id`); throws Error with the
 * server's reason on a 4xx/5xx.
 */
export async function createSession({ server = "", token = "", body = {} } = {}) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const payload = { screen_w_px: Math.round(window.innerWidth), screen_h_px: Math.round(window.innerHeight), ...body };
  const res = await fetch(`${trimBase(server)}/api/sessions`, { method: "POST", headers, body: JSON.stringify(payload) });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`session not created (HTTP ${res.status}): ${JSON.stringify(data && data.detail)}`);
  return data;
}

/** Whether the server has the on-device Face Mesh files: resolves {available, version, base_url}. */
export async function faceMeshStatus(server = "") {
  try {
    const res = await fetch(`${trimBase(server)}/sdk/face-mesh`, { headers: { Accept: "application/json" } });
    if (!res.ok) return { available: false, version: null, base_url: FACE_MESH_PATH };
    return await res.json();
  } catch {
    return { available: false, version: null, base_url: FACE_MESH_PATH };
  }
}

// ------------------------------------------------------------------------------------------------
// the tracking WebSocket

/** Close codes after which reconnecting is pointless (gazescope.engine.transport.CloseCode). */
const FINAL_CLOSE = new Map([
  [1000, "session ended"],
  [1008, "refused by the server (API token?)"],
  [4000, "taken over by another tab or device"],
  [4404, "session not found"],
  [4409, "session has ended"],
  [4410, "session deleted"],
]);
/** A message (frame or landmarks) unanswered this long is taken as lost. */
const FRAME_TIMEOUT_MS = 3000;
// Error codes the server sends only in answer to text messages (protocol errors, calibration and drift
// replies); every other error while frames are in flight answers a frame or landmarks message.
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
  "mapper_needs_frames",
]);
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;

/**
 * The tracking WebSocket of one session. Options: `server` (origin, default this page's), `token` (a string
 * or a function returning one: API token or session token, sent as ?token=). Events (`detail` holds the
 * message or the new state): state, hello (the session message), sample, server-error (error), ended
 * (session_ended), message (any other). After a dropped connection it reconnects with exponential backoff
 * to the same session, which continues (frame_index, blink count, clock).
 */
export class TrackingClient extends EventTarget {
  constructor({ server = "", token = "" } = {}) {
    super();
    this.server = server;
    this.token = token;
    this.sessionId = null;
    this.ws = null;
    this.state = "idle"; // idle | connecting | connected | reconnecting | ended | error
    this.attempt = 0;
    this.maxInFlight = 2;
    this.inFlight = []; // [{index, sentAt}]
    this.nextIndex = null; // frame_index the server gives our next frame or landmarks message
    this.ready = false;
    this.messageTypes = [];
    this.closing = false;
    this.retryTimer = null;
    this.stats = {
      sent: 0,
      sentBytes: 0,
      samples: 0,
      lost: 0,
      skipped: 0,
      maxInFlight: 0,
      latencies: [],
      sampleTimes: [],
      reconnects: 0,
    };
  }

  _url() {
    const token = typeof this.token === "function" ? this.token() : this.token;
    const base = new URL(trimBase(this.server) || location.origin, location.href);
    const proto = base.protocol === "https:" ? "wss:" : "ws:";
    const path = `/ws/sessions/${encodeURIComponent(this.sessionId)}/track`;
    return `${proto}//${base.host}${base.pathname.replace(/\/$/, "")}${path}${token ? `?token=${encodeURIComponent(token)}` : ""}`;
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
    const ws = new WebSocket(this._url());
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
        // a refused or failed frame/landmarks message is answered with an error: free the oldest slot
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

  /** Whether a frame may be sent now (connection ready, fewer than maxInFlight messages unanswered). */
  canSend() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.ready) return false;
    const now = performance.now();
    const before = this.inFlight.length;
    this.inFlight = this.inFlight.filter((f) => now - f.sentAt < FRAME_TIMEOUT_MS);
    this.stats.lost += before - this.inFlight.length;
    return this.inFlight.length < this.maxInFlight && ws.bufferedAmount < 256 * 1024;
  }

  _sendCounted(data, size) {
    if (!this.canSend()) return false;
    this.ws.send(data);
    this.inFlight.push({ index: this.nextIndex ?? -1, sentAt: performance.now() });
    if (this.nextIndex !== null) this.nextIndex += 1;
    this.stats.sent += 1;
    this.stats.sentBytes += size;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlight.length);
    return true;
  }

  /** Send one encoded frame (JPEG bytes, ArrayBuffer) as a binary message; false when it may not be sent now. */
  sendFrame(data) {
    return this._sendCounted(data, data.byteLength);
  }

  /** Send one frame as text with its capture time `tMs` (the session clock follows it); false when not now. */
  async sendFrameText(blob, tMs) {
    const url = await new Promise((resolve) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result);
      r.readAsDataURL(blob);
    });
    return this._sendCounted(JSON.stringify({ type: "frame", data: url, t_ms: tMs }), blob.size);
  }

  /** Send one landmarks message (an ArrayBuffer from encodeLandmarks); false when it may not be sent now. */
  sendLandmarks(buffer) {
    return this._sendCounted(buffer, buffer.byteLength);
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

  /** Wait for the next message or server error matching `pred` (resolves with it); rejects after timeoutMs. */
  waitFor(pred, timeoutMs) {
    return new Promise((resolve, reject) => {
      const on = (ev) => {
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
        this.removeEventListener("message", on);
        this.removeEventListener("server-error", on);
      };
      this.addEventListener("message", on);
      this.addEventListener("server-error", on);
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

  /** Samples per second received (last 2 s). */
  fps() {
    const t = this.stats.sampleTimes;
    if (t.length < 2) return 0;
    return ((t.length - 1) * 1000) / (t[t.length - 1] - t[0]);
  }

  /** Median round-trip latency (ms) of the last samples; null before the first. */
  latency() {
    const l = [...this.stats.latencies].sort((a, b) => a - b);
    return l.length ? l[Math.floor(l.length / 2)] : null;
  }
}

// ------------------------------------------------------------------------------------------------
// Face Mesh in the page

let faceMeshScript = null;

function loadScript(src) {
  if (!faceMeshScript) {
    faceMeshScript = new Promise((resolve, reject) => {
      const el = document.createElement("script");
      el.src = src;
      el.crossOrigin = "anonymous";
      el.onload = () => resolve();
      el.onerror = () => {
        faceMeshScript = null;
        reject(new Error(`could not load ${src}`));
      };
      document.head.appendChild(el);
    });
  }
  return faceMeshScript;
}

/**
 * MediaPipe Face Mesh (npm @mediapipe/face_mesh 0.4) running in the page on files the gazescope server
 * serves (`server` + /app/vendor/face_mesh/): one face, iris refinement (478 landmarks), CPU inference
 * (WebGL-free model execution: faster than software WebGL where there is no GPU).
 */
export class FaceMeshRunner {
  constructor({ server = "" } = {}) {
    this.base = `${trimBase(server)}${FACE_MESH_PATH}`;
    this.mesh = null;
    this.loading = null;
    this.last = null;
  }

  /** Load the script and the model; throws when the files are missing or WebAssembly/WebGL fail. */
  load() {
    if (!this.loading) {
      this.loading = this._load().catch((err) => {
        this.loading = null;
        throw err;
      });
    }
    return this.loading;
  }

  async _load() {
    await loadScript(`${this.base}face_mesh.js`);
    if (typeof window.FaceMesh !== "function") throw new Error("face_mesh.js did not define FaceMesh");
    const mesh = new window.FaceMesh({ locateFile: (f) => this.base + f });
    // minDetectionConfidence is left at its built-in 0.5: setting it aborts this build's graph
    mesh.setOptions({ maxNumFaces: 1, refineLandmarks: true, selfieMode: false, useCpuInference: true });
    mesh.onResults((r) => {
      this.last = r;
    });
    await mesh.initialize();
    this.mesh = mesh;
  }

  /** Landmarks of `image` (a canvas, video or image element): {landmarks: Float32Array(1434) | null,
   * faceCount}. */
  async detect(image) {
    this.last = null;
    await this.mesh.send({ image });
    const faces = (this.last && this.last.multiFaceLandmarks) || [];
    if (!faces.length || faces[0].length !== LANDMARK_COUNT) return { landmarks: null, faceCount: 0 };
    const out = new Float32Array(LANDMARK_COUNT * 3);
    faces[0].forEach((p, i) => {
      out[3 * i] = p.x;
      out[3 * i + 1] = p.y;
      out[3 * i + 2] = p.z;
    });
    return { landmarks: out, faceCount: faces.length };
  }

  /** Frames per second Face Mesh reaches on images from `nextImage()` over about `ms` milliseconds
   * (after one warm-up frame). */
  async measureFps(nextImage, ms = 2000) {
    const first = nextImage();
    if (first) await this.detect(first);
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < ms) {
      const img = nextImage();
      if (!img) {
        await new Promise((r) => setTimeout(r, 30));
        continue;
      }
      await this.detect(img);
      n += 1;
    }
    return (n * 1000) / (performance.now() - t0);
  }

  close() {
    if (this.mesh) this.mesh.close();
    this.mesh = null;
    this.loading = null;
  }
}

// ------------------------------------------------------------------------------------------------
// senders

/** The frame size and rate used by a sender: {width, height, fps, quality (JPEG 0..1), maxInFlight}. */
function senderSettings(settings) {
  return typeof settings === "function" ? settings() : settings;
}

/** Sends camera frames (JPEG) to a TrackingClient at `fps`, skipping a tick when frames are in flight. */
export class FrameSender {
  constructor(camera, client, settings) {
    this.camera = camera;
    this.client = client;
    this.settings = settings; // object or () => {width, height, fps, quality, maxInFlight}
    this.timer = null;
    this.busy = false;
  }

  start() {
    this.stop();
    const tick = async () => {
      const s = senderSettings(this.settings);
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

/**
 * Runs Face Mesh on the camera image (drawn at the settings' width x height, as a frame would be) at `fps`
 * and sends each result as a binary landmarks message; a tick is skipped while messages are in flight or
 * Face Mesh is still busy. Nothing of the image is sent. `onLandmarks({landmarks, faceCount, width, height})`
 * (optional) sees each result.
 */
export class LandmarkSender {
  constructor(camera, client, runner, settings, onLandmarks = null) {
    this.camera = camera;
    this.client = client;
    this.runner = runner;
    this.settings = settings;
    this.onLandmarks = onLandmarks;
    this.timer = null;
    this.busy = false;
  }

  start() {
    this.stop();
    const tick = async () => {
      const s = senderSettings(this.settings);
      this.timer = setTimeout(tick, 1000 / s.fps);
      this.client.maxInFlight = s.maxInFlight;
      if (this.busy || !this.camera.running || !this.runner.mesh) return;
      if (!this.client.canSend()) {
        if (this.client.state === "connected" && this.client.ready) this.client.stats.skipped += 1;
        return;
      }
      this.busy = true;
      try {
        const tMs = performance.now();
        const canvas = this.camera.draw(s.width, s.height);
        if (!canvas) return;
        const r = await this.runner.detect(canvas);
        if (this.onLandmarks) this.onLandmarks({ ...r, width: s.width, height: s.height });
        this.client.sendLandmarks(encodeLandmarks({ ...r, width: s.width, height: s.height, tMs }));
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

// ------------------------------------------------------------------------------------------------
// calibration steps

/**
 * The calibration steps on a TrackingClient (docs/protocol.md "Calibration"): `start(opts)` sends
 * calibration_start (opts: layout "5"/"9"/..., screen_w_px, screen_h_px, mapper, ...) and resolves with
 * calibration_started (its `targets`: [{index, x_px, y_px}, ...]); for each target the page shows it and
 * awaits `target(index)`, which resolves with the final calibration_progress (done) or null after
 * `timeoutMs`; `finish()` resolves with calibration_result; `cancel()` drops it. A refusal (an error
 * message, e.g. mapper_needs_frames in on-device mode) rejects with an Error carrying `code`.
 */
export class Calibration {
  constructor(client) {
    this.client = client;
    this.id = null;
  }

  async _ask(msg, replyType, timeoutMs) {
    const wait = this.client.waitFor((m) => m.type === replyType || m.type === "error", timeoutMs);
    if (!this.client.send(msg)) throw Object.assign(new Error("not connected"), { code: "not_connected" });
    const reply = await wait;
    if (reply.type === "error") throw Object.assign(new Error(reply.message || reply.code), { code: reply.code });
    return reply;
  }

  async start(opts = {}) {
    const started = await this._ask({ type: "calibration_start", ...opts }, "calibration_started", 10000);
    this.id = started.calibration_id;
    return started;
  }

  async target(index, { timeoutMs = 8000 } = {}) {
    const done = this.client.waitFor((m) => m.type === "calibration_progress" && m.index === index && m.done, timeoutMs);
    this.client.send({ type: "calibration_target", index });
    try {
      return await done;
    } catch {
      return null;
    }
  }

  finish({ timeoutMs = 60000 } = {}) {
    return this._ask({ type: "calibration_finish" }, "calibration_result", timeoutMs);
  }

  cancel() {
    this.client.send({ type: "calibration_cancel" });
  }
}

// ------------------------------------------------------------------------------------------------
// the whole thing

/**
 * Camera + session + on-device landmarks (or frames) + samples. Options: `server` (origin, default this
 * page's), `token` (API or session token), `video` (a <video> element for the preview, optional), `mode`
 * ("auto": on the device when Face Mesh runs at >= DEVICE_MIN_FPS here, else frames; "device"; "server"),
 * `width`/`height` (image size, default 640x480), `fps` (default 15), `quality` (JPEG, frames mode),
 * `onSample(sample)`, `onState({state, ...})`, `onMode({mode, reason, fps})`.
 * `mode` after start() is "device" or "server"; `modeReason` says why.
 */
export class GazescopeTracker extends EventTarget {
  constructor(opts = {}) {
    super();
    this.opts = { server: "", token: "", mode: "auto", width: 640, height: 480, fps: 15, quality: 0.7, maxInFlight: 2, ...opts };
    this.camera = new Camera(this.opts.video);
    this.client = new TrackingClient({ server: this.opts.server, token: this.opts.token });
    this.runner = null;
    this.sender = null;
    this.mode = null;
    this.modeReason = "";
    this.deviceFps = null;
    this.session = null;
    this.calibration = new Calibration(this.client);
    if (this.opts.onSample) this.client.addEventListener("sample", (e) => this.opts.onSample(e.detail));
    if (this.opts.onState) this.client.addEventListener("state", (e) => this.opts.onState(e.detail));
  }

  get settings() {
    const o = this.opts;
    return { width: o.width, height: o.height, fps: o.fps, quality: o.quality, maxInFlight: o.maxInFlight };
  }

  /** Decide where Face Mesh runs (see `mode`); the camera must be on. Resolves {mode, reason, fps}. */
  async chooseMode() {
    const want = this.opts.mode;
    if (want === "server") return this._setMode("server", "chosen", null);
    const status = await faceMeshStatus(this.opts.server);
    if (!status.available) return this._setMode("server", "the on-device Face Mesh files are not installed on the server", null);
    try {
      this.runner = new FaceMeshRunner({ server: this.opts.server });
      await this.runner.load();
      if (want === "device") return this._setMode("device", "chosen", null);
      const fps = await this.runner.measureFps(() => this.camera.draw(this.opts.width, this.opts.height), 2000);
      if (fps >= DEVICE_MIN_FPS) return this._setMode("device", `Face Mesh runs at ${fps.toFixed(0)} FPS here`, fps);
      return this._setMode("server", `Face Mesh runs at only ${fps.toFixed(0)} FPS here`, fps);
    } catch (err) {
      return this._setMode("server", `on-device Face Mesh failed: ${err.message}`, null);
    }
  }

  _setMode(mode, reason, fps) {
    this.mode = mode;
    this.modeReason = reason;
    this.deviceFps = fps;
    const detail = { mode, reason, fps };
    if (this.opts.onMode) this.opts.onMode(detail);
    this.dispatchEvent(new CustomEvent("mode", { detail }));
    return detail;
  }

  /**
   * Start: camera, mode, session (`sessionId` to continue one, else a new one created with `session`'s
   * fields, e.g. {user_id, label}), connection, sending. Resolves with the session id once the server said
   * hello. Throws on a camera or session error (explainCameraError(err) gives a readable reason).
   */
  async start({ sessionId = null, session = {} } = {}) {
    const o = this.opts;
    if (!this.camera.running) await this.camera.start(o.width, o.height, o.fps);
    if (!this.mode) await this.chooseMode();
    const id = sessionId || (await createSession({ server: o.server, token: typeof o.token === "function" ? o.token() : o.token, body: session })).id;
    this.session = id;
    const ready = new Promise((resolve) => this.client.addEventListener("hello", resolve, { once: true }));
    this.client.connect(id);
    this.sender =
      this.mode === "device"
        ? new LandmarkSender(this.camera, this.client, this.runner, () => this.settings)
        : new FrameSender(this.camera, this.client, () => this.settings);
    this.sender.start();
    await ready;
    return id;
  }

  /** Stop sending and close the connection (the session stays open: start({sessionId}) continues it). */
  stop({ camera = true } = {}) {
    if (this.sender) this.sender.stop();
    this.client.close();
    if (camera) this.camera.stop();
  }

  /** End the session on the server (POST .../end) and stop. */
  async end() {
    const id = this.session;
    this.stop();
    if (!id) return;
    const token = typeof this.opts.token === "function" ? this.opts.token() : this.opts.token;
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    await fetch(`${trimBase(this.opts.server)}/api/sessions/${encodeURIComponent(id)}/end`, { method: "POST", headers });
  }
}
