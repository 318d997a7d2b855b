"""The authors' public LOM code, trained on a onemode dataset and scored as onemode scores.

    python reproductions/authors_lom.py --code PATH/TO/LOM --task hopper-medium-replay \
        --data runs/bench-loco/data/hopper-medium-replay-200000.npz [--seed 0] \
        [--steps 50000] [--gmm-steps 200000] [--eval-every 10000] [--eval-episodes 10] \
        [--set beta=0.2] [--lr 3e-4] [--device cuda] [--out runs/authors/hopper-mr-0.json]

Issue 13 asks whether the authors' code (github.com/MianchuWang/LOM, checked out at
PATH) learns more per update than onemode's LOM on the same data. This script runs
their agent unchanged: their `agents.lom.LOM` with their per-dataset hyper-parameters
(the `hyperparams` entry of the matching D4RL dataset: M, the number of critics K,
beta in their weight exp(beta A), imitation noise, target smoothing, the clip C),
their replay buffer filled with the onemode dataset, their `train_models()` each step.
Only the edges are onemode's: the data (a onemode .npz), and the evaluation (their
actor's tanh mean on the task's gymnasium v5 environment, every seed against the start
states onemode's evaluations meet, D4RL-normalised with the task's references).

Their modules import d4rl, gym and wandb at the top; none of those is called on this
path, and empty stand-in modules take their place (and tqdm's, where it is missing).
They need PyTorch and scikit-learn.
Their constructor pre-trains the GMM for 200,000 updates; `--gmm-steps` shortens that
(for a smoke test) by replacing the progress-bar wrapper around that loop. `--set
KEY=VALUE` overrides one of their per-dataset hyper-parameters (beta=0.2 makes their
weight onemode's exp(A / 5)); `--lr` sets the learning rate of their policy and mode
network (theirs: 1e-3; onemode's: 3e-4).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
import types
from importlib.machinery import ModuleSpec
from pathlib import Path

import numpy as np

from onemode.data import load_dataset
from onemode.evaluate import rollout_seeds
from onemode.fileio import atomic_write
from onemode.tasks import get_task

D4RL_NAMES = {f"{env}-{kind}": f"{env}-{kind}-v2" for env in ("halfcheetah", "hopper", "walker2d")
              for kind in ("medium", "medium-replay", "medium-expert", "expert", "full-replay")}


def import_their_agent(code: Path, gmm_steps: int):
    """Their agents.lom module, with stand-ins for the packages it imports and never calls."""
    missing_tqdm = importlib.util.find_spec("tqdm") is None
    for name in ("d4rl", "gym", "wandb") + (("tqdm",) if missing_tqdm else ()):
        stand_in = sys.modules[name] = types.ModuleType(name)
        stand_in.__spec__ = ModuleSpec(name, loader=None)  # torch looks modules up by spec
        stand_in.tqdm = None  # their `from tqdm import tqdm`, replaced below
    sys.path.insert(0, str(code))
    import agents.lom as their_lom
    from replay_buffer import ReplayBuffer

    def limited(iterable, *args, **kwargs):  # their GMM loop: `for _ in tqdm(range(200000))`
        return range(min(len(iterable), gmm_steps))

    their_lom.tqdm = limited
    return their_lom, ReplayBuffer


def fill_buffer(ReplayBuffer, dataset, discount: float):
    buffer = ReplayBuffer(buffer_size=len(dataset.observations) + 1,  # +1: their next action
                          state_dim=dataset.obs_dim, ac_dim=dataset.act_dim, discount=discount)
    buffer.load_dataset({"observations": dataset.observations,
                         "next_observations": dataset.next_observations,
                         "actions": dataset.actions, "rewards": dataset.rewards,
                         "terminals": dataset.terminals.astype(np.float32)},
                        compute_return=False)
    return buffer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", required=True, type=Path, help="a checkout of their repository")
    parser.add_argument("--task", required=True, help="onemode's locomotion task of the data")
    parser.add_argument("--data", required=True, help="the dataset file (.npz)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--gmm-steps", type=int, default=200_000)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--lr", type=float, help="their policy's and mode network's rate")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import torch
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)  # their minibatches and scaler noise draw from numpy's global stream
    their_lom, ReplayBuffer = import_their_agent(args.code, args.gmm_steps)
    d4rl_name = D4RL_NAMES[args.task]
    for item in args.set:
        key, value = item.split("=", 1)
        if key not in their_lom.hyperparams[d4rl_name]:
            raise SystemExit(f"--set {key}: their hyper-parameters are "
                             f"{', '.join(their_lom.hyperparams[d4rl_name])}")
        counts = key in ("K", "num_mixtures")  # the others are real numbers, beta=5 included
        their_lom.hyperparams[d4rl_name][key] = int(value) if counts else float(value)
    task, dataset = get_task(args.task), load_dataset(args.data)
    buffer = fill_buffer(ReplayBuffer, dataset, discount=0.99)

    tic, here = time.perf_counter(), os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # their constructor saves the GMM into the working directory
        try:
            agent = their_lom.LOM(env_name=d4rl_name, replay_buffer=buffer,
                                  state_dim=dataset.obs_dim, ac_dim=dataset.act_dim,
                                  device=args.device, discount=0.99, normalise=1)
        finally:
            os.chdir(here)
    gmm_seconds = time.perf_counter() - tic
    if args.lr is not None:
        for optimiser in (agent.policy_opt, agent.mode_net_opt):
            for group in optimiser.param_groups:
                group["lr"] = args.lr

    @torch.no_grad()
    def act(observations):  # (1, episodes, obs_dim) -> actions: their get_action, batched
        states, _, _, _, _ = agent.preprocess(states=observations.reshape(-1, dataset.obs_dim))
        actions = agent.policy(states)[1].cpu().numpy()
        return np.clip(actions, -1, 1).reshape(observations.shape[:-1] + (-1,))

    record = {"task": args.task, "seed": args.seed, "hyperparams": their_lom.hyperparams[d4rl_name],
              "lr": args.lr, "gmm_steps": args.gmm_steps, "gmm_seconds": gmm_seconds,
              "device": args.device, "step": [], "score": [], "seconds": []}
    tic = time.perf_counter()
    for step in range(1, args.steps + 1):
        agent.train_models()
        if step % args.eval_every == 0 or step == args.steps:
            scores = rollout_seeds(task, act, 1, args.eval_episodes).scores[0]
            record["step"].append(step)
            record["score"].append(float(scores.mean()))
            record["seconds"].append(time.perf_counter() - tic)
            print(f"step {step}: score {scores.mean():.1f} ± {scores.std():.1f} "
                  f"({step / (time.perf_counter() - tic):.1f} updates/s)", flush=True)
            if args.out is not None:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(record, indent=1)))


if __name__ == "__main__":
    main()
