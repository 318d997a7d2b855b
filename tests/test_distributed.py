"""`onemode bench --backend ray` on a real local Ray instance with two workers."""

from __future__ import annotations

import json
import shutil

import ipaddress

import psutil
import pytest
import ray

from onemode.cli import main
from onemode.distributed import start_local_ray

BENCH = ["bench", "--tasks", "bandit", "--algos", "bc,mdn", "--seeds", "2", "--steps", "200",
         "--eval-every", "100", "--eval-episodes", "5", "--size", "2000", "--no-progress"]


@pytest.fixture(scope="module")
def local_ray():
    start_local_ray(num_cpus=2)
    yield
    ray.shutdown()


def _scores(out):
    results = json.loads((out / "results.json").read_text())
    return {task: {run: r["final_scores"] for run, r in runs.items()}
            for task, runs in results.items()}


def _table_without_times(out) -> str:
    """table.md up to its section of run times (which differ between any two runs)."""
    return (out / "table.md").read_text().split("Time of each run")[0]


def test_ray_runs_the_bench_as_the_local_backend_and_survives_a_failing_run(
        local_ray, tmp_path, capsys):
    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert main(BENCH + ["--out", str(local)]) == 0
    assert main(BENCH + ["--out", str(distributed), "--backend", "ray"]) == 0
    printed = capsys.readouterr().out
    assert "ray: 2 run(s) sent to 2 CPU(s)" in printed and "bandit / mdn done on" in printed
    assert _table_without_times(distributed) == _table_without_times(local)
    assert _scores(distributed) == _scores(local)

    # a run whose checkpoint was damaged fails, is tried once more, and is reported;
    # the finished run stays in OUT and in the table
    damaged = distributed / "runs" / "bandit" / "mdn"
    (damaged / "done.json").unlink()
    (damaged / "checkpoint.npz").write_bytes(b"not a checkpoint")
    assert main(BENCH + ["--out", str(distributed), "--backend", "ray"]) == 1
    captured = capsys.readouterr()
    assert "bandit / bc: done, skipped" in captured.out
    assert "ray: bandit / mdn failed (CheckpointError" in captured.out
    assert "trying once more" in captured.out
    assert "1 run(s) failed twice" in captured.err and "unreadable checkpoint" in captured.err
    assert "Traceback" not in captured.err
    assert list(_scores(distributed)["bandit"]) == ["bc"]

    # the bench run again, with the damaged run removed, completes the same table
    shutil.rmtree(damaged)
    assert main(BENCH + ["--out", str(distributed), "--backend", "ray"]) == 0
    assert _table_without_times(distributed) == _table_without_times(local)


def listening_addresses() -> dict[str, set[str]]:
    """Where this process and every process it started (Ray's services, its workers)
    listen: process name -> addresses."""
    found: dict[str, set[str]] = {}
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            sockets = process.net_connections(kind="inet")
            name = process.name()
        except psutil.Error:  # a worker that ended meanwhile
            continue
        for sock in sockets:
            if sock.status == psutil.CONN_LISTEN:
                found.setdefault(name, set()).add(sock.laddr.ip)
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None
                              and ip.ipv4_mapped.is_loopback)


def test_the_local_ray_instance_listens_on_loopback_only(local_ray, tmp_path):
    """No service of the instance onemode starts is reachable from the network: GCS,
    raylet, object manager, agents and the workers a bench ran on."""
    assert main(BENCH + ["--out", str(tmp_path / "ray"), "--backend", "ray"]) == 0
    listening = listening_addresses()
    assert {"gcs_server", "raylet"} <= set(listening), listening
    exposed = {name: ips for name, ips in listening.items()
               if not all(is_loopback(ip) for ip in ips)}
    assert not exposed, f"listening beyond loopback: {exposed}"
    assert not is_loopback("0.0.0.0") and not is_loopback("::")  # the check can fail
