"""Held-out NLL against M on built-in tasks, with the selection's fitting (onemode.components).

    python experiments/2026-12-07-auto-m/curves.py TASKS HIDDEN UPDATES LR BATCH
    e.g.   python experiments/2026-12-07-auto-m/curves.py multigoal,multigoal-expert,bandit 128,128 4000 3e-3 128

Prints one JSON line per task and seed: every candidate's held-out NLL (nats per transition).
"""

import json
import sys
import time

from onemode.components import candidate_nll, selection_key
from onemode.data import split_holdout, to_device
from onemode.tasks import get_task

hidden = tuple(int(h) for h in sys.argv[2].split(","))
updates, lr, batch = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
for task in sys.argv[1].split(","):
    dataset = get_task(task).make_dataset(get_task(task).default_size, 0)
    train, holdout = split_holdout(dataset, 0.05, 0)
    stats = dataset.obs_stats
    for seed in (0, 1):
        tic = time.time()
        nll = candidate_nll(to_device(train, stats), to_device(holdout, stats), dataset.act_dim,
                            tuple(range(1, 11)), hidden, updates, selection_key(seed), lr=lr,
                            batch_size=batch)
        print(json.dumps({"task": task, "seed": seed, "act_dim": dataset.act_dim,
                          "s": round(time.time() - tic, 1),
                          "nll": [round(float(v), 4) for v in nll]}), flush=True)
