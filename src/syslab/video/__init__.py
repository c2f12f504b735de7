"""Video analytics: answer a query on a camera stream while sending and inferring few frames.

The lab, module by module:
- `decode`: frames from files through PyAV or OpenCV (brightness-plane fast path,
  keyframes only) and a simulated live camera that releases frames at the clip's rate;
- `workloads`: the real clips in the shared data and a synthetic video generator with
  exact ground truth (moving objects over a textured, noisy background);
- `detectors`: the reference detectors (Yolo-Fastest through cv2.dnn, FastestDet through
  onnxruntime) and a colour-blob detector for synthetic clips;
- `query`: presence, count and boxes queries over a set of classes;
- `reference`: the reference run (the detector on every frame, cached) and its smoothing;
- `filters/`: which frames the camera sends, one small object per filter behind
  `filters.base.Filter`;
- `metrics`: Reducto's counting accuracy, tagging accuracy, fraction filtered, share of
  segments meeting the target;
- `engine`: a filter replayed over a clip against the reference (offline evaluation);
- `camera`, `server`: the two-process pipeline over loopback;
- `cli`: `syslab video …`.
"""
