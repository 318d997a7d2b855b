"""LOM update speed at the paper's sizes, against the matrix-product peak of this machine.

    .venv/bin/python benchmarks/lom_speed.py [--updates 200] [--seeds 1]

Prints the XLA matrix-product GFLOP/s measured in this run, then for each
variant the updates/s of `update_many` (one jitted lax.scan), the FLOPs of one
update from XLA's own cost analysis of the compiled function, and the
achieved fraction of the matrix-product peak.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import lom
from onemode.data import Dataset, to_device
from onemode.train import make_update_many

OBS_DIM, ACT_DIM, N_ROWS = 17, 6, 100_000  # HalfCheetah-sized, as in the paper's D4RL runs


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


def synthetic_dataset(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset.from_arrays({
        "observations": rng.normal(size=(N_ROWS, OBS_DIM)),
        "actions": rng.uniform(-1, 1, size=(N_ROWS, ACT_DIM)),
        "rewards": rng.normal(size=N_ROWS),
        "terminals": np.zeros(N_ROWS),
        "timeouts": (np.arange(N_ROWS) % 1000) == 999,
    }, source="synthetic")


def measure(config: lom.Config, data, n_seeds: int, updates: int, phase: int = 1):
    update = lom.phases(config)[phase].update
    update_many = make_update_many(update, config.batch_size)
    keys = jax.random.split(jax.random.PRNGKey(0), n_seeds)
    state = jax.jit(jax.vmap(lambda k: lom.init(k, OBS_DIM, ACT_DIM, config)))(keys)
    # XLA's cost analysis counts a scan's body once, whatever its length: one update.
    cost = update_many.lower(state, keys, data, updates).compile().cost_analysis()
    flops = (cost[0] if isinstance(cost, list) else cost)["flops"] / n_seeds
    state, keys, _ = update_many(state, keys, data, updates)  # warm up
    jax.block_until_ready(keys)
    seconds = min(_timed(lambda: jax.block_until_ready(update_many(state, keys, data, updates)))
                  for _ in range(3))
    return updates * n_seeds / seconds, flops


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    data = to_device(synthetic_dataset())
    peak = matmul_peak()
    print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()}   "
          f"matmul peak (2048^2 float32): {peak:.0f} GFLOP/s")
    base = lom.Config()  # Table 3: 512-512, M = 10, batch 256
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
        rate, flops = measure(config, data, args.seeds, args.updates, phase)
        achieved = rate * flops / 1e9
        print(f"{name:26s} {rate:10.1f} {flops / 1e9:13.3f} {achieved:9.0f} {achieved / peak:8.0%}")


if __name__ == "__main__":
    main()
