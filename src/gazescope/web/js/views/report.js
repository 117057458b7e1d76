// Report: one session's report (JSON rendered here), PNG figures from the analytics endpoints, the HTML
// report page when the server has it, the samples CSV, and deleting the session.

import { api, has, withToken } from "../api.js";
import { figure } from "../figures.js";
import { reportApiError } from "../settings.js";
import { $, esc, fmt, when } from "../ui.js";

/** The colour of each attention state in the timeline and its legend. */
export const STATE_COLOURS = {
  focused: "#2e9d57",
  looking_away: "#f0a020",
  eyes_closed: "#7a5cc4",
  drowsy: "#d0443e",
  absent: "#9a9a9a",
};

/** The colour of each activity in the timeline's activity band (other attention states: their state colour). */
export const ACTIVITY_COLOURS = {
  reading: "#2f6bd6",
  scanning: "#19a7bd",
  idle: "#c2b23a",
  ...STATE_COLOURS,
};

const VERDICT_WORDS = { pass: "pass", fail: "FAIL", not_applicable: "n/a", unknown: "unknown" };

function qualityValue(c) {
  if (typeof c.value !== "number") return "–";
  if (c.unit === "share") return fmt(100 * c.value, " %", 1);
  if (c.unit === "% of width") return fmt(c.value, " % of width", 1);
  return fmt(c.value, ` ${c.unit}`, 1);
}

function qualityThreshold(c) {
  const cmp = c.comparison === ">=" ? "≥" : "≤";
  if (c.unit === "share") return `${cmp} ${fmt(100 * c.threshold, " %", 0)}`;
  return `${cmp} ${fmt(c.threshold, ` ${c.unit}`, c.unit === "% of width" ? 1 : 0)}`;
}

/** Fill the data-quality card from the report's `data_quality` (a note for reports made before it). */
function showQuality(dq) {
  const panel = $("report-quality-panel");
  panel.hidden = false;
  const verdict = $("report-quality-verdict");
  const body = $("report-quality").querySelector("tbody");
  if (!dq) {
    verdict.dataset.status = "unknown";
    verdict.textContent = "not recorded";
    body.innerHTML = "";
    $("report-quality-note").textContent = "This report was stored before reports carried a data-quality card.";
    return;
  }
  verdict.dataset.status = dq.status;
  verdict.textContent = VERDICT_WORDS[dq.status] || dq.status;
  body.innerHTML = (dq.checks || [])
    .map(
      (c) => `<tr data-check="${esc(c.name)}"><td>${esc(c.label)}</td><td class="num">${esc(qualityValue(c))}</td>` +
        `<td class="num">${esc(qualityThreshold(c))}</td>` +
        `<td class="check" data-status="${esc(c.status)}">${esc(VERDICT_WORDS[c.status] || c.status)}</td>` +
        `<td title="setting ${esc(c.setting)}">${esc(c.detail)}</td></tr>`,
    )
    .join("");
  $("report-quality-note").textContent = (dq.failed || []).length
    ? `Failed: ${dq.failed.map((f) => f.replaceAll("_", " ")).join(", ")}. Figures from this session are less reliable; thresholds are server settings (GAZESCOPE_QUALITY_*).`
    : "Thresholds are server settings (GAZESCOPE_QUALITY_*).";
}

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
  const band = 12;
  const hasActivity = (timeline || []).some((p) => p.activity);
  const bands = hasActivity ? 2 : 1;
  const plotH = H - bottom - bands * (band + 2) - 8;
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
  // state band, and under it the activity band
  timeline.forEach((p, i) => {
    const next = i + 1 < timeline.length ? timeline[i + 1].t_s : p.t_s + 1;
    const w = Math.max(1, X(next) - X(p.t_s));
    ctx.fillStyle = STATE_COLOURS[p.attention_state] || "#bbb";
    ctx.fillRect(X(p.t_s), H - bottom - bands * (band + 2), w, band);
    if (hasActivity) {
      ctx.fillStyle = ACTIVITY_COLOURS[p.activity] || "#bbb";
      ctx.fillRect(X(p.t_s), H - bottom - band - 2, w, band);
    }
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
  // /samples is paged (GAZESCOPE_SAMPLES_PAGE_DEFAULT a page): follow `next` to the last page
  const samples = [];
  for (let start = 0; start !== null && start !== undefined; ) {
    const page = await api(`/api/sessions/${encodeURIComponent(sessionId)}/samples?start=${start}`);
    for (const s of page.samples) samples.push(s);
    start = page.next;
  }
  const pts = samples.filter((s) => typeof s.screen_x_px === "number" && typeof s.screen_y_px === "number");
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

/**
 * Show the report of session `sessionId` in the Report view: cards, attention timeline, heatmap and scanpath
 * (the server's PNGs, or a heatmap drawn here), the AOI table and the server's HTML report page.
 */
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
  showQuality(r.data_quality);
  drawTimeline($("report-timeline"), r.attention_timeline || []);
  const activities = Object.entries(r.activity_s || {}).filter(([k, v]) => v > 0 && ACTIVITY_COLOURS[k] && !(k in (r.attention_state_s || {})));
  $("report-states").innerHTML = '<span><i style="background:#2563eb;height:3px;vertical-align:3px"></i>attention score</span>' + Object.entries(r.attention_state_s || {})
    .map(([k, v]) => `<span><i style="background:${STATE_COLOURS[k] || "#bbb"}"></i>${esc(k.replace("_", " "))} ${fmt(v, " s", 1)}</span>`)
    .join("") + (activities.length ? '<span>· activity band (lower, while focused):</span>' + activities
    .map(([k, v]) => `<span><i style="background:${ACTIVITY_COLOURS[k]}"></i>${esc(k)} ${fmt(v, " s", 1)}</span>`)
    .join("") : "");
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

async function deleteSession(sessionId) {
  await api(`/api/sessions/${encodeURIComponent(sessionId)}`, { method: "DELETE" });
}
/** Wire the Report view's Delete button (asks first, then goes back to Review). */
export function initReport() {
  $("report-delete").onclick = async () => {
    const id = $("view-report").dataset.session;
    if (!id || !confirm("Delete this session, its samples and its report?")) return;
    try {
      await deleteSession(id);
      location.hash = "#/review";
    } catch (err) {
      reportApiError("The session could not be deleted", err);
    }
  };
}
