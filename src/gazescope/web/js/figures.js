// Figures of the analytics endpoints (PNG) shown in a view, with a fallback when the server lacks the route.

import { has, imageUrl } from "./api.js";

/**
 * Show in element `el` the PNG at `path` when the server serves `route` (GET, OpenAPI path template);
 * otherwise the element `fallback()` resolves with, or else the text `missing`. Errors are shown as text.
 */
export async function figure(el, route, path, { fallback, missing }) {
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
