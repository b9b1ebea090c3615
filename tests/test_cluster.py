"""A real multi-node Ray cluster on one machine (a head and two worker nodes): a worker node
that hosts a decode actor is removed mid-job; the job completes and every segment is present
exactly once."""
from __future__ import annotations

import threading
import time

import pytest
import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from avu.store import IndexStore, InvalidIndex
from pipelines.ingest import IngestOptions, run_ingest
from tests import factory


@pytest.fixture
def cluster():
    ray.shutdown()  # leave the suite's local Ray (conftest starts it again after this test)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [c.add_node(num_cpus=2) for _ in range(2)]
    c.wait_for_nodes()
    yield c, workers
    ray.shutdown()
    c.shutdown()


def test_worker_node_killed_mid_job(cluster, tmp_path):
    c, workers = cluster
    n_videos, seconds = 12, 30  # long enough that the job is still running when a node goes
    factory.make_corpus(tmp_path / "corpus", n_videos, seconds=seconds, w=320, h=240)
    index = tmp_path / "idx"
    out: dict = {}

    def job():
        try:
            opts = IngestOptions(config=factory.LEAN, decoders=2, ray_address=c.address)
            out["results"] = run_ingest([str(tmp_path / "corpus")], str(index), opts)
        except BaseException as e:  # surfaced by the assertion below
            out["error"] = e

    t = threading.Thread(target=job)
    t.start()
    deadline = time.time() + 180
    victim = None
    while time.time() < deadline and victim is None and t.is_alive():
        try:
            decoders = list_actors(filters=[("class_name", "=", "Decoder"), ("state", "=", "ALIVE")])
            on = {a.node_id for a in decoders}
            if len(decoders) == 2 and len(IndexStore(index).done()) >= 1:  # mid-job: work is committed
                victim = next((w for w in workers if w.node_id in on), None)
        except InvalidIndex:
            pass
        time.sleep(0.05)
    assert victim is not None, "no worker node hosted a decoder while the job ran"
    c.remove_node(victim)  # SIGKILLs the node's raylet and every worker process on it
    t.join(300)
    assert not t.is_alive() and "error" not in out, out.get("error")
    assert [r.status for r in out["results"]] == ["done"] * n_videos
    store = IndexStore(index)
    rows = store.segments.search().select(["video_id", "seg"]).limit(None).to_list()
    keys = [(r["video_id"], r["seg"]) for r in rows]
    assert len(keys) == len(set(keys)) == n_videos * (seconds // 2)  # exactly once each
    assert len(store.done()) == n_videos
