// Aggregate: heatmaps across sessions, of one user or of one stimulus (whose sessions can be left out).

import { api, has, withToken } from "../api.js";
import { figure } from "../figures.js";
import { stimuli, stimulusName } from "../stimuli.js";
import { $, esc, when } from "../ui.js";

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

/**
 * Show in the Aggregate view the heatmap of all sessions of a user (`kind` "user") or of a stimulus
 * (`kind` "stimulus", with a choice of its sessions, its report page and its gaze overlay video).
 */
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
