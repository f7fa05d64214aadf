"""The Ray runner: the same items as the pool, as tasks on actors that load the models once.

``ray.init(address)`` joins a cluster (or ``RAY_ADDRESS``); without an address a local Ray is
started, sized for a small machine (``num_cpus`` = the workers, no dashboard, a 200 MB object
store). Frames never travel through Ray's object store: an item is a few paths, each actor
reads and writes the dataset folder itself (a path every node must see) and returns a small
record. An actor that dies is replaced and its item retried, up to ``DatasetConfig.retries``
times. Actors ask for one GPU each when the cluster has GPUs (ONNX Runtime then uses CUDA).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from openfsgan.dataset.items import DatasetConfig, Item, ItemRecord
from openfsgan.dataset.pool import crashed_record, pending_items
from openfsgan.errors import ConfigError

log = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ConfigError("--ray needs Ray: pip install 'openfsgan[cluster]'") from error
    return ray


def start_ray(address: str | None, workers: int) -> Any:
    """Connect to ``address`` (or ``RAY_ADDRESS``), else start a small local Ray."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    # the actors must import this very package (e.g. a source checkout on PYTHONPATH)
    env = {"env_vars": {k: os.environ[k] for k in ("PYTHONPATH", "OPENFSGAN_CACHE_DIR",
                                                    "OPENFSGAN_C2PA_DIR") if k in os.environ}}
    if address:
        ray.init(address=address, runtime_env=env, log_to_driver=False)
    else:
        ray.init(num_cpus=max(1, workers), include_dashboard=False,
                 object_store_memory=LOCAL_OBJECT_STORE_BYTES, runtime_env=env,
                 log_to_driver=False)
    return ray


def _actor_class(ray: Any) -> Any:
    from openfsgan.dataset.worker import DatasetWorker

    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    return ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=0)(DatasetWorker)


def run_on_ray(items: list[Item], root: Path, config: DatasetConfig, address: str | None,
               workers: int, on_record=None) -> list[ItemRecord]:
    """Run ``items`` on ``workers`` Ray actors; returns one record per item."""
    todo, records = pending_items(items, root, config)
    planned = len(items)
    for record in records:
        if on_record is not None:
            on_record(record, len(records), planned)
    if not todo:
        return records
    ray = _import_ray()
    started_here = not ray.is_initialized()
    start_ray(address, workers)
    from ray.exceptions import RayActorError, RayTaskError, WorkerCrashedError

    actor_class = _actor_class(ray)
    actors = [actor_class.remote(str(root), config) for _ in range(max(1, workers))]
    queue = [(item, 1) for item in reversed(todo)]
    in_flight: dict[Any, tuple[Item, int, Any]] = {}
    idle = list(actors)
    try:
        while queue or in_flight:
            while queue and idle:
                actor = idle.pop()
                item, attempt = queue.pop()
                in_flight[actor.process.remote(item, attempt)] = (item, attempt, actor)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                item, attempt, actor = in_flight.pop(ref)
                try:
                    record = ItemRecord.from_dict(ray.get(ref))
                    idle.append(actor)
                except RayTaskError as error:  # raised in the task itself: no retry helps
                    idle.append(actor)
                    record = ItemRecord(item.key, "failed", attempts=attempt,
                                        reason=str(error).strip().splitlines()[-1])
                except (RayActorError, WorkerCrashedError):
                    # the actor is gone: a fresh one loads the models and the item goes again
                    idle.append(actor_class.remote(str(root), config))
                    if attempt <= config.retries:
                        log.warning("a Ray actor died during %s (attempt %d); retrying",
                                    item.key, attempt)
                        queue.append((item, attempt + 1))
                        continue
                    record = crashed_record(item, attempt, "a Ray actor")
                records.append(record)
                if on_record is not None:
                    on_record(record, len(records), planned)
    finally:
        for actor in actors + idle:
            ray.kill(actor)
        if started_here:
            ray.shutdown()
    return records
