"""Ray for the pipelines: a session that keeps Ray's messages off the terminal, and the ingest
driver's `Backend` on Ray (actor calls, `ray.wait`, `ray.get`, `ray.kill`)."""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from pathlib import Path

import ray

from avu.media import MediaError
from pipelines._jobs import describe_error
from pipelines._pool import POOL

RAY_LOG = Path(tempfile.gettempdir()) / "avu-ray-driver.log"  # where Ray's driver-side messages go
RAY_ENV = {"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}}  # actors never download
# (a runtime_env costs a local Ray its prestarted workers: actors were measured ready in 4.6 s
# without one and 13.7-16.3 s with one, on this 2-core machine under load)
# A local Ray that avu starts has no dashboard, so nothing reads its metrics or task events; not
# recording them took Ray's own processes from ~1.6 to ~1.3 CPU s of a 17 s benchmark ingest on
# 2 cores (the dashboard agent 0.45 -> 0.16 s, GCS 0.3 -> 0.2 s). A cluster joined by address keeps its own.
LOCAL_RAY_ENV = {"RAY_enable_metrics_collection": "0", "RAY_task_events_report_interval_ms": "0"}


class RayBackend:
    """The driver's `Backend` on Ray: actor method calls, `ray.wait`, `ray.get`, `ray.kill`."""

    def call(self, actor, method: str, *args):
        return getattr(actor, method).remote(*args)

    def wait(self, refs: list, timeout: float) -> list:
        return ray.wait(refs, num_returns=1, fetch_local=False, timeout=timeout)[0]

    def get(self, ref):
        return ray.get(ref)

    def kill(self, actor) -> None:
        ray.kill(actor, no_restart=True)

    def error_text(self, error: BaseException) -> str:
        cause = getattr(error, "cause", None) or error
        if isinstance(error, ray.exceptions.RayActorError) and not isinstance(cause, MediaError):
            return f"worker died: {str(error).splitlines()[0][:200]}"
        return describe_error(error)


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    """These environment variables set for the block (restored after)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def ray_session(address: str | None = None, *, cpus: int | None = None):
    """Ray for the duration of the block: join `address`, or start a local Ray (shut down after).
    An already initialised Ray is used as is. Ray's driver-side messages go to `RAY_LOG`."""
    if ray.is_initialized():
        yield
        return
    logger = logging.getLogger("ray")
    saved = (logger.handlers[:], logger.propagate)
    handler = logging.FileHandler(RAY_LOG)
    logger.handlers, logger.propagate = [handler], False
    # Ray forks helper processes that exec at once; lancedb's and lance's at-fork warnings do not apply
    warnings.filterwarnings("ignore", message="lancedb fork support is experimental")
    warnings.filterwarnings("ignore", message="lance is not fork-safe")
    try:
        if address:  # workers elsewhere: the environment travels with the job
            ray.init(address=address, runtime_env=RAY_ENV, log_to_driver=False, logging_level=logging.INFO)
        else:  # the local raylet and its workers inherit this environment: no runtime_env to set up
            # (token auth is on: Ray keeps its token in ~/.ray/auth_token)
            with _environ({**RAY_ENV["env_vars"], **LOCAL_RAY_ENV}):
                ray.init(num_cpus=cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.INFO)
        yield
    finally:
        POOL.drop()  # the warm actors end with this Ray
        ray.shutdown()
        logger.handlers, logger.propagate = saved
        handler.close()
