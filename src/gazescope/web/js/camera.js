// Camera: getUserMedia with readable errors, frames drawn or captured as JPEG at a chosen size (the SDK's).

export { Camera, explainCameraError } from "../sdk/gazescope.js";
