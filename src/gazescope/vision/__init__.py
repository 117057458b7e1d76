"""One frame in, features out: decoding, landmarks, eye measures, head pose, gaze. No per-stream state."""
