"""`avu eval NAME`: every evaluation on real data, each a call of `avu.eval.NAME.run(...)`.

The commands here only turn options into arguments and print the dict that `run` returns: one JSON
document with `--json`, else a short table or an indented JSON. The work and its defaults live in
`avu/eval/` (see that package's docstring for the naming rule). ESC-10 models scored by the same
protocol are chosen with `--model`: add one with a line in `ESC10_MODELS`.
"""
from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.markup import escape

from avu._paths import user_config
from avu.cli._console import clean_errors, console, err_console
from avu.cli._options import ENGINE_HELP, MODEL_HELP, check_engine, int_list, train_config
from avu.cli._output import Col, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Evaluations on real data; each prints one JSON object with --json.")

# `avu eval esc10 --model NAME` -> run(config, folds, quiet) -> dict. One line per model.
ESC10_MODELS: dict[str, Callable[[Path, tuple[int, ...], bool], dict]] = {
    "scratch": lambda config, folds, quiet: import_module("avu.eval.esc10").run(config=config, folds=folds,
                                                                                 log=not quiet),
    "scratch-nested": lambda config, folds, quiet: import_module("avu.eval.esc10").run_nested(
        config=config, folds=folds, log=not quiet),
    "mfcc-rf": lambda config, folds, quiet: import_module("avu.eval.esc10_mfcc").run(folds=folds),
    "yamnet": lambda config, folds, quiet: import_module("avu.eval.esc10_yamnet").run(folds=folds),
}
COCO_MODELS = ("trained", "zero-shot")  # `avu eval coco --model`: coco.py, coco_zero_shot.py


def _stderr_log(quiet: bool) -> Callable[[str], None]:
    return (lambda s: None) if quiet else (lambda s: err_console.print(s, highlight=False))


def _print_dict(result: dict, as_json: bool) -> None:
    print_json(result, indent=None if as_json else 1)


@app.command("asr")
@clean_errors
def asr(as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        model: Optional[Path] = typer.Option(None, help=MODEL_HELP),
        engine: str = typer.Option("auto", help=ENGINE_HELP),
        shared: Optional[Path] = typer.Option(None, help="Shared data folder [../shared/data].")):
    """WER, timing error and paraphrase retrieval on the real speech in the shared data."""
    from avu.eval.asr import run

    r = run(shared, model=model, engine=check_engine(engine))
    if as_json:
        print_json(r)
        return
    rows = [[escape(name), "-" if f["wer"] is None else f"{f['wer']:.3f}",
             "-" if f["timing_error_s"] is None else f"{f['timing_error_s']:.3f} s", f"{f['audio_s']:.1f} s",
             escape(f.get("note") or "")] for name, f in r["files"].items()]
    console.print(f"{r['engine']} ({r['model']}) on {r['machine']}", highlight=False)
    print_table([Col("file"), Col("WER", no_wrap=True), Col("timing error", no_wrap=True),
                 Col("audio", no_wrap=True, drop=1), Col("note", drop=2)], rows)
    met = r["targets_met"]
    console.print(f"mean WER {r['mean_wer']:.3f} (pooled {r['pooled_wer']:.3f}); paraphrase rank-1 "
                  f"{r['paraphrase_rank1']:.3f} of {r['paraphrase']['queries']}; targets met: "
                  + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items())
                  + f"; {r['seconds']:.1f} s", highlight=False)


