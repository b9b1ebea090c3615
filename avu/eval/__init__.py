"""Evaluations on real data: one module per evaluation, one naming rule.

`avu eval NAME` runs `avu.eval.NAME.run(...)` (a hyphen in NAME is an underscore in the module:
`avu eval tvsum-human` -> `avu/eval/tvsum_human.py`), which returns one JSON-able dict; the command
prints it with `--json`. Other models scored by the same protocol are `NAME_MODEL.py` with the same
`run`, chosen by the command's `--model` (`avu eval esc10 --model mfcc-rf` -> `esc10_mfcc.py`).
Metrics used by training as well (R@K, the COCO folds, TVSum's rank correlation) live in
`avu.metrics`; speed is measured by `avu bench`, not here. A benchmark may build on an evaluation
(its data), an evaluation never imports a benchmark (`_machine.machine()` records the machine for both).

Modules are imported on use (nothing here imports them), so `import avu.eval` stays cheap.
"""
