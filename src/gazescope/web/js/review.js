// Review: the sessions dashboard (by user, by stimulus), a session's report (JSON rendered here, PNG
// figures from the analytics endpoints, the HTML report page when the server has it), aggregate heatmaps
// across sessions, and an observer of a live session (/ws/sessions/{id}/live).

import { api, has, imageUrl, withToken, wsUrl } from "./api.js";
import { MiniGazeView } from "./gaze.js";
import { fmt, showBanner } from "./ui.js";

const $ = (id) => document.getElementById(id);
const esc = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export const STATE_COLOURS = {
  focused: "#2e9d57",
  looking_away: "#f0a020",
  eyes_closed: "#7a5cc4",
  drowsy: "#d0443e",
  absent: "#9a9a9a",
};

let stimuliCache = null;

async function stimuli() {
  if (stimuliCache) return stimuliCache;
  if (!(await has("GET", "/api/stimuli"))) return (stimuliCache = []);
  try {
    stimuliCache = (await api("/api/stimuli")) || [];
  } catch {
    stimuliCache = [];
  }
  return stimuliCache;
}

export function forgetStimuli() {
  stimuliCache = null;
}

function stimulusName(list, id) {
  const s = list.find((x) => x.id === id);
  return s ? s.name || s.id : id;
}

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "–");

// ------------------------------------------------------------------------------------------------
// dashboard

export async function showDashboard() {
  const tbody = $("sessions-table").querySelector("tbody");
  let all;
  try {
    all = await api("/api/sessions?limit=1000");
  } catch (err) {
    if (err.status === 401) window.dispatchEvent(new CustomEvent("gazescope:need-token"));
    else showBanner(`Sessions could not be listed: ${err.message}`);
    return;
  }
  const stims = await stimuli();
  const fu = $("filter-user");
  const fs = $("filter-stimulus");
  const keepU = fu.value;
  const keepS = fs.value;
  const users = new Map();
  const byStim = new Map();
  for (const s of all) {
    if (s.user_id) users.set(s.user_id, (users.get(s.user_id) || 0) + 1);
    if (s.stimulus_id) byStim.set(s.stimulus_id, (byStim.get(s.stimulus_id) || 0) + 1);
  }
  fu.innerHTML = '<option value="">all</option>' +
    [...users.keys()].sort().map((u) => `<option>${esc(u)}</option>`).join("");
  fs.innerHTML = '<option value="">all</option>' +
    [...byStim.keys()].map((s) => `<option value="${esc(s)}">${esc(stimulusName(stims, s))}</option>`).join("");
  fu.value = users.has(keepU) ? keepU : "";
  fs.value = byStim.has(keepS) ? keepS : "";
  const rows = all.filter((s) => (!fu.value || s.user_id === fu.value) && (!fs.value || s.stimulus_id === fs.value));
  tbody.innerHTML = rows
    .map((s) => {
      const status = s.tracking ? "tracking" : s.status;
      const actions = [`<a href="#/report/${encodeURIComponent(s.id)}">report</a>`];
      if (s.status !== "ended") actions.push(`<a href="#/observe/${encodeURIComponent(s.id)}">observe</a>`);
      return `<tr data-session="${esc(s.id)}"><td>${esc(when(s.created_at_ms))}</td><td>${esc(s.user_id || "–")}</td>
        <td>${esc(s.label || "")}</td><td>${s.stimulus_id ? esc(stimulusName(stims, s.stimulus_id)) : "–"}</td>
        <td>${esc(status)}</td><td class="num">${s.sample_count}</td><td class="num">${s.dropped_frames}</td>
        <td>${actions.join(" · ")}</td></tr>`;
    })
    .join("");
  $("sessions-empty").hidden = rows.length > 0;
  const userHeat = await has("GET", "/api/users/{user_id}/heatmap.png");
  const stimHeat = await has("GET", "/api/stimuli/{stimulus_id}/heatmap.png");
  $("users-table").querySelector("tbody").innerHTML =
    [...users.entries()]
      .sort()
      .map(([u, n]) => `<tr><td>${esc(u)}</td><td class="num">${n}</td><td>${
        userHeat ? `<a href="#/user/${encodeURIComponent(u)}">heatmap</a>` : ""
      }</td></tr>`)
      .join("") || '<tr><td colspan="3" class="hint">No sessions with a user id.</td></tr>';
  const stimRows = new Map(byStim);
  for (const s of stims) if (!stimRows.has(s.id)) stimRows.set(s.id, 0);
  $("stimuli-table").querySelector("tbody").innerHTML =
    [...stimRows.entries()]
      .map(([id, n]) => `<tr><td>${esc(stimulusName(stims, id))}</td><td class="num">${n}</td><td>${
        stimHeat && n ? `<a href="#/stimulus/${encodeURIComponent(id)}">aggregate heatmap</a>` : ""
      }</td></tr>`)
      .join("") || '<tr><td colspan="3" class="hint">No stimuli yet.</td></tr>';
}

