// Camera: getUserMedia with readable errors, and JPEG frame capture (canvas.toBlob) at a chosen size.

/** A human explanation of a getUserMedia failure (DOMException names from the Media Capture spec). */
export function explainCameraError(err) {
  const name = err && err.name;
  switch (name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
      return "Camera access was denied. Allow the camera for this site in the browser's address bar " +
        "(or site settings) and press Start camera again.";
    case "NotReadableError":
    case "TrackStartError":
      return "The camera is busy or cannot be read: another program or browser tab is probably using it. " +
        "Close it and try again.";
    case "NotFoundError":
    case "DevicesNotFoundError":
      return "No camera was found. Connect a webcam and try again.";
    case "OverconstrainedError":
      return "The camera cannot deliver the requested size; choose a smaller frame size in Settings.";
    case "SecurityError":
      return "The browser blocked the camera for this page (camera access needs https or localhost).";
    case "AbortError":
      return "The camera failed to start. Try again, or reconnect the webcam.";
    case "InsecureContext":
      return "Camera access needs a secure page: open gazescope over https, or on localhost.";
    default:
      return `The camera could not be started (${name || "error"}: ${(err && err.message) || err}).`;
  }
}

/** The webcam shown in a <video> element, and JPEG frames captured from it at a chosen size. */
export class Camera {
  constructor(video) {
    this.video = video;
    this.stream = null;
    this.canvas = document.createElement("canvas");
    this.ctx = this.canvas.getContext("2d", { alpha: false });
  }

  get running() {
    return !!this.stream && this.stream.getVideoTracks().some((t) => t.readyState === "live");
  }

  /** Start the camera at about width x height; resolves when the video plays. Throws a DOMException-like
   * error (see explainCameraError). */
  async start(width, height, fps) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const e = new Error("navigator.mediaDevices is unavailable");
      e.name = window.isSecureContext ? "NotFoundError" : "InsecureContext";
      throw e;
    }
    this.stop();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: Math.max(fps, 15) } },
    });
    this.video.srcObject = this.stream;
    await new Promise((resolve) => {
      if (this.video.readyState >= 2) resolve();
      else this.video.addEventListener("loadeddata", resolve, { once: true });
    });
    try {
      await this.video.play();
    } catch {
      /* autoplay of a muted stream is allowed; a paused element still gives frames */
    }
  }

  stop() {
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  /** One JPEG frame of width x height (the camera image scaled to fit, letterboxed if needed). */
  capture(width, height, quality) {
    const v = this.video;
    if (!v.videoWidth) return Promise.resolve(null);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const s = Math.min(width / v.videoWidth, height / v.videoHeight);
    const w = v.videoWidth * s;
    const h = v.videoHeight * s;
    if (w < width || h < height) {
      this.ctx.fillStyle = "#000";
      this.ctx.fillRect(0, 0, width, height);
    }
    this.ctx.drawImage(v, (width - w) / 2, (height - h) / 2, w, h);
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/jpeg", quality));
  }
}
