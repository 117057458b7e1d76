// AOI editor (#/aois/<stimulus id>): draw rectangles and polygons on a stimulus image or on a frame of a
// video stimulus, name them, give AOIs on a video a time range, save them (PUT /api/stimuli/{id}/aois),
// list and delete them. Coordinates are stimulus pixels (the drawing layer's viewBox is the stimulus size).
// The view builds its own section and style on first use, so the shared page and stylesheet stay as they are.

import { api, withToken } from "../api.js";
import { stimuli } from "../stimuli.js";
import { $, esc, showBanner } from "../ui.js";

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];
const MIN_SIDE_PX = 3; // a drag shorter than this (stimulus px) is a click, not a rectangle

const STYLE = `
#view-aois .aoi-stage { position: relative; width: min(100%, 960px); line-height: 0; user-select: none;
  background: #222; }
#view-aois .aoi-stage img, #view-aois .aoi-stage video { width: 100%; height: auto; display: block; }
#view-aois .aoi-seek { display: flex; gap: .6rem; align-items: center; width: min(100%, 960px); margin-top: .4rem; }
#view-aois .aoi-seek input[type=range] { flex: 1; }
#view-aois .aoi-stage svg { position: absolute; inset: 0; width: 100%; height: 100%; cursor: crosshair;
  touch-action: none; }
#view-aois .aoi-stage svg .aoi { fill-opacity: 0.18; stroke-width: 2; vector-effect: non-scaling-stroke; }
#view-aois .aoi-stage svg .aoi.draft { stroke-dasharray: 6 4; }
#view-aois .aoi-stage svg text { font-family: system-ui, sans-serif; font-weight: 600; paint-order: stroke;
  stroke: #000; fill: #fff; }
#view-aois .aoi-tools { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: .5rem 0; }
#view-aois .aoi-tools label { display: inline-flex; flex-direction: row; align-items: center; gap: .35rem; }
#view-aois .aoi-tools input[type=number] { width: 6rem; }
#view-aois .aoi-swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px;
  vertical-align: middle; margin-right: .3rem; }
`;

const state = {
  stim: null, // the stimulus document
  aois: [], // AOIs as the API takes them
  draft: null, // {kind, x_px.. | points_px} being drawn
  drag: null, // rectangle drag start {x, y}
  dirty: false,
};

function build() {
  if ($("view-aois")) return;
  const style = document.createElement("style");
  style.textContent = STYLE;
  document.head.append(style);
  const section = document.createElement("section");
  section.id = "view-aois";
  section.className = "view";
  section.dataset.view = "aois";
  section.hidden = true;
  section.innerHTML = `
    <div class="panel">
      <div class="row">
        <h1 id="aoi-title">Areas of interest</h1>
        <span class="spacer"></span>
        <label>Stimulus <select id="aoi-stimulus"></select></label>
      </div>
      <p id="aoi-meta" class="hint">Choose a stimulus, then draw on it: drag for a rectangle, or pick
        "Polygon" and click its corners (double-click or "Close polygon" to finish). Name the area, then Add.
        Coordinates are the stimulus' own pixels.</p>
      <div class="aoi-tools">
        <label><input type="radio" name="aoi-kind" value="rect" checked> Rectangle</label>
        <label><input type="radio" name="aoi-kind" value="polygon"> Polygon</label>
        <button id="aoi-close" type="button" hidden>Close polygon</button>
        <label>Name <input id="aoi-name" type="text" maxlength="200" placeholder="e.g. logo"></label>
        <span id="aoi-times" hidden>
          <label>from <input id="aoi-start" type="number" min="0" step="0.1"> s</label>
          <label>to <input id="aoi-end" type="number" min="0" step="0.1"> s</label>
          <button id="aoi-now" type="button" title="Start at the video's current time">start = now</button>
        </span>
        <button id="aoi-add" type="button" disabled>Add</button>
        <button id="aoi-cancel" type="button" disabled>Discard drawing</button>
      </div>
      <div id="aoi-stage" class="aoi-stage"></div>
      <div id="aoi-seek" class="aoi-seek" hidden>
        <button id="aoi-play" type="button">Play</button>
        <input id="aoi-time" type="range" min="0" step="0.05" value="0" aria-label="Video time">
        <span id="aoi-time-label" class="hint">0.0 s</span>
      </div>
    </div>
    <div class="panel">
      <div class="row">
        <h2>AOIs of this stimulus</h2>
        <span class="spacer"></span>
        <span id="aoi-status" class="hint"></span>
        <button id="aoi-save" type="button" class="primary" disabled>Save</button>
      </div>
      <table class="table" id="aoi-table"><thead><tr><th>Name</th><th>Shape</th><th>Where (stimulus px)</th>
        <th>Time range</th><th></th></tr></thead><tbody></tbody></table>
    </div>`;
  const main = document.querySelector("main") || document.body;
  main.append(section);
}

