"""Sound events: the ESC-10 event model and its training, event detection, AVE annotations.

- `avu.events.esc10`: ESC-10 data (official folds), augmentation, training from scratch,
  5-fold cross-validation and the all-folds training that writes the shipped model.
- `avu.events.detect`: `EventModel` (the shipped classifier applied to 16 kHz windows) and
  `detect_events` (per-window scores -> `(label, start, end, confidence)` events).
- `avu.events.ave`: the AVE `Annotations.txt` loader (ten one-second labels per video,
  background included) and the segment-level accuracy metric.

Training code is imported on use (`from avu.events import esc10`); importing this package loads
only what detection and the AVE metric need.
"""
from avu.events.ave import AveAnnotations, AveVideo, load_annotations, segment_accuracy
from avu.events.detect import Event, EventModel, detect_events

__all__ = ["AveAnnotations", "AveVideo", "Event", "EventModel", "detect_events", "load_annotations",
           "segment_accuracy"]
