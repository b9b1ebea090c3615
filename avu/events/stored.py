"""The event timeline of one indexed video, from the segment rows ingest stored (nothing decoded).

`stored_events` picks the sound source, applies its threshold and merges what it finds with the
visual and audio-visual events; it returns an `EventTimeline`, a list of `Event`s that also says which
sound source and threshold it used, so a caller that shows an empty timeline can say what nothing
reached (the `avu events` command does) without working the choice out a second time.

- Sounds: "audioset" reads the AudioSet tags perception stored (`heard_json`, YAMNet's 521
  classes; `avu.events.perceived`), "esc10" the shipped ESC-10 specialist's probabilities
  (`event_scores`, ten classes: any sound gets a distribution over those ten, so its default
  threshold is high), "auto" AudioSet when the video was perceived, else ESC-10.
- A segment quieter than `SILENCE_DB` holds no sound event, whichever the source.
- `prompts` replace the classes by free-text prompts matched to them by meaning; the timeline's
  `prompts` then say, per prompt, which classes it was matched to and the most it reached in this
  video (`PromptMatch`), so an empty timeline still says how close the prompt came, and why.
- `visual` adds "high motion", "scene change", objects on screen, "<sound> + motion" and
  "<seen> + <heard>" events (`avu.events.visual`, `avu.events.perceived`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from avu.events.detect import Event, detect_events
from avu.events.perceived import AUDIOSET_THRESHOLD, ESC10_THRESHOLD, default_prompts, perceived_events, sound_rows
from avu.events.timeline import SILENCE_DB

SOUNDS = ("auto", "audioset", "esc10")  # the sound sources one can ask for
SOURCE_NAMES = {"audioset": "AudioSet tags", "esc10": "ESC-10 model"}  # a sound source, in words


@dataclass(frozen=True)
class PromptMatch:
    """A free-text sound prompt: the classes it was matched to by meaning, and the most it reached."""

    prompt: str
    classes: tuple  # ((class, weight), ...): at most `SHOWN`, best first; the closest class weighs 1
    best: float  # its highest segment score in the video, in [0, 1] (0: no audio, or all silent)
    start: float | None = None  # the segment where it reached `best` (None: no segment scored)
    end: float | None = None

    SHOWN = 3  # classes listed

    def __post_init__(self):
        if not (0.0 <= self.best <= 1.0) or (self.start is not None and not self.start <= self.end):
            raise ValueError(f"PromptMatch {self.prompt!r}: best {self.best} must be in [0, 1] and start "
                             f"{self.start} <= end {self.end}")

    def classes_text(self) -> str:
        """"Male speech, man speaking 1.00, Conversation 0.75, Speech 0.15"."""
        return ", ".join(f"{c} {w:.2f}" for c, w in self.classes)


def _prompt_match(key: str, weights: dict[str, float], scored: list) -> PromptMatch:
    """`scored`: the (start, end, {key: score}) rows the prompt's events are detected on."""
    classes = tuple(sorted(weights.items(), key=lambda cw: (-cw[1], cw[0]))[:PromptMatch.SHOWN])
    top = max(scored, key=lambda r: r[2][key], default=None)
    if top is None:
        return PromptMatch(key.strip(), classes, 0.0)
    return PromptMatch(key.strip(), classes, min(1.0, max(0.0, float(top[2][key]))), float(top[0]), float(top[1]))


def prompt_matches(prompts: Sequence[str], source: str, rows: list) -> tuple[list[PromptMatch], list]:
    """What each prompt means in `source` ("audioset": YAMNet's tags, rows from `sound_rows`;
    "esc10": the specialist's probabilities) and the most it reached over `rows`; and the scored
    rows themselves, which the prompt events are detected on (each prompt is matched once)."""
    if source == "audioset":
        ap = default_prompts()
        labels = sorted({lab for r in rows for lab in r[2]})
        keys = list(prompts)  # the events are labelled with the prompts as given
        weights = {p: ap.weights(p, labels) for p in keys}
        scored = ap.rows(rows, keys, weights=weights)
    else:
        from avu.events.prompts import ESC10_AUDIOSET, default_scorer, prompt_rows

        scorer = default_scorer(tuple(sorted({k for r in rows for k in r[2]})) or tuple(ESC10_AUDIOSET))
        keys = [p.strip() for p in prompts]  # `prompt_rows` keys its scores by the stripped prompt
        weights = {p: scorer.weights(p) for p in keys}
        scored = prompt_rows(rows, keys, scorer=scorer, weights=weights)
    return [_prompt_match(p, weights[p], scored) for p in keys], scored