const isVideo = () => state.stim?.kind === "video";
const kind = () => document.querySelector("input[name=aoi-kind]:checked").value;
const round1 = (v) => Math.round(v * 10) / 10;

function status(text) {
  $("aoi-status").textContent = text;
}

function markDirty(dirty = true) {
  state.dirty = dirty;
  $("aoi-save").disabled = !dirty;
  status(dirty ? "unsaved changes" : "saved");
}

/** Stimulus pixels of a pointer event on the drawing layer. */
function point(ev) {
  const svg = $("aoi-stage").querySelector("svg");
  const r = svg.getBoundingClientRect();
  const x = ((ev.clientX - r.left) / r.width) * state.stim.width_px;
  const y = ((ev.clientY - r.top) / r.height) * state.stim.height_px;
  return [round1(Math.min(Math.max(x, 0), state.stim.width_px)), round1(Math.min(Math.max(y, 0), state.stim.height_px))];
}

function shapeEl(a, colour, draft = false) {
  const g = document.createElementNS(SVG, "g");
  let el;
  let label;
  if (a.kind === "polygon") {
    el = document.createElementNS(SVG, a.closed === false ? "polyline" : "polygon");
    el.setAttribute("points", a.points_px.map((p) => p.join(",")).join(" "));
    label = a.points_px[0];
  } else {
    el = document.createElementNS(SVG, "rect");
    for (const [k, v] of [["x", a.x_px], ["y", a.y_px], ["width", a.w_px], ["height", a.h_px]]) el.setAttribute(k, v);
    label = [a.x_px, a.y_px];
  }
  el.setAttribute("class", draft ? "aoi draft" : "aoi");
  el.setAttribute("fill", colour);
  el.setAttribute("stroke", colour);
  g.append(el);
  if (a.name && label) {
    // labels about 1/45 of the stimulus width (the drawing is in stimulus px, scaled to the screen)
    const fs = Math.max(6, (state.stim?.width_px || 640) / 45);
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", label[0] + fs / 4);
    t.setAttribute("y", label[1] + fs * 1.1);
    t.style.fontSize = `${fs}px`;
    t.style.strokeWidth = `${fs / 5}px`;
    t.textContent = a.name;
    g.append(t);
  }
  return g;
}

function visibleNow(a) {
  if (!isVideo()) return true;
  const t = $("aoi-stage").querySelector("video")?.currentTime ?? 0;
  return (a.start_s == null || t >= a.start_s) && (a.end_s == null || t <= a.end_s);
}

function draw() {
  const svg = $("aoi-stage").querySelector("svg");
  if (!svg) return;
  svg.replaceChildren();
  state.aois.forEach((a, i) => {
    if (visibleNow(a)) svg.append(shapeEl(a, COLOURS[i % COLOURS.length]));
  });
  if (state.draft) svg.append(shapeEl(state.draft, "#ffd400", true));
  const ready = !!state.draft && (state.draft.kind === "rect" || state.draft.closed !== false);
  $("aoi-add").disabled = !ready;
  $("aoi-cancel").disabled = !state.draft;
  $("aoi-close").hidden = !(state.draft?.kind === "polygon" && state.draft.closed === false);
  $("aoi-close").disabled = !(state.draft?.points_px?.length >= 3);
}

function fmtWhere(a) {
  if (a.kind === "polygon") return `${a.points_px.length} points: ${a.points_px.map((p) => `(${p[0]}, ${p[1]})`).join(" ")}`;
  return `x ${a.x_px}, y ${a.y_px}, ${a.w_px} × ${a.h_px}`;
}

