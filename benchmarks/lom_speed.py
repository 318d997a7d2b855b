"""LOM update speed at the paper's sizes, against the matrix-product peak of this machine.

    .venv/bin/python benchmarks/lom_speed.py [--updates 200] [--seeds 1]
    .venv/bin/python benchmarks/lom_speed.py --wall-clock [--updates 1000000] [--cap 90]
    .venv/bin/python benchmarks/lom_speed.py --updates 2 --hidden 16,16 --rows 1000 --only paper
    .venv/bin/python benchmarks/lom_speed.py --algos lom,td3bc,iql,rebrac,fql --hidden 256,256

Prints the XLA matrix-product GFLOP/s measured in this run, then for each
variant the updates/s of `update_many` (one jitted lax.scan), the FLOPs of one
update from XLA's own cost analysis of the compiled function, and the
achieved fraction of the matrix-product peak.

`--wall-clock` times whole runs instead, as the engine runs them (init, the
compilation, then chunks of `--chunk` updates of the main phase): LOM at the
paper's sizes with 1 and 4 seeds vmapped, and TD3+BC and IQL at theirs. Each
runs `--updates` updates or stops at the first chunk past `--cap` seconds;
the table gives what ran, the compilation time, the steady updates/s and the
time `--updates` updates take at that rate, compilation included.

`--algos` times each named algorithm's main phase instead, at `--hidden` and `--batch`
(the CPU records' 256-256 and 256): the per-update table of the algorithms side by side.

`--hidden`, `--rows` and `--only` shrink the run for a smoke test (the recorded figures
are at the defaults: the paper's 512-512 networks on 100,000 rows, every variant).
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from onemode.algos import get_algo
from onemode.data import Dataset, to_device
from onemode.train import init_seeds, make_update_many

OBS_DIM, ACT_DIM, N_ROWS = 17, 6, 100_000  # HalfCheetah-sized, as in the paper's D4RL runs
PAPER_HIDDEN = (512, 512)                   # Table 3


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of an n x n float32 matrix product, the best of `repeats`."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n))
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n))
    product = jax.jit(lambda x, y: x @ y)
    product(a, b).block_until_ready()
    best = min(_timed(lambda: product(a, b).block_until_ready()) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


def synthetic_dataset(seed: int = 0, rows: int = N_ROWS) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset.from_arrays({
        "observations": rng.normal(size=(rows, OBS_DIM)),
        "actions": rng.uniform(-1, 1, size=(rows, ACT_DIM)),
        "rewards": rng.normal(size=rows),
        "terminals": np.zeros(rows),
        "timeouts": (np.arange(rows) % 1000) == min(999, rows - 1),
    }, source="synthetic")


def measure(config, data, n_seeds: int, updates: int, phase: int = 1, name: str = "lom"):
    """(updates/s of all seeds together, FLOPs of one seed's update) of `name`'s phase."""
    algo = get_algo(name)
    chosen = algo.phases(config)[phase]
    update_many = make_update_many(chosen.update, chosen.batch_size or config.batch_size)
    keys = jax.random.split(jax.random.PRNGKey(0), n_seeds)
    state = init_seeds(algo, config, OBS_DIM, ACT_DIM, keys)
    # XLA's cost analysis counts a scan's body once, whatever its length: one update.
    cost = update_many.lower(state, keys, data, updates).compile().cost_analysis()
    flops = (cost[0] if isinstance(cost, list) else cost)["flops"] / n_seeds
    state, keys, _ = update_many(state, keys, data, updates)  # warm up
    jax.block_until_ready(keys)
    seconds = min(_timed(lambda: jax.block_until_ready(update_many(state, keys, data, updates)))
                  for _ in range(3))
    return updates * n_seeds / seconds, flops


def wall_clock(name: str, config, data, n_seeds: int, updates: int, cap: float,
               chunk: int = 10_000):
    """(updates run, seconds to the first chunk's end, steady updates/s, seconds in all)."""
    algo = get_algo(name)
    tic = time.perf_counter()
    keys = jax.random.split(jax.random.PRNGKey(0), n_seeds)
    state = init_seeds(algo, config, OBS_DIM, ACT_DIM, keys)
    main = algo.phases(config)[-1]
    update_many = make_update_many(main.update, main.batch_size or config.batch_size)
    state, keys, _ = update_many(state, keys, data, chunk)
    jax.block_until_ready(keys)
    first = time.perf_counter() - tic
    done, steady_start = chunk, time.perf_counter()
    while done < updates and (done < 2 * chunk or time.perf_counter() - tic < cap):
        state, keys, _ = update_many(state, keys, data, chunk)
        jax.block_until_ready(keys)
        done += chunk
    total = time.perf_counter() - tic
    steady = (done - chunk) / max(time.perf_counter() - steady_start, 1e-9)
    return done, first, steady, total


def wall_clock_table(data, updates: int, cap: float, chunk: int, hidden=PAPER_HIDDEN,
                     only: str = ""):
    # Table 3: 512-512, M = 10, batch 256; K = 10
    paper = get_algo("lom").Config(hyper_q_samples=10, hidden=hidden)
    variants = [("lom (paper, K=10)", "lom", paper, 1),
                ("lom (paper, K=10), 4 seeds", "lom", paper, 4),
                ("lom (K=1)", "lom", paper.replace(hyper_q_samples=1), 1),
                ("td3bc", "td3bc", get_algo("td3bc").Config(hidden=hidden), 1),
                ("iql", "iql", get_algo("iql").Config(hidden=hidden), 1)]
    variants = [v for v in variants if _chosen(v[0], only)]
    print(f"{'variant (updates/s: each seed)':28s} {'updates run':>11s} {'first chunk s':>13s} "
          f"{'updates/s':>10s} "
          f"{'s in all':>9s} {f's for {updates:,}':>13s}")
    for label, name, config, n_seeds in variants:
        done, first, steady, total = wall_clock(name, config, data, n_seeds, updates, cap, chunk)
        projected = total if done >= updates else first + (updates - chunk) / steady
        print(f"{label:28s} {done:11,d} {first:13.1f} {steady:10,.0f} {total:9.1f} "
              f"{projected:13.0f}{'' if done >= updates else ' (at the steady rate)'}",
              flush=True)


def _chosen(label: str, only: str) -> bool:
    """Whether a variant's label starts with one of the comma-separated `only` (all if empty)."""
    return not only or any(label.startswith(word) for word in only.split(","))


def algorithms_table(names: list[str], data, hidden, batch: int, n_seeds: int, updates: int,
                     peak: float):
    """Each algorithm's main phase at one size: the records' per-update speed table.
    LOM takes one hyper-Q sample per mode, as the CPU records do."""
    print(f"{'algorithm':12s} {'updates/s':>10s} {'GFLOP/update':>13s} {'GFLOP/s':>9s} "
          f"{'of peak':>8s}")
    for name in names:
        options = {"hidden": hidden, "batch_size": batch}
        if name == "lom":
            options["hyper_q_samples"] = 1
        config = get_algo(name).Config(**options)
        rate, flops = measure(config, data, n_seeds, updates, -1, name)
        achieved = rate * flops / 1e9
        print(f"{name:12s} {rate:10.1f} {flops / 1e9:13.3f} {achieved:9.0f} "
              f"{achieved / peak:8.0%}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--wall-clock", action="store_true")
    parser.add_argument("--cap", type=float, default=90.0, help="seconds per wall-clock variant")
    parser.add_argument("--chunk", type=int, default=10_000, help="updates per jitted call")
    parser.add_argument("--hidden", default=",".join(map(str, PAPER_HIDDEN)),
                        help="widths of every network (default: the paper's 512,512)")
    parser.add_argument("--rows", type=int, default=N_ROWS, help="rows of the synthetic data")
    parser.add_argument("--only", default="",
                        help="comma-separated beginnings of the variants' names to run "
                             "(default: all), e.g. paper,MDN or lom,td3bc")
    parser.add_argument("--algos", help="comma-separated algorithms: time each one's main "
                        "phase at --hidden and --batch instead of LOM's variants")
    parser.add_argument("--batch", type=int, default=256, help="batch size, with --algos")
    args = parser.parse_args(argv)
    hidden = tuple(int(width) for width in args.hidden.split(","))
    data = to_device(synthetic_dataset(rows=args.rows))
    peak = matmul_peak()
    print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()}   "
          f"matmul peak (2048^2 float32): {peak:.0f} GFLOP/s")
    if args.wall_clock:
        wall_clock_table(data, args.updates, args.cap, args.chunk, hidden, args.only)
        return
    if args.algos:
        algorithms_table(args.algos.split(","), data, hidden, args.batch, args.seeds,
                         args.updates, peak)
        return
    # Table 3: 512-512, M = 10, batch 256; K = 10
    base = get_algo("lom").Config(hyper_q_samples=10, hidden=hidden)
    variants = {
        "paper (K=10 samples)": (base, 1),
        "authors' (K=1, one-hot)": (base.replace(hyper_q_samples=1, hyper_q_input="one_hot",
                                                advantage_baseline="policy",
                                                policy_loss="weighted_mse", n_critics=2,
                                                target_noise=0.2, imitation_noise=0.2), 1),
        "MDN phase": (base, 0),
    }
    print(f"{'variant':26s} {'updates/s':>10s} {'GFLOP/update':>13s} {'GFLOP/s':>9s} {'of peak':>8s}")
    for name, (config, phase) in variants.items():
        if not _chosen(name, args.only):
            continue
        rate, flops = measure(config, data, args.seeds, args.updates, phase)
        achieved = rate * flops / 1e9
        print(f"{name:26s} {rate:10.1f} {flops / 1e9:13.3f} {achieved:9.0f} {achieved / peak:8.0%}")


if __name__ == "__main__":
    main()