// ------------------------------------------------------------------------------------------------
// report

function card(k, v, sub = "") {
  return `<div class="card"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div>${
    sub ? `<div class="hint">${esc(sub)}</div>` : ""
  }</div>`;
}

function drawTimeline(canvas, timeline) {
  const dpr = window.devicePixelRatio || 1;
  const W = canvas.clientWidth || 800;
  const H = canvas.clientHeight || 180;
  canvas.width = Math.round(W * dpr);
  canvas.height = Math.round(H * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  const left = 36;
  const bottom = 28;
  const band = 14;
  const plotH = H - bottom - band - 10;
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#5d6678";
  ctx.strokeStyle = "#e3e6ec";
  for (const v of [0, 0.5, 1]) {
    const y = 6 + plotH * (1 - v);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(W - 6, y);
    ctx.stroke();
    ctx.fillText(v.toFixed(1), 4, y + 4);
  }
  if (!timeline || !timeline.length) {
    ctx.fillText("no samples", left + 10, 6 + plotH / 2);
    return;
  }
  const t0 = timeline[0].t_s;
  const t1 = timeline[timeline.length - 1].t_s + 1;
  const X = (t) => left + ((t - t0) / Math.max(t1 - t0, 1e-6)) * (W - left - 6);
  // state band
  timeline.forEach((p, i) => {
    const next = i + 1 < timeline.length ? timeline[i + 1].t_s : p.t_s + 1;
    ctx.fillStyle = STATE_COLOURS[p.attention_state] || "#bbb";
    ctx.fillRect(X(p.t_s), H - bottom - band, Math.max(1, X(next) - X(p.t_s)), band);
  });
  // score line
  ctx.strokeStyle = "#2563eb";
  ctx.lineWidth = 2;
  ctx.beginPath();
  let started = false;
  for (const p of timeline) {
    if (typeof p.attention_score !== "number") {
      started = false;
      continue;
    }
    const x = X(p.t_s + 0.5);
    const y = 6 + plotH * (1 - p.attention_score);
    if (started) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
    started = true;
  }
  ctx.stroke();
  ctx.fillStyle = "#5d6678";
  ctx.fillText("0 s", left, H - 8);
  const end = `${(t1 - t0).toFixed(0)} s`;
  ctx.fillText(end, W - 6 - ctx.measureText(end).width, H - 8);
}

/** A heatmap drawn in the browser from the stored samples (used when the server has no heatmap.png). */
async function clientHeatmap(sessionId, report) {
  const page = await api(`/api/sessions/${encodeURIComponent(sessionId)}/samples`);
  const pts = page.samples.filter((s) => typeof s.screen_x_px === "number" && typeof s.screen_y_px === "number");
  const W = report.screen_w_px || 1920;
  const H = report.screen_h_px || 1080;
  const scale = 480 / W;
  const c = document.createElement("canvas");
  c.width = Math.round(W * scale);
  c.height = Math.round(H * scale);
  const ctx = c.getContext("2d");
  const grid = new Float32Array(c.width * c.height);
  const sigma = Math.max(4, 40 * scale * (W / 1280));
  const r = Math.ceil(sigma * 3);
  for (const p of pts) {
    const cx = p.screen_x_px * scale;
    const cy = p.screen_y_px * scale;
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(c.height, cy + r); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(c.width, cx + r); x++) {
        grid[y * c.width + x] += Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma * sigma));
      }
    }
  }
  let max = 0;
  for (const v of grid) max = Math.max(max, v);
  const img = ctx.createImageData(c.width, c.height);
  for (let i = 0; i < grid.length; i++) {
    const v = max ? grid[i] / max : 0;
    // dark blue -> red -> yellow
    img.data[i * 4] = Math.min(255, 40 + 430 * v);
    img.data[i * 4 + 1] = Math.max(0, Math.min(255, 400 * (v - 0.45)));
    img.data[i * 4 + 2] = Math.max(0, 90 - 200 * v);
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return { canvas: c, n: pts.length };
}

