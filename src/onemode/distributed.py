"""The Ray backend of `onemode bench`: each run of the bench is one Ray task.

Without an address it starts a Ray instance on this machine that listens on loopback
only (`start_local_ray`); with one it joins that cluster, which belongs on a private
network.

A run (a task or file, an algorithm, its seeds trained together) is the unit: a
worker trains it into OUT exactly as the local backend would, so OUT must be on a
filesystem every worker shares with this machine (a worker that cannot see OUT
says so). A run that fails is logged with its error and sent once more; one that
fails again is reported, and the finished runs stay in OUT and in the tables.
Running the same bench again skips what finished and resumes what was cut off.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

from onemode.errors import ConfigError

ATTEMPTS = 2  # a failed run is retried once


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'onemode[ray]'") from None
    return ray


LOOPBACK = "127.0.0.1"


def start_local_ray(**options) -> None:
    """A Ray instance on this machine whose every service listens on loopback only.

    A Ray cluster has no authentication of its own worth the name (anyone who reaches
    its ports can run code here; CVE-2023-48022), so the instance onemode starts for
    itself must not be reachable from the network. Ray binds its servers (GCS, raylet,
    object manager, workers, agents) to the node's IP, which it takes to be the loopback
    address where its clusters are switched off: the switch is read by this process
    (`ray_constants.ENABLE_RAY_CLUSTER`, set at Ray's import) and by every process the
    instance starts (the environment variable). Both are set for the start and put back
    after it. The dashboard stays off.
    """
    ray = _ray()
    from ray._private import ray_constants

    variable = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR
    saved = os.environ.get(variable), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[variable], ray_constants.ENABLE_RAY_CLUSTER = "0", False
    try:
        ray.init(include_dashboard=False, log_to_driver=False, **options)
    finally:
        if saved[0] is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = saved[0]
        ray_constants.ENABLE_RAY_CLUSTER = saved[1]
    node_ip = ray.util.get_node_ip_address()
    if node_ip != LOOPBACK:
        ray.shutdown()
        raise ConfigError(f"a local Ray instance would listen on {node_ip}, not on loopback; "
                          f"onemode does not start one there (start your own with ray start "
                          f"on a private network and pass --address)")


def _train_remote(train_job, out: str, job, marker: str, token: str) -> dict:
    """On a worker: check that OUT is the driver's, train the run, say how long it took."""
    seen = Path(marker)
    if not seen.exists() or seen.read_text() != token:
        raise ConfigError(f"{out} is not this bench's output directory on worker "
                          f"{socket.gethostname()}: --out must be on a filesystem every Ray "
                          f"worker shares")
    started = time.time()
    train_job(job, show_progress=False, handle_signals=False)  # Ray owns a worker's signals
    return {"host": socket.gethostname(), "seconds": time.time() - started}


def run_on_ray(train_job, out: Path, jobs: list, address: str | None = None,
               gpus_per_task: float = 0, cpus_per_task: float = 1, log=print,
               on_done=lambda: None) -> dict[str, str]:
    """Train `jobs` as Ray tasks, each by `train_job(job)` on a worker (the bench's function,
    handed down: this backend never imports the bench); returns {run: error} for those that
    failed twice.

    `on_done()` is called after each run that finishes (the bench rewrites its tables).
    """
    ray = _ray()
    if not ray.is_initialized():
        try:
            if address is None:
                start_local_ray()
            else:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ConfigError(f"cannot reach a Ray cluster at {address or 'a new local instance'}"
                              f": {error}") from None
    marker = out / ".ray-bench"
    token = uuid.uuid4().hex
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(token)
    # runs sharing a GPU must not each take JAX's default 75% of its memory
    env_vars = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"} if 0 < gpus_per_task < 1 else {}
    remote = ray.remote(_train_remote).options(num_cpus=cpus_per_task, num_gpus=gpus_per_task,
                                               max_retries=0,
                                               runtime_env={"env_vars": env_vars})
    name = [f"{job.task} / {job.run_dir.name}" for job in jobs]
    attempts = [1] * len(jobs)
    running = {remote.remote(train_job, str(out), job, str(marker), token): index
               for index, job in enumerate(jobs)}
    log(f"ray: {len(jobs)} run(s) sent to {ray.cluster_resources().get('CPU', 0):.0f} CPU(s), "
        f"{ray.cluster_resources().get('GPU', 0):.0f} GPU(s)")
    failures = {}
    while running:
        [ready], _ = ray.wait(list(running), num_returns=1)
        index = running.pop(ready)
        try:
            done = ray.get(ready)
            log(f"ray: {name[index]} done on {done['host']} in {done['seconds']:.0f} s")
            on_done()
        except Exception as error:  # noqa: BLE001 - every failure of a run is reported
            message = _message(error)
            if attempts[index] < ATTEMPTS:
                attempts[index] += 1
                log(f"ray: {name[index]} failed ({message}); trying once more")
                running[remote.remote(train_job, str(out), jobs[index], str(marker), token)] = index
            else:
                log(f"ray: {name[index]} failed again ({message})")
                failures[name[index]] = message
    return failures


def _message(error: Exception) -> str:
    """The worker's own exception in one line, without Ray's wrapping traceback."""
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"
