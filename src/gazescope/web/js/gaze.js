// Gaze on screen: a smoothed dot with a fading trail on a full-viewport canvas, from the samples'
// screen_x_px / screen_y_px (viewport CSS pixels, docs/protocol.md).

const TRAIL_MS = 1500;
/** Time constant (ms) of the display smoothing; the server already smooths gaze (One Euro filter). */
const SMOOTH_TAU_MS = 80;

/** The gaze dot with a fading trail drawn over the whole viewport from the samples' screen points. */
export class GazeLayer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.trail = []; // [{x, y, t}]
    this.target = null; // latest raw point {x, y, t}
    this.pos = null; // smoothed point
    this.lastFrame = 0;
    this.running = false;
    this.points = 0;
    this.onScreen = null;
    this._resize = () => this.resize();
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.canvas.hidden = false;
    window.addEventListener("resize", this._resize);
    this.resize();
    const frame = (now) => {
      if (!this.running) return;
      this.draw(now);
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  stop() {
    this.running = false;
    this.canvas.hidden = true;
    window.removeEventListener("resize", this._resize);
    this.trail = [];
    this.pos = null;
    this.target = null;
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(window.innerWidth * dpr);
    this.canvas.height = Math.round(window.innerHeight * dpr);
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  /** Feed one sample; ignored without a screen point. */
  push(sample) {
    const x = sample.screen_x_px;
    const y = sample.screen_y_px;
    if (typeof x !== "number" || typeof y !== "number" || !Number.isFinite(x) || !Number.isFinite(y)) return;
    this.target = { x, y, t: performance.now() };
    this.onScreen = sample.on_screen;
    this.points += 1;
    this.canvas.dataset.points = String(this.points);
  }

  draw(now) {
    const ctx = this.ctx;
    const w = window.innerWidth;
    const h = window.innerHeight;
    ctx.clearRect(0, 0, w, h);
    if (!this.target) return;
    const dt = this.lastFrame ? Math.min(now - this.lastFrame, 100) : 16;
    this.lastFrame = now;
    if (!this.pos) this.pos = { x: this.target.x, y: this.target.y };
    const a = 1 - Math.exp(-dt / SMOOTH_TAU_MS);
    this.pos.x += a * (this.target.x - this.pos.x);
    this.pos.y += a * (this.target.y - this.pos.y);
    const px = Math.max(0, Math.min(w, this.pos.x));
    const py = Math.max(0, Math.min(h, this.pos.y));
    this.trail.push({ x: px, y: py, t: now });
    while (this.trail.length && now - this.trail[0].t > TRAIL_MS) this.trail.shift();
    // trail: segments fading with age
    ctx.lineCap = "round";
    for (let i = 1; i < this.trail.length; i++) {
      const p0 = this.trail[i - 1];
      const p1 = this.trail[i];
      const age = (now - p1.t) / TRAIL_MS;
      ctx.strokeStyle = `rgba(255, 80, 60, ${0.55 * (1 - age)})`;
      ctx.lineWidth = 2 + 6 * (1 - age);
      ctx.beginPath();
      ctx.moveTo(p0.x, p0.y);
      ctx.lineTo(p1.x, p1.y);
      ctx.stroke();
    }
    const stale = now - this.target.t > 1000;
    ctx.beginPath();
    ctx.arc(px, py, 14, 0, Math.PI * 2);
    ctx.fillStyle = stale ? "rgba(150,150,150,0.45)" : "rgba(255, 60, 40, 0.55)";
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#fff";
    ctx.stroke();
    this.canvas.dataset.x = String(Math.round(px));
    this.canvas.dataset.y = String(Math.round(py));
  }
}

/** Draw a small gaze view (observer): points on a canvas standing for a screen of sw x sh px. */
export class MiniGazeView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.points = [];
    this.screen = { w: 1920, h: 1080 };
  }

  setScreen(w, h) {
    if (w > 0 && h > 0) this.screen = { w, h };
    this.canvas.style.aspectRatio = `${this.screen.w} / ${this.screen.h}`;
  }

  push(sample) {
    const x = sample.screen_x_px;
    const y = sample.screen_y_px;
    if (typeof x === "number" && typeof y === "number") {
      this.points.push({ x, y, t: performance.now() });
      if (this.points.length > 60) this.points.shift();
    }
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cw = c.clientWidth;
    const ch = c.clientHeight;
    if (c.width !== Math.round(cw * dpr)) {
      c.width = Math.round(cw * dpr);
      c.height = Math.round(ch * dpr);
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cw, ch);
    ctx.strokeStyle = "#3a4356";
    ctx.lineWidth = 1;
    for (let i = 1; i < 3; i++) {
      ctx.beginPath();
      ctx.moveTo((cw * i) / 3, 0);
      ctx.lineTo((cw * i) / 3, ch);
      ctx.moveTo(0, (ch * i) / 3);
      ctx.lineTo(cw, (ch * i) / 3);
      ctx.stroke();
    }
    if (!this.points.length) {
      ctx.fillStyle = "#8d97ab";
      ctx.font = "15px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText("no screen gaze yet (the subject is not calibrated)", cw / 2, ch / 2);
      return;
    }
    const sx = cw / this.screen.w;
    const sy = ch / this.screen.h;
    this.points.forEach((p, i) => {
      const a = (i + 1) / this.points.length;
      ctx.beginPath();
      ctx.arc(p.x * sx, p.y * sy, 3 + 7 * a, 0, Math.PI * 2);
      ctx.fillStyle = `rgba(255, 90, 60, ${0.15 + 0.6 * a})`;
      ctx.fill();
    });
  }
}
