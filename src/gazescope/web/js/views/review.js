// Review: the sessions dashboard, filtered by user and stimulus, with the sessions counted by user and by
// stimulus (links to their reports, live observers and aggregate heatmaps).

import { api, has } from "../api.js";
import { stimuli, stimulusName } from "../stimuli.js";
import { $, esc, showBanner, when } from "../ui.js";

/** List the sessions (GET /api/sessions) in the Review view, with the user and stimulus filters applied. */
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
        stimHeat && n ? `<a href="#/stimulus/${encodeURIComponent(id)}">aggregate heatmap</a> · ` : ""
      }<a href="#/aois/${encodeURIComponent(id)}">AOIs</a></td></tr>`)
      .join("") || '<tr><td colspan="3" class="hint">No stimuli yet.</td></tr>';
}

/** Wire the Review view's Refresh button and filters. */
export function initReview() {
  $("refresh-sessions").onclick = showDashboard;
  $("filter-user").onchange = showDashboard;
  $("filter-stimulus").onchange = showDashboard;
}
