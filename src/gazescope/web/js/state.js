// What the views share: the one camera, tracking client, Face Mesh runner, sender and on-screen gaze layer of
// the page, and `app`, the state of the session being tracked.

import { getToken } from "./api.js";
import { Camera } from "./camera.js";
import { GazeLayer } from "./gaze.js";
import { frameSettings } from "./settings.js";
import { FaceMeshRunner, FrameSender, LandmarkSender, ModeSender, TrackingClient } from "./tracker.js";

/** The webcam, shown in the Track view's preview. */
export const camera = new Camera(document.getElementById("video"));
/** The tracking WebSocket client of the session being tracked (the tab's API token, if any). */
export const client = new TrackingClient({ token: getToken });
/** MediaPipe Face Mesh in the page (files served by this server at /app/vendor/face_mesh/). */
export const runner = new FaceMeshRunner();

/** The state of the page's tracking, read and written by the views. */
export const app = {
  session: null, // the session being tracked (SessionOut)
  trackingMode: "server", // "device": Face Mesh here, landmarks sent; "server": camera frames sent
  deviceFps: null, // frames per second of the in-page Face Mesh, measured when the camera starts
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
/** Sends camera frames or on-device landmarks to `client` (by `app.trackingMode`) with the frame settings. */
export const sender = new ModeSender(
  new FrameSender(camera, client, frameSettings),
  new LandmarkSender(camera, client, runner, frameSettings),
  () => app.trackingMode,
);
/** The gaze dot and trail over the whole page. */
export const gazeLayer = new GazeLayer(document.getElementById("gaze-canvas"));
window.gazescope = { app, client, camera, runner, gazeLayer }; // for debugging and tests
