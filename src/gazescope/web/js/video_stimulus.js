// Video stimuli: play the video full screen while recording and tell the server where it is
// ({"type": "stimulus_time", ...}, docs/protocol.md), so the samples carry the video time.
import { withToken } from "./api.js";

const REPORT_MS = 500; // also on play, pause, seek; the server extrapolates in between

/**
 * Play stimulus `st` (kind "video") in the <video> element `video`.
 * `send(obj)` sends a message on the tracking socket; `onEnd()` runs when the video ends.
 * Returns a function that stops playback and tells the server no video is shown any more.
 */
export function playVideoStimulus(video, st, send, onEnd) {
  const report = () =>
    send({ type: "stimulus_time", stimulus_id: st.id, video_t_s: video.currentTime, playing: !video.paused && !video.ended });
  const events = ["play", "playing", "pause", "seeked", "waiting"];
  for (const e of events) video.addEventListener(e, report);
  const ended = () => {
    report();
    onEnd();
  };
  video.addEventListener("ended", ended);
  const timer = setInterval(report, REPORT_MS);
  video.muted = true; // browsers start muted videos without a click
  video.src = withToken(`/api/stimuli/${encodeURIComponent(st.id)}/video`);
  video.hidden = false;
  video.play().catch(() => {});
  return () => {
    clearInterval(timer);
    for (const e of events) video.removeEventListener(e, report);
    video.removeEventListener("ended", ended);
    video.pause();
    send({ type: "stimulus_time", stimulus_id: null });
    video.removeAttribute("src");
    video.load();
    video.hidden = true;
  };
}
