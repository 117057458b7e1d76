// What the views share: the one camera, tracking client, frame sender and on-screen gaze layer of the page,
// and `app`, the state of the session being tracked.

import { Camera } from "./camera.js";
import { GazeLayer } from "./gaze.js";
import { frameSettings } from "./settings.js";
import { FrameSender, TrackingClient } from "./tracker.js";

/** The webcam, shown in the Track view's preview. */
export const camera = new Camera(document.getElementById("video"));
/** The tracking WebSocket client of the session being tracked. */
export const client = new TrackingClient();
/** Sends camera frames to `client` with the frame settings of the moment. */
export const sender = new FrameSender(camera, client, frameSettings);
/** The gaze dot and trail over the whole page. */
export const gazeLayer = new GazeLayer(document.getElementById("gaze-canvas"));

/** The state of the page's tracking, read and written by the views. */
export const app = {
  session: null, // the session being tracked (SessionOut)
  profileId: null, // calibration profile applied to it
  profileAccepted: false, // whether that profile passed the quality gate or was kept (then recordings use it)
  profileSession: null, // the session it was made or applied in (reconnects of that session re-apply it)
  savedProfile: null, // the user id's newest accepted saved profile (summary), which a new session applies
  calibration: null, // text shown in the metrics
  lowSince: null,
  lastSample: null,
  stimulus: null, // {id, name} chosen in the dialog
  recording: null, // {timer, sessionId} while a stimulus is shown
  lastRecorded: null, // {stimulus, sessionId, samples} of the last recording (the "next" bar)
};
window.gazescope = { app, client, camera, gazeLayer }; // for debugging and tests
