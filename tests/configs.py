"""Every algorithm's settings for the tests, in one place.

TINY: the contract test's size (`test_contract.py`): narrow networks, short pre-training
phases, and, where an algorithm has them, a policy deeper than the rest, a behaviour model
of its own size and a phase that draws more rows than the rest, so that saving,
exporting and resuming meet them.

EXPERT: (options, main-phase updates) with which each algorithm reaches the expert's
score on `multigoal-expert` in seconds to tens of seconds on two CPU cores
(`test_learning.py`). Small networks throughout; where an algorithm needs more:
- TD3+BC: with the paper's alpha = 2.5 (`q_weight`) the Q-term dominates until Q has
  formed its peak at the goal (several thousand updates: the policy first runs past the
  goal); alpha = 1.0 and learning rates 1e-3 learn in ~1000.
- ReBRAC: its default penalty weights (beta1 = beta2 = 0.01) leave the Q-term in charge
  until Q has formed (seeds 0 and 1 scored 25 and 100 after 1500 updates, 98 and 100
  after 2000, 100 from 2500): 3000 for a margin; actor_bc_weight 0.1 learns in ~800.
- CQL: n_actions = 4 (not 10) and batch 128 keep the penalty's extra critic evaluations
  cheap; actor_lr 3e-4 instead of the paper's 1e-4.
- OneStep: its behaviour phase cut to 50 updates, where beta_hat alone scores about 80, so
  passing needs its improvement phase (pi starts as beta_hat).
- WCGAN: two-timescale learning rates and a noise of act_dim dimensions make pi(s, 0)
  precise within a few thousand updates (the authors' 1e-4 and 10 dimensions score about
  0 at this budget); WCVAE: a 2-dimensional latent.
"""

from __future__ import annotations

_TINY_BASE = dict(hidden=(16, 16), batch_size=32)
TINY = {
    "awac": _TINY_BASE,
    "bc": _TINY_BASE,
    "cql": _TINY_BASE,
    "dmpo": _TINY_BASE,
    "fql": {**_TINY_BASE, "actor_hidden": (16, 8, 16)},
    "iql": {**_TINY_BASE, "actor_hidden": (16, 8, 16)},
    "lapo": _TINY_BASE,
    "lom": {**_TINY_BASE, "n_components": 3, "actor_hidden": (16, 8, 16), "mdn_steps": 50,
            "mdn_hidden": (24, 24), "hyper_q_batch_size": 64},
    "mdn": {**_TINY_BASE, "n_components": 3},
    "onestep": {**_TINY_BASE, "behaviour_steps": 50, "critic_steps": 50},
    "rebrac": {**_TINY_BASE, "actor_hidden": (16, 8, 16)},
    "td3bc": {**_TINY_BASE, "actor_hidden": (16, 8, 16)},
    "wcgan": _TINY_BASE,
    "wcvae": _TINY_BASE,
}

EXPERT = {
    "bc": (dict(hidden=(64, 64), actor_lr=1e-3), 400),
    "mdn": (dict(hidden=(64, 64), n_components=4), 1000),
    "awac": (dict(hidden=(64, 64), batch_size=256, actor_lr=1e-3, critic_lr=1e-3), 1000),
    "onestep": (dict(hidden=(64, 64), batch_size=256, behaviour_steps=50, critic_steps=1000,
                     value_samples=4, behaviour_lr=1e-3, critic_lr=1e-3, actor_lr=1e-3), 500),
    "td3bc": (dict(hidden=(64, 64), q_weight=1.0, actor_lr=1e-3, critic_lr=1e-3), 2000),
    "rebrac": (dict(hidden=(64, 64), batch_size=256), 3000),
    "iql": (dict(hidden=(64, 64)), 1000),
    "cql": (dict(hidden=(64, 64), n_actions=4, batch_size=128, actor_lr=3e-4), 1200),
    "dmpo": (dict(hidden=(64, 64), n_subpolicies=4, actor_lr=1e-3, critic_lr=1e-3), 2000),
    "fql": (dict(hidden=(64, 64), flow_lr=1e-3, actor_lr=1e-3, critic_lr=1e-3), 1000),
    "lapo": (dict(hidden=(64, 64), batch_size=256, vae_lr=1e-3, actor_lr=1e-3, critic_lr=1e-3,
                  value_lr=1e-3), 2000),
    "wcgan": (dict(hidden=(64, 64), noise_dim=2, generator_lr=2e-4, discriminator_lr=6e-4,
                   critic_lr=1e-3, value_lr=1e-3), 2500),
    "wcvae": (dict(hidden=(64, 64), vae_lr=1e-3, critic_lr=1e-3, value_lr=1e-3,
                   latent_dim=2), 2000),
}
