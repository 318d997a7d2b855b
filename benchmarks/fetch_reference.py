"""Reference returns of the Fetch 4-goal tasks: the scripted expert and a random policy.

    .venv/bin/python benchmarks/fetch_reference.py --episodes 1000 [--kinds reach,push,pick]

Rolls out the registered environments (reset seeds 0..N-1, in blocks of 200
environments) with the noise-free scripted controller toward the (+x, +y) goal
and with uniform random actions (numpy seed 0), and prints the mean return, its
std and the standard error of the mean: the numbers behind `fetch.REFERENCE`.
"""

import argparse
import time

import numpy as np

from onemode.evaluate import rollout
from onemode.tasks import get_task
from onemode.tasks.fetch import KINDS

BLOCK = 200     # environments alive at once


def returns_of(task, policy, n_episodes: int) -> np.ndarray:
    blocks = [np.arange(a, min(a + BLOCK, n_episodes)) for a in range(0, n_episodes, BLOCK)]
    return np.concatenate([rollout(task, policy, seeds).returns for seeds in blocks])


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="comma-separated: reach, push, pick (default: all three)")
    args = parser.parse_args(argv)
    for kind in args.kinds.split(","):
        if kind not in KINDS:
            parser.error(f"--kinds: '{kind}' is not one of {', '.join(KINDS)}")
        task = get_task(f"fetch-{kind}-4goal")
        rng = np.random.default_rng(0)
        policies = {"expert": task.expert_policy,
                    "random": lambda obs: rng.uniform(-1, 1, size=(len(obs), 4))}
        for label, policy in policies.items():
            start = time.perf_counter()
            returns = returns_of(task, policy, args.episodes)
            print(f"{task.name:18s} {label:6s} return {returns.mean():7.3f} "
                  f"+- {returns.std():5.2f} (sem {returns.std() / np.sqrt(len(returns)):.3f})  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