function fmtRange(a) {
  if (!isVideo()) return "–";
  if (a.start_s == null && a.end_s == null) return "whole video";
  return `${a.start_s ?? 0} s – ${a.end_s != null ? `${a.end_s} s` : "end"}`;
}

function list() {
  $("aoi-table").querySelector("tbody").innerHTML =
    state.aois
      .map(
        (a, i) => `<tr data-aoi="${esc(a.name)}"><td><span class="aoi-swatch" style="background:${COLOURS[i % COLOURS.length]}"></span>${esc(a.name)}</td>
        <td>${a.kind === "polygon" ? "polygon" : "rectangle"}</td><td>${esc(fmtWhere(a))}</td><td>${esc(fmtRange(a))}</td>
        <td><button type="button" class="danger" data-delete="${i}">Delete</button></td></tr>`,
      )
      .join("") || '<tr><td colspan="5" class="hint">No AOIs yet: draw one above.</td></tr>';
  draw();
}

function onDown(ev) {
  if (!state.stim || ev.button !== 0) return;
  const [x, y] = point(ev);
  if (kind() === "polygon") {
    if (!state.draft || state.draft.kind !== "polygon" || state.draft.closed !== false) {
      state.draft = { kind: "polygon", points_px: [], closed: false };
    }
    state.draft.points_px.push([x, y]);
    draw();
    return;
  }
  ev.currentTarget.setPointerCapture?.(ev.pointerId);
  state.drag = { x, y };
  state.draft = { kind: "rect", x_px: x, y_px: y, w_px: 0, h_px: 0 };
  draw();
}

function onMove(ev) {
  if (!state.drag) return;
  const [x, y] = point(ev);
  const { x: x0, y: y0 } = state.drag;
  state.draft = {
    kind: "rect", x_px: Math.min(x, x0), y_px: Math.min(y, y0),
    w_px: round1(Math.abs(x - x0)), h_px: round1(Math.abs(y - y0)),
  };
  draw();
}

function onUp() {
  if (!state.drag) return;
  state.drag = null;
  if (state.draft && (state.draft.w_px < MIN_SIDE_PX || state.draft.h_px < MIN_SIDE_PX)) state.draft = null;
  draw();
  if (state.draft) $("aoi-name").focus();
}

function closePolygon() {
  const d = state.draft;
  if (!d || d.kind !== "polygon") return;
  // a double-click adds its point twice: drop repeats
  d.points_px = d.points_px.filter((p, i, all) => i === 0 || p[0] !== all[i - 1][0] || p[1] !== all[i - 1][1]);
  if (d.points_px.length < 3) return;
  d.closed = true;
  draw();
  $("aoi-name").focus();
}

function addDraft() {
  const d = state.draft;
  if (!d) return;
  const name = $("aoi-name").value.trim() || `AOI ${state.aois.length + 1}`;
  if (state.aois.some((a) => a.name === name)) {
    showBanner(`An AOI named "${name}" exists already: choose another name.`);
    return;
  }
  const aoi = d.kind === "polygon"
    ? { name, kind: "polygon", points_px: d.points_px }
    : { name, kind: "rect", x_px: d.x_px, y_px: d.y_px, w_px: d.w_px, h_px: d.h_px };
  if (isVideo()) {
    const s = $("aoi-start").value;
    const e = $("aoi-end").value;
    if (s !== "") aoi.start_s = Number(s);
    if (e !== "") aoi.end_s = Number(e);
  }
  state.aois.push(aoi);
  state.draft = null;
  $("aoi-name").value = "";
  markDirty();
  list();
}

async function save() {
  const id = state.stim.id;
  $("aoi-save").disabled = true;
  status("saving…");
  try {
    const out = await api(`/api/stimuli/${encodeURIComponent(id)}/aois`, { method: "PUT", body: { aois: state.aois } });
    state.aois = out.aois;
    markDirty(false);
    list();
  } catch (err) {
    $("aoi-save").disabled = false;
    status("not saved");
    showBanner(`The AOIs were not saved: ${err.message}`);
  }
}

