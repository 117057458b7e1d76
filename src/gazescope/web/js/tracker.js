// The app's tracking pieces come from the SDK (web/sdk/gazescope.js, served to other pages at /sdk/gazescope.js; docs/sdk.md): one client for the app and
// for embedding pages. Here only the sender that follows the page's tracking mode.

export { FaceMeshRunner, FrameSender, LandmarkSender, TrackingClient, faceMeshStatus, DEVICE_MIN_FPS } from "../sdk/gazescope.js";

/**
 * Starts the landmark sender when `mode()` is "device" (Face Mesh in the page, landmarks sent), else the
 * frame sender (camera frames sent); stop() stops both.
 */
export class ModeSender {
  constructor(frameSender, landmarkSender, mode) {
    this.frames = frameSender;
    this.landmarks = landmarkSender;
    this.mode = mode;
    this.active = null;
  }

  start() {
    this.stop();
    this.active = this.mode() === "device" ? this.landmarks : this.frames;
    this.active.start();
  }

  stop() {
    this.frames.stop();
    this.landmarks.stop();
    this.active = null;
  }
}
