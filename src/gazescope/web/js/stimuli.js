// The server's stimuli (GET /api/stimuli), listed once and kept until an upload changes them.

import { api, has } from "./api.js";

let stimuliCache = null;

/** The stimuli ([{id, name, kind, ...}]); [] when the server has no stimulus endpoints or the list fails. */
export async function stimuli() {
  if (stimuliCache) return stimuliCache;
  if (!(await has("GET", "/api/stimuli"))) return (stimuliCache = []);
  try {
    stimuliCache = (await api("/api/stimuli")) || [];
  } catch {
    stimuliCache = [];
  }
  return stimuliCache;
}

/** Forget the listed stimuli (after an upload), so the next `stimuli()` asks the server again. */
export function forgetStimuli() {
  stimuliCache = null;
}

/** The name of stimulus `id` in `list` (its id when it has no name or is not in the list). */
export function stimulusName(list, id) {
  const s = list.find((x) => x.id === id);
  return s ? s.name || s.id : id;
}