@app.command("ave")
@clean_errors
def ave(videos: Path = typer.Option(..., "--videos", help="Folder of AVE videos, named <VideoID>.mp4."),
        annotations: Optional[Path] = typer.Option(None, "--annotations", help="AVE Annotations.txt "
                                                   "(default: ../shared/data/annotations/ave/)."),
        split: Optional[Path] = typer.Option(None, "--split", help="Only these videos (e.g. AVE's "
                                             "testSet.txt, or one video ID a line)."),
        threshold: float = typer.Option(0.5, "--threshold", min=0.0, max=1.0, help="Probability of the mapped "
                                        "ESC-10 class that marks a segment as the event."),
        model: Optional[Path] = typer.Option(None, "--model", help="Event model .safetensors "
                                             "(default: the shipped esc10)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """AVE segment-level accuracy on the videos whose category is an ESC-10 class.

    Ten one-second segments a video, background included; other categories count as skipped."""
    from avu.eval.ave import run

    result = run(videos, annotations, split=split, model=model, threshold=threshold,
                 log=None if as_json else (lambda m: print(m, file=sys.stderr)))
    if as_json:
        print_json(result)
        return
    print(f"AVE segment accuracy: {result['accuracy']} over {result['evaluated']} videos "
          f"({result['segments']} segments); all-background baseline {result['all_background_accuracy']}")
    print(f"skipped {result['skipped']}: {result['skipped_by_reason']}")
    print_json(result, indent=2)


@app.command("boundaries")
@clean_errors
def boundaries(model: Optional[Path] = typer.Option(None, "--model", help="Event model .safetensors trained without "
                                                    "--fold (default: the shipped esc10_heldout5)."),
               fold: int = typer.Option(5, "--fold", help="The held-out ESC-10 fold the clips come from."),
               as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """Sound-event boundaries on held-out ESC-10 clips: every fold's dog clip, then a rain clip."""
    from avu.eval.boundaries import run

    result = run(model=model, fold=fold)
    if as_json:
        print_json(result)
        return
    print(f"{result['right']} of {result['sounds']} sounds give [{result['first']}, {result['second']}]; of their "
          f"{result['boundaries']} boundaries {result['within_0_5']} within 0.5 s, {result['within_1']} within 1 s, "
          f"the worst {result['worst_s']} s")
    print_json(result, indent=1)


@app.command("avshapes")
@clean_errors
def avshapes(config: Path = typer.Option(user_config("avshapes.yaml"), "--config", help="Base training config."),
             variants: Optional[str] = typer.Option(None, "--variants", help="Comma-separated subset."),
             epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Override epochs for every variant."),
             root: Path = typer.Option(Path("runs/avshapes"), "--root", help="Where variants are written."),
             retrain: bool = typer.Option(False, "--retrain", help="Ignore results saved by the same config."),
             checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Score this model only."),
             as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """avshapes: train and score visual-only, audio-only, fused and every variant (text-to-video R@K)."""
    import json

    from avu.eval.avshapes import run

    cfg = train_config(config, **({"epochs": epochs} if epochs else {}))
    if checkpoint is not None:
        print_json(run(cfg, checkpoint=checkpoint))
        return
    result = run(cfg, root=root, variants=variants.split(",") if variants else None, retrain=retrain,
                 log=_stderr_log(as_json))
    (root / "avshapes.json").write_text(json.dumps(result, indent=1))
    _print_dict(result, as_json)


def _one_of(choices):
    """A typer callback that refuses a value outside `choices` (a usage error naming them)."""
    def check(name: str) -> str:
        if name not in choices:
            raise typer.BadParameter(f"must be one of {', '.join(choices)}, not {name!r}")
        return name
    return check


@app.command("coco")
@clean_errors
def coco(config: Path = typer.Option(user_config("coco.yaml"), "--config", help="Training config."),
         checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Score this model (no training)."),
         sets: List[str] = typer.Option([], "--set", help="Override a config field: key=value."),
         model: str = typer.Option("trained", "--model", callback=_one_of(COCO_MODELS),
                                   help="trained: train the config's model (or load --checkpoint); zero-shot: "
                                        "what the pretrained perception models see, no training."),
         zero_shot: bool = typer.Option(False, "--zero-shot", help="The same as --model zero-shot."),
         models_dir: Optional[Path] = typer.Option(None, "--models", help="Perception model files (zero-shot)."),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """Image-text retrieval, COCO/Flickr30k protocol: train (or load) and score i2t/t2i R@K on train and test."""
    model = "zero-shot" if zero_shot else model
    if model == "zero-shot" and (checkpoint is not None or sets):
        raise ValueError("the zero-shot evaluation trains nothing and loads no checkpoint: drop --checkpoint and --set")
    if model == "zero-shot":
        from avu.eval.coco_zero_shot import run as zero_shot

        _print_dict(zero_shot(models_dir=models_dir), as_json)
        return
    from avu.eval.coco import run

    _print_dict(run(train_config(config, sets), checkpoint=checkpoint, log=_stderr_log(as_json)), as_json)


@app.command("lsmdc")
@clean_errors
def lsmdc(annotations: Path = typer.Option(..., "--annotations", help="Folder of the official LSMDC files."),
          videos: Path = typer.Option(..., "--videos", help="Folder of the clip files."),
          checkpoint: Path = typer.Option(..., "--checkpoint", help="Trained model (folder)."),
          config: Path = typer.Option(user_config("lsmdc.yaml"), "--config", help="Decoding options."),
          as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """LSMDC text-to-clip and clip-to-text retrieval on the public 1000-clip test file."""
    from avu.eval.lsmdc import run

    _print_dict(run(annotations, videos, checkpoint, config=config), as_json)


@app.command("esc10")
@clean_errors
def esc10(config: Path = typer.Option(user_config("esc10.yaml"), "--config", help="Recipe (YAML)."),
          as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
          folds: Optional[str] = typer.Option(None, "--folds", help="Comma-separated folds [1,2,3,4,5]."),
          model: str = typer.Option("scratch", "--model", callback=_one_of(ESC10_MODELS),
                                    help=f"Which model: {', '.join(ESC10_MODELS)} (scratch: the recipe at "
                                         "--config, trained from scratch; scratch-nested: the same with the "
                                         "recipe chosen on a validation fold inside the training folds; mfcc-rf: "
                                         "MFCC statistics and a random forest; yamnet: pretrained YAMNet features and "
                                         "a small head).")):
    """5-fold cross-validation on ESC-10 (the official folds): accuracy per fold and mean."""
    chosen = int_list(folds, "--folds") if folds else (1, 2, 3, 4, 5)
    print_json(ESC10_MODELS[model](config, chosen, as_json))


@app.command("diarization")
@clean_errors
def diarization(split: str = typer.Option("test", "--split", help="Conversations to score: test (reported) or dev "
                                          "(the ones thresholds were tuned on)."),
                n: int = typer.Option(20, "--n", min=1, help="Conversations built and scored."),
                shared: Optional[Path] = typer.Option(None, help="Shared data folder [../shared/data]."),
                as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """Who speaks when: DER and speaker counts on conversations built from the shared speech."""
    from avu.eval.diarization import run

    if split not in ("dev", "test"):
        raise typer.BadParameter(f"must be dev or test, not {split!r}", param_hint="--split")
    _print_dict(run(shared, split=split, n=n), as_json)


@app.command("tvsum-human")
@clean_errors
def tvsum_human(mat: Optional[Path] = typer.Option(None, help="ydata-tvsum50.mat [shared annotations]."),
                as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Human leave-one-out rank correlation on TVSum (Otani et al. 2019: tau .177, rho .204)."""
    from avu.eval.tvsum_human import run

    r = run(mat)
    if as_json:
        print_json(r)
        return
    console.print(f"TVSum: {r['videos']} videos, {r['annotators']} annotators; {r['procedure']}", highlight=False)
    print_table([Col("measure"), Col("measured", no_wrap=True), Col("Otani et al. 2019", no_wrap=True)],
                [[k, f"{r[k]:.4f}", f"{r['paper'][k]:.3f}"] for k in ("kendall_tau", "spearman_rho")])


__all__ = ["COCO_MODELS", "ESC10_MODELS", "app", "asr", "ave", "avshapes", "coco", "diarization", "esc10", "lsmdc",
           "tvsum_human"]
