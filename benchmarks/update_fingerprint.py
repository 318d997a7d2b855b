"""A fingerprint of every algorithm's updates: the hash of its state after a few hundred.

A refactoring that must not change what an algorithm learns prints the same
fingerprints before and after. Each algorithm (and each listed variant) trains two
seeds, vmapped, on `multigoal` data through the engine's jitted scan, every phase in
turn; the fingerprint hashes every leaf of the final state and the actions it takes
on 256 dataset observations.

    python benchmarks/update_fingerprint.py --out before.json    # on the old tree
    python benchmarks/update_fingerprint.py --compare before.json  # on the new one
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import ALGOS, get_algo
from onemode.data import to_device
from onemode.tasks import get_task
from onemode.train import init_seeds, make_update_many

__all__ = ["VARIANTS", "fingerprint", "main"]

# (label, algorithm, options beside the small sizes); every algorithm at its defaults, and
# the LOM options whose code paths differ from them
VARIANTS = [(name, name, {}) for name in sorted(ALGOS)] + [
    ("lom-authors", "lom", {"hyper_q_samples": 1, "hyper_q_input": "one_hot",
                            "advantage_baseline": "policy", "policy_loss": "weighted_mse",
                            "target_noise": 0.2, "n_critics": 2, "imitation_noise": 0.2,
                            "mdn_tanh_means": True, "hyper_q_batch_size": 96, "beta": 0.2,
                            "min_mode_weight": 0.0}),
    ("lom-samples", "lom", {"hyper_q_samples": 4}),
    ("lom-act-greedy", "lom", {"act_by": "greedy_mode"}),
    ("lom-act-critic", "lom", {"act_by": "critic_mode"}),
]


def small_config(algo, options: dict, pre_steps: int):
    values = {"hidden": (32, 32), "batch_size": 64}
    for field in dataclasses.fields(algo.Config):
        if field.name.endswith("_steps"):
            values[field.name] = pre_steps
        if field.name == "n_components":
            values[field.name] = 4
    return algo.Config.from_dict({**values, **options})


def fingerprint(name: str, options: dict, dataset, steps: int, pre_steps: int) -> str:
    algo = get_algo(name)
    config = small_config(algo, options, pre_steps)
    stats = dataset.obs_stats
    data = to_device(dataset, stats)
    keys = jax.vmap(lambda s: jax.random.split(jax.random.PRNGKey(s)))(jnp.arange(2))
    state = init_seeds(algo, config, dataset.obs_dim, dataset.act_dim, keys[:, 0])
    keys = keys[:, 1]
    for phase in algo.phases(config):
        n = steps if phase.steps is None else phase.steps
        if n:
            update_many = make_update_many(phase.update, phase.batch_size or config.batch_size)
            state, keys, _ = update_many(state, keys, data, n)
    observations = jnp.asarray(stats.normalize(dataset.observations[:256]))
    actions = jax.vmap(lambda s: algo.act(s, observations, config))(state)
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves((state, keys, actions)):
        digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return digest.hexdigest()[:16]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="updates of the main phase")
    parser.add_argument("--pre-steps", type=int, default=100, help="updates of each other phase")
    parser.add_argument("--only", default="", help="comma-separated labels (default: all)")
    parser.add_argument("--out", help="write the fingerprints to this JSON file")
    parser.add_argument("--compare", help="a JSON file of fingerprints to compare against")
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    dataset = get_task("multigoal").make_dataset(size=4_000, seed=0)
    prints = {}
    for label, name, options in VARIANTS:
        if not only or label in only:
            prints[label] = fingerprint(name, options, dataset, args.steps, args.pre_steps)
            print(f"{label:18s} {prints[label]}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(prints, f, indent=1)
    if args.compare:
        with open(args.compare) as f:
            before = json.load(f)
        changed = sorted(k for k in prints if k in before and before[k] != prints[k])
        print(f"{len(prints) - len(changed)} of {len(prints)} identical to {args.compare}"
              + (f"; changed: {', '.join(changed)}" if changed else ""))
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
