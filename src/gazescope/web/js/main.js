// gazescope web app: bootstrapping and the router that switches between the views (js/views/: track,
// calibration and stimulus over the Track view, review, report, aggregate, observe, AOI editor).
// Plain ES modules, no build step; served by gazescope at /app/.

import { initSettings, openSettings } from "./settings.js";
import { showBanner } from "./ui.js";
import { showAggregate } from "./views/aggregate.js";
import { initAois, showAois } from "./views/aois.js";
import { initCalibration } from "./views/calibration.js";
import { showObserve, stopObserve } from "./views/observe.js";
import { initReport, showReport } from "./views/report.js";
import { initReview, showDashboard } from "./views/review.js";
import { initStimulus } from "./views/stimulus.js";
import { initTrack, refreshProfileInfo, showTrack, startTrack } from "./views/track.js";

const VIEWS = ["track", "review", "report", "aggregate", "observe", "aois"];

function showView(name) {
  for (const v of VIEWS) document.getElementById(`view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll("[data-nav]")) {
    const nav = a.dataset.nav;
    a.classList.toggle("active", nav === name || (nav === "review" && name !== "track"));
  }
  document.body.dataset.view = name;
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [head, arg] = parts;
  if (head !== "observe") stopObserve();
  switch (head) {
    case "review":
      showView("review");
      await showDashboard();
      break;
    case "report":
      showView("report");
      await showReport(arg);
      break;
    case "stimulus":
    case "user":
      showView("aggregate");
      await showAggregate(head, arg);
      break;
    case "observe":
      showView("observe");
      showObserve(arg);
      break;
    case "aois":
      showView("aois");
      await showAois(arg);
      break;
    default:
      showView("track");
      showTrack();
  }
}

function init() {
  initSettings({ onToken: refreshProfileInfo });
  initTrack();
  initCalibration();
  initStimulus();
  initReview();
  initReport();
  initAois();
  window.addEventListener("hashchange", route);
  window.addEventListener("gazescope:need-token", () => {
    showBanner("This server needs an API token: enter it under Settings, then try again.");
    openSettings(true);
  });
  startTrack();
  route();
}

init();