async function figure(el, route, path, { fallback, missing }) {
  el.textContent = "loading…";
  if (await has("GET", route)) {
    try {
      const url = await imageUrl(path);
      el.innerHTML = "";
      const img = new Image();
      img.alt = route.split("/").pop();
      img.onload = () => URL.revokeObjectURL(url);
      img.src = url;
      el.appendChild(img);
      return;
    } catch (err) {
      el.textContent = `not available: ${err.message}`;
      return;
    }
  }
  if (fallback) {
    try {
      const out = await fallback();
      el.innerHTML = "";
      el.appendChild(out);
      return;
    } catch (err) {
      el.textContent = `not available: ${err.message}`;
      return;
    }
  }
  el.textContent = missing;
}

export async function showReport(sessionId) {
  const sid = encodeURIComponent(sessionId);
  $("report-title").textContent = "Report";
  $("report-cards").innerHTML = "";
  $("report-meta").textContent = "loading…";
  $("report-heatmap").textContent = "";
  $("report-scanpath").textContent = "";
  $("report-aoi-panel").hidden = true;
  $("report-frame-panel").hidden = true;
  let session;
  let r;
  try {
    [session, r] = await Promise.all([api(`/api/sessions/${sid}`), api(`/api/sessions/${sid}/report`)]);
  } catch (err) {
    $("report-meta").textContent = `The report could not be loaded: ${err.message}`;
    if (err.status === 401) window.dispatchEvent(new CustomEvent("gazescope:need-token"));
    return;
  }
  const view = $("view-report");
  view.dataset.session = sessionId;
  view.dataset.hasGaze = String(!!r.has_gaze);
  $("report-title").textContent = `Report: ${session.label || session.user_id || sessionId.slice(0, 8)}`;
  const meta = [
    `session ${sessionId}`,
    session.user_id ? `user ${session.user_id}` : null,
    `started ${when(session.created_at_ms)}`,
    session.ended_at_ms ? `ended ${when(session.ended_at_ms)}` : "still running",
    r.provisional ? "provisional report (session not ended)" : null,
  ].filter(Boolean);
  $("report-meta").textContent = meta.join(" · ");
  $("report-observe").hidden = session.status === "ended";
  $("report-observe").href = `#/observe/${sid}`;
  $("report-csv").href = withToken(`/api/sessions/${sid}/samples.csv`);
  const cards = [
    card("Duration", fmt(r.duration_s, " s", 1)),
    card("Frames", String(r.frames ?? 0), `${r.frames_with_face ?? 0} with a face`),
    card("Blinks", String(r.blink_count ?? 0), `${fmt(r.blink_rate_per_min, " /min", 1)}`),
    card("Eye contact", fmt(r.eye_contact_pct, " %", 0)),
    card("Attention (mean)", fmt(r.attention_mean, "", 2)),
    card("Focused", fmt(r.focus_pct, " %", 0)),
    card("PERCLOS (mean)", fmt(r.perclos_mean, "", 3)),
    card("Dropped frames", String(r.dropped_frames ?? 0)),
    card("Processing", fmt(r.ms_per_frame_p50, " ms", 0), `p95 ${fmt(r.ms_per_frame_p95, " ms", 0)}`),
  ];
  if (r.has_gaze) {
    cards.push(card("Fixations", String(r.fixation_count ?? 0), `mean ${fmt(r.mean_fixation_ms, " ms", 0)}`));
    cards.push(card("Saccades", String(r.saccade_count ?? 0)));
    if (r.gaze) cards.push(card("Gaze on screen", fmt(r.gaze.on_screen_pct, " %", 0)));
  }
  if (typeof r.calibration_accuracy_px === "number") cards.push(card("Calibration error", fmt(r.calibration_accuracy_px, " px", 0)));
  $("report-cards").innerHTML = cards.join("");
  drawTimeline($("report-timeline"), r.attention_timeline || []);
  $("report-states").innerHTML = '<span><i style="background:#2563eb;height:3px;vertical-align:3px"></i>attention score</span>' + Object.entries(r.attention_state_s || {})
    .map(([k, v]) => `<span><i style="background:${STATE_COLOURS[k] || "#bbb"}"></i>${esc(k.replace("_", " "))} ${fmt(v, " s", 1)}</span>`)
    .join("");
  // figures
  const params = new URLSearchParams();
  if (session.stimulus_id) params.set("overlay", "1");
  const fixations = (r.fixation_count || 0) > 0;
  const heatParams = new URLSearchParams(params);
  if (!fixations) heatParams.set("source", "samples"); // the fixation heatmap needs a fixation
  const q = (p) => (p.toString() ? `?${p}` : "");
  if (r.has_gaze) {
    await Promise.all([
      figure($("report-heatmap"), "/api/sessions/{session_id}/heatmap.png", `/api/sessions/${sid}/heatmap.png${q(heatParams)}`, {
        fallback: async () => {
          const { canvas, n } = await clientHeatmap(sessionId, r);
          canvas.title = `${n} gaze samples (drawn in the browser)`;
          canvas.style.maxWidth = "100%";
          return canvas;
        },
      }),
      fixations
        ? figure($("report-scanpath"), "/api/sessions/{session_id}/scanpath.png", `/api/sessions/${sid}/scanpath.png${q(params)}`, {
          missing: "This server has no scanpath endpoint.",
        })
        : ($("report-scanpath").textContent = "No fixation was detected in this session, so there is no scanpath."),
    ]);
  } else {
    const why = "No screen gaze in this session: calibrate to get a heatmap and a scanpath.";
    $("report-heatmap").textContent = why;
    $("report-scanpath").textContent = why;
  }
  // AOI table
  if (Array.isArray(r.aois) && r.aois.length) {
    const keys = Object.keys(r.aois[0]).filter((k) => typeof r.aois[0][k] !== "object");
    const t = $("report-aois");
    t.querySelector("thead").innerHTML = `<tr>${keys.map((k) => `<th>${esc(k.replaceAll("_", " "))}</th>`).join("")}</tr>`;
    t.querySelector("tbody").innerHTML = r.aois
      .map((a) => `<tr>${keys.map((k) => `<td>${esc(typeof a[k] === "number" ? +a[k].toFixed(2) : a[k])}</td>`).join("")}</tr>`)
      .join("");
    $("report-aoi-panel").hidden = false;
  }
  // the server's HTML report page
  if (await has("GET", "/api/sessions/{session_id}/report.html")) {
    const href = withToken(`/api/sessions/${sid}/report.html`);
    $("report-html").href = href;
    $("report-html").hidden = false;
    const frame = $("report-frame");
    frame.removeAttribute("src");
    frame.hidden = true;
    $("report-frame-load").hidden = false;
    $("report-frame-load").onclick = () => {
      $("report-frame-load").hidden = true;
      frame.hidden = false;
      frame.src = href;
    };
    $("report-frame-panel").hidden = false;
  } else {
    $("report-html").hidden = true;
  }
  view.dataset.loaded = "1";
}

