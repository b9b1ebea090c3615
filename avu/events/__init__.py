"""Events: the ESC-10 event model and its training, sound, prompt and visual events, AVE.

- `avu.events.esc10`: ESC-10 data (official folds), augmentation, training from scratch,
  5-fold cross-validation, and training on all (or chosen) folds to write a model.
- `avu.events.detect`: `EventModel` (the shipped classifier applied to 16 kHz windows) and
  `detect_events` (per-window scores -> `(label, start, end, confidence, kind)` events).
- `avu.events.timeline`: per-second scores and events straight from a media file, any model.
- `avu.events.prompts`: free-text prompts scored through the ESC-10 classes' meaning (MiniLM
  over AudioSet ontology descriptions).
- `avu.events.stored`: one indexed video's timeline from its stored segment rows (`Index.events`):
  the sound source and threshold chosen, sound, prompt, object, visual and audio-visual events.
- `avu.events.visual`: "high motion", "scene change" and "<sound> + motion" events from the
  motion and key frames ingest stores.
- `avu.events.ave`: the AVE `Annotations.txt` loader (ten one-second labels per video,
  background included) and the segment-level accuracy metric; `avu.eval.ave`: that
  accuracy for the shipped model on the AVE videos whose category is an ESC-10 class.

Training code, prompts and visual events are imported on use (`from avu.events import esc10`);
importing this package loads only what detection and the AVE metric need.
"""
from avu.events.ave import AveAnnotations, AveVideo, load_annotations, segment_accuracy
from avu.events.detect import Event, EventModel, detect_events

__all__ = ["AveAnnotations", "AveVideo", "Event", "EventModel", "detect_events", "load_annotations",
           "segment_accuracy"]