class EventTimeline(list):
    """Events sorted by start (a list), with the sound source and threshold that made them, and for
    free-text prompts what each one was matched to (`prompts`: `PromptMatch`es)."""

    def __init__(self, events=(), *, sounds: str, threshold: float, min_duration: float,
                 prompts: Sequence[PromptMatch] = ()):
        if sounds not in ("audioset", "esc10"):
            raise ValueError(f"EventTimeline.sounds must be 'audioset' or 'esc10', got {sounds!r}")
        if not (0.0 <= threshold <= 1.0 and min_duration >= 0.0):
            raise ValueError(f"EventTimeline: threshold {threshold} must be in [0, 1], min_duration "
                             f"{min_duration} >= 0")
        super().__init__(events)
        self.sounds = sounds  # "audioset" or "esc10": the source the sound events came from
        self.threshold = threshold  # the sound (and object) threshold applied
        self.min_duration = min_duration  # seconds: shorter events were dropped
        self.prompts = list(prompts)  # per free-text prompt: the classes it means and the most it reached

    def threshold_text(self) -> str:
        """What an event had to reach, in words: "0.3 (AudioSet tags) for 2 s or more"."""
        return f"{self.threshold:g} ({SOURCE_NAMES[self.sounds]}) for {self.min_duration:g} s or more"


def stored_events(segs: Sequence[dict], *, name: str, threshold: float | None = None, min_duration: float = 2.0,
                  smoothing: int = 1, prompts: Sequence[str] | None = None, visual: bool = False,
                  sounds: str = "auto") -> EventTimeline:
    """Events of one video's segment rows (`start`, `end`, `event_scores`, `audio_db`, and the
    perception and visual columns where stored); `name` names the video in errors."""
    if sounds not in SOUNDS:
        raise ValueError(f"sounds must be one of {SOUNDS}, got {sounds!r}")
    quiet = {(r["start"], r["end"]) for r in segs if r.get("audio_db") is not None and r["audio_db"] < SILENCE_DB}
    has_heard = any(r.get("heard_json") is not None for r in segs)
    if sounds == "audioset" and not has_heard:
        raise ValueError(f"{name}: no AudioSet tags stored (perception was off or its YAMNet file missing at "
                         "ingest); use sounds='esc10' or ingest again with the models installed")
    rows = [(r["start"], r["end"], json.loads(r["event_scores"])) for r in segs if r.get("event_scores")]
    rows = [(s, e, {k: 0.0 for k in p} if (s, e) in quiet else p) for s, e, p in rows]
    if sounds == "audioset" or (sounds == "auto" and has_heard):
        source, th = "audioset", AUDIOSET_THRESHOLD if threshold is None else threshold
        loud = [r if (r["start"], r["end"]) not in quiet else {**r, "heard_json": "[]"} for r in segs]
        rows = sound_rows(loud)  # "<sound> + motion" events name AudioSet sounds too
        matches, scored = prompt_matches(prompts, source, rows) if prompts else ([], None)
        found = perceived_events(loud, threshold=th, min_duration=min_duration, smoothing=smoothing,
                                 prompts=prompts, visual=visual, scored=scored)
    else:
        source, th = "esc10", ESC10_THRESHOLD if threshold is None else threshold
        matches, scored = prompt_matches(prompts, source, rows) if prompts else ([], None)
        found, rows = _esc10_events(rows, segs, threshold=th, explicit=threshold, min_duration=min_duration,
                                    smoothing=smoothing, prompts=prompts, visual=visual, scored=scored)
    if visual:
        from avu.events.visual import audio_visual_events, visual_events

        found += visual_events(segs, smoothing=smoothing, min_duration=min_duration)
        found += audio_visual_events(rows, segs, threshold=th, smoothing=smoothing, min_duration=min_duration)
    return EventTimeline(sorted(found, key=lambda e: (e.start, e.end, e.label)), sounds=source, threshold=th,
                         min_duration=min_duration, prompts=matches)


def _esc10_events(rows: list, segs: Sequence[dict], *, threshold: float, explicit: float | None,
                  min_duration: float, smoothing: int, prompts: Sequence[str] | None,
                  visual: bool, scored: list | None = None) -> tuple[list[Event], list]:
    """Sound (or prompt) events of the ESC-10 specialist, with `visual` the objects perception stored
    (at the AudioSet threshold unless one was given: object scores are detection scores); and the
    rows scored (per prompt when there are prompts: `scored` when already made), for the
    "<sound> + motion" events."""
    kind = "sound"
    if prompts is not None:
        from avu.events.prompts import prompt_rows

        rows, kind = (prompt_rows(rows, list(prompts)) if scored is None else scored), "prompt"
    found = detect_events(rows, threshold=threshold, min_duration=min_duration, smoothing=smoothing, kind=kind)
    if visual and any(r.get("objects_json") is not None for r in segs):
        found += [e for e in perceived_events(segs, threshold=AUDIOSET_THRESHOLD if explicit is None else explicit,
                                              min_duration=min_duration, smoothing=smoothing, visual=True)
                  if e.kind == "object"]
    return found, rows


__all__ = ["SOUNDS", "SOURCE_NAMES", "EventTimeline", "PromptMatch", "prompt_matches", "stored_events"]
