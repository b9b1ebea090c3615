"""`avu eval boundaries`: where an ESC-10 event model puts the boundaries of sounds it never heard.

The rule, fixed before measuring (the boundary test's): every clip of `first` (dog) in the held-out
`fold` (5), paired in name order with that fold's `second` (rain) clips, makes one 13 s sound: 3 s
of silence, the first clip (5 s), the second clip (5 s), written as FLAC and read back as ingest
reads audio. `avu.events.timeline.file_events` (its defaults: half-second segments judged on 1.5 s,
smoothed over three) finds its events. A sound is right when its events are exactly [first, second];
its four boundaries (3, 8, 8 and 13 s) are then compared with the events' starts and ends. Clips are
not chosen: some hold a single bark or fall silent early, and those boundaries come out late.

The model must not have trained on `fold`: by default the shipped `esc10_heldout5` (folds 1-4).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

SR = 16000
CLIP_S = 5.0  # seconds of each ESC-10 clip
SILENCE_S = 3.0  # seconds of silence before the first clip


def _write_flac(path: Path, wave: np.ndarray) -> Path:
    import av

    from avu.media._write import mux_audio

    with av.open(str(path), "w") as c:
        s = c.add_stream("flac", rate=SR)
        s.layout = "mono"
        mux_audio(c, s, wave, sr=SR)
    return path


def run(*, model: str | Path | None = None, data_dir: str | Path | None = None, first: str = "dog",
        second: str = "rain", fold: int = 5) -> dict[str, Any]:
    """The figures of the rule above, one JSON-able dict: per sound the events found, and over the
    right ones the boundary errors (`within_0_5`, `within_1`, `worst_s`)."""
    import torch

    from avu._paths import shared_data
    from avu.data.esc10 import clip_name, read_meta
    from avu.events.detect import DEFAULT_WEIGHTS, EventModel
    from avu.events.timeline import file_events
    from avu.media.audio import read_audio

    root = Path(data_dir) if data_dir else Path(shared_data()) / "esc10"
    path = Path(model) if model else DEFAULT_WEIGHTS.with_name("esc10_heldout5.safetensors")
    m = EventModel.load(path)
    trained_on = m.meta.get("train_folds")
    if trained_on is None or fold in trained_on:
        on = "every fold" if trained_on is None else f"folds {trained_on}"
        raise ValueError(f"{path}: trained on fold {fold} ({on}); train one without it: "
                         "avu train-esc10 --no-cv --train-folds <the others> --name <stem>")
    rows = read_meta(root)

    def clips(category: str) -> list[str]:
        return sorted(clip_name(r) for r in rows if r["fold"] == str(fold) and r["category"] == category)

    firsts, seconds = clips(first), clips(second)
    if not firsts or not seconds:
        raise ValueError(f"{root}: no fold-{fold} clips of {first!r} or {second!r}")
    want = (SILENCE_S, SILENCE_S + CLIP_S, SILENCE_S + CLIP_S, SILENCE_S + 2 * CLIP_S)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the figures do not depend on the machine's core count
    sounds, errors = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="avu-boundaries-") as tmp:
            for k, (a, b) in enumerate(zip(firsts, seconds)):
                wave = np.concatenate([np.zeros(int(SILENCE_S * SR), np.float32)] +
                                      [read_audio(root / "audio" / n, sr=SR).waveform.numpy()[:int(CLIP_S * SR)]
                                       for n in (a, b)])
                events = file_events(_write_flac(Path(tmp) / f"sound{k}.flac", wave), m)
                right = [e.label for e in events] == [first, second]
                sounds.append({"first": a, "second": b, "events": [[e.label, round(e.start, 3), round(e.end, 3)]
                                                                   for e in events], "right": right})
                if right:
                    got = (events[0].start, events[0].end, events[1].start, events[1].end)
                    errors += [abs(g - w) for g, w in zip(got, want)]
    finally:
        torch.set_num_threads(threads)
    return {"model": str(path), "fold": fold, "first": first, "second": second, "sounds": len(sounds),
            "right": sum(s["right"] for s in sounds), "boundaries": len(errors),
            "within_0_5": sum(e <= 0.5 for e in errors), "within_1": sum(e <= 1.0 for e in errors),
            "worst_s": round(max(errors), 3) if errors else None, "per_sound": sounds}


__all__ = ["run"]