export async function deleteSession(sessionId) {
  await api(`/api/sessions/${encodeURIComponent(sessionId)}`, { method: "DELETE" });
}

// ------------------------------------------------------------------------------------------------
// aggregate heatmaps

/** "samples" when none of the (ended) sessions has a fixation (the fixation heatmap would be empty),
 * else null (the server's default, fixations). Looks at no more than 50 stored reports. */
async function heatmapSource(sessions) {
  const ended = sessions.filter((s) => s.status === "ended").slice(0, 50);
  if (!ended.length || ended.length < sessions.filter((s) => s.status === "ended").length) return null;
  const reports = await Promise.all(
    ended.map((s) => api(`/api/sessions/${encodeURIComponent(s.id)}/report`).catch(() => null)),
  );
  return reports.some((r) => r && (r.fixation_count || 0) > 0) ? null : "samples";
}

export async function showAggregate(kind, id) {
  const enc = encodeURIComponent(id);
  const img = $("agg-image");
  const chips = $("agg-sessions");
  chips.innerHTML = "";
  img.textContent = "loading…";
  $("agg-report").hidden = true;
  $("agg-overlay").hidden = true;
  const stims = await stimuli();
  const sessions = await api(`/api/sessions?limit=1000&${kind === "user" ? "user_id" : "stimulus_id"}=${enc}`);
  if (kind === "user") {
    $("agg-title").textContent = `Heatmap of user ${id}`;
    $("agg-meta").textContent = `${sessions.length} session(s) of this user, all stimuli and screens together.`;
    const source = await heatmapSource(sessions);
    await figure(img, "/api/users/{user_id}/heatmap.png", `/api/users/${enc}/heatmap.png${source ? `?source=${source}` : ""}`, {
      missing: "This server has no per-user heatmap endpoint.",
    });
    return;
  }
  $("agg-title").textContent = `Aggregate heatmap: ${stimulusName(stims, id)}`;
  const users = new Set(sessions.map((s) => s.user_id).filter(Boolean));
  $("agg-meta").textContent = `${sessions.length} session(s) by ${users.size} user(s) on this stimulus; untick sessions to leave them out.`;
  chips.innerHTML = sessions
    .map((s) => `<label><input type="checkbox" value="${esc(s.id)}" checked>${esc(s.user_id || "anonymous")} · ${esc(when(s.created_at_ms))}</label>`)
    .join("");
  const load = async () => {
    const chosen = [...chips.querySelectorAll("input:checked")].map((i) => i.value);
    if (!chosen.length) {
      img.textContent = "No session chosen.";
      return;
    }
    const params = new URLSearchParams();
    if (chosen.length !== sessions.length) params.set("sessions", chosen.join(","));
    const source = await heatmapSource(sessions.filter((s) => chosen.includes(s.id)));
    if (source) params.set("source", source);
    const q = params.toString() ? `?${params}` : "";
    await figure(img, "/api/stimuli/{stimulus_id}/heatmap.png", `/api/stimuli/${enc}/heatmap.png${q}`, {
      missing: "This server has no aggregate heatmap endpoint.",
    });
  };
  chips.onchange = load;
  if (await has("GET", "/api/stimuli/{stimulus_id}/report.html")) {
    $("agg-report").href = withToken(`/api/stimuli/${enc}/report.html`);
    $("agg-report").hidden = false;
  }
  if (stims.some((s) => s.id === id && s.kind === "video")) {
    $("agg-overlay").href = withToken(`/api/stimuli/${enc}/video/overlay.mp4`); // every viewer's gaze heatmap over the video
    $("agg-overlay").hidden = false;
  }
  await load();
}

// ------------------------------------------------------------------------------------------------
// observer

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