function stage(stim) {
  const enc = encodeURIComponent(stim.id);
  const media = stim.kind === "video"
    ? `<video src="${esc(withToken(`/api/stimuli/${enc}/video`))}" muted preload="auto"></video>`
    : `<img src="${esc(withToken(`/api/stimuli/${enc}/image`))}" alt="${esc(stim.name || stim.id)}" draggable="false">`;
  // as wide as fits, no taller than about two thirds of the window
  const fit = `min(100%, 960px, ${((65 * stim.width_px) / stim.height_px).toFixed(2)}vh)`;
  $("aoi-stage").style.width = fit;
  $("aoi-seek").style.width = fit;
  $("aoi-stage").innerHTML = `${media}<svg viewBox="0 0 ${stim.width_px} ${stim.height_px}" preserveAspectRatio="none"></svg>`;
  const svg = $("aoi-stage").querySelector("svg");
  svg.addEventListener("pointerdown", onDown);
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerup", onUp);
  svg.addEventListener("dblclick", closePolygon);
  const video = $("aoi-stage").querySelector("video");
  $("aoi-seek").hidden = !video;
  if (video) {
    // the drawing layer covers the whole frame; the video is driven by the slider below it
    const slider = $("aoi-time");
    const shown = () => {
      slider.value = video.currentTime;
      $("aoi-time-label").textContent = `${video.currentTime.toFixed(1)} s / ${(video.duration || 0).toFixed(1)} s`;
      $("aoi-play").textContent = video.paused ? "Play" : "Pause";
      draw();
    };
    video.addEventListener("loadedmetadata", () => {
      slider.max = video.duration || stim.duration_s || 0;
      shown();
    });
    for (const ev of ["timeupdate", "seeked", "play", "pause"]) video.addEventListener(ev, shown);
    slider.oninput = () => {
      video.currentTime = Number(slider.value);
    };
    $("aoi-play").onclick = () => (video.paused ? video.play() : video.pause());
  }
}

/** Show the editor for stimulus `id` (or the first stimulus; a hint when there is none). */
export async function showAois(id) {
  build();
  if (state.dirty && state.stim && state.stim.id !== id && !window.confirm("Leave without saving the AOIs?")) {
    location.hash = `#/aois/${encodeURIComponent(state.stim.id)}`;
    return;
  }
  const all = await stimuli();
  const select = $("aoi-stimulus");
  select.innerHTML = all.map((s) => `<option value="${esc(s.id)}">${esc(s.name || s.id)}${s.kind === "video" ? " (video)" : ""}</option>`).join("");
  if (!all.length) {
    $("aoi-title").textContent = "Areas of interest";
    $("aoi-stage").textContent = "No stimulus yet: upload one from the Track view (Stimulus).";
    return;
  }
  const chosen = all.find((s) => s.id === id) || all[0];
  select.value = chosen.id;
  const stim = await api(`/api/stimuli/${encodeURIComponent(chosen.id)}`);
  state.stim = stim;
  state.aois = stim.aois || [];
  state.draft = null;
  $("aoi-title").textContent = `Areas of interest: ${stim.name || stim.id}`;
  $("aoi-times").hidden = stim.kind !== "video";
  stage(stim);
  markDirty(false);
  status(`${state.aois.length} saved`);
  list();
}

/** Wire the editor's controls (the section is built here, before the router shows it). */
export function initAois() {
  build();
  $("aoi-stimulus").onchange = (ev) => {
    location.hash = `#/aois/${encodeURIComponent(ev.target.value)}`;
  };
  for (const r of document.querySelectorAll("input[name=aoi-kind]")) {
    r.onchange = () => {
      state.draft = null;
      draw();
    };
  }
  $("aoi-close").onclick = closePolygon;
  $("aoi-add").onclick = addDraft;
  $("aoi-name").onkeydown = (ev) => {
    if (ev.key === "Enter") addDraft();
  };
  $("aoi-cancel").onclick = () => {
    state.draft = null;
    draw();
  };
  $("aoi-now").onclick = () => {
    const v = $("aoi-stage").querySelector("video");
    if (v) $("aoi-start").value = round1(v.currentTime);
  };
  $("aoi-save").onclick = save;
  $("aoi-table").onclick = (ev) => {
    const i = ev.target.closest("[data-delete]")?.dataset.delete;
    if (i === undefined) return;
    state.aois.splice(Number(i), 1);
    markDirty();
    list();
  };
}
