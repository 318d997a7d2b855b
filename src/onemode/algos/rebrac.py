"""ReBRAC: Revisiting the Minimalist Approach to Offline RL (Tarasov, Kurenkov, Nikulin and
Kolesnikov, 2023).

TD3+BC (Fujimoto and Gu, 2021) with the design choices the paper collects from later work:
LayerNorm in the critics, deeper networks (three hidden layers), larger batches, and a
behaviour penalty decoupled into two, one in the actor's objective (weight beta1,
`actor_bc_weight`) and one inside the critic's target (weight beta2, `critic_bc_weight`).
Both are penalty weights, not temperatures. (TD3+BC's state normalisation is done for every
algorithm by the engine.)

Every step (one "main" phase):
  a'      = clip(pi^-(s') + clip(eps, -c, c), -1, 1),  eps ~ N(0, sigma^2)
                                                        (TD3's target smoothing)
  y       = r + gamma (1 - d) [min_i Q_i^-(s', a') - beta2 ||a' - a'_data||^2]
                                                        (critic target, with beta2)
  Q_i     <- (Q_i(s, a) - y)^2 for both critics
Every `actor_update_every`-th step (TD3's delayed policy update):
  pi      <- mean_batch [ beta1 ||pi(s) - a||^2 - lambda min_i Q_i(s, pi(s)) ],
             lambda = 1 / mean_batch |min_i Q_i(s, pi(s))|, held constant in the gradient
                                                        (actor objective, with beta1; the
                                                         Q-term normalised as the paper's
                                                         code does, `normalize_q`)
  pi^-, Q^- <- Polyak averages with rate tau = 1 - polyak

||.||^2 is the squared distance summed over the action's dimensions, as in the authors'
code (TD3+BC's code takes the mean over them).

Which rows the target needs. The off-policy part r + gamma min Q^-(s', a') needs only a real
s' (`bellman_target` drops rows without one). The penalty needs the data's next action
a'_data as well, which the data does not have at an episode's last row. At a row with a real
s' but no next action (an episode cut by a time limit, whose s' the data records), ReBRAC
here keeps bootstrapping and drops the penalty: y = r + gamma min Q^-(s', a'), TD3's target
there. The penalty of such a row is set to 0 with `jnp.where`, so its stand-in a'_data
(whatever it is, NaN included) reaches neither the target nor the gradient. (The
authors' code never meets such a row: D4RL's loader drops an episode's time-limit row.)
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp

from onemode.algos.base import Phase
from onemode.algos.config import AlgoConfig
from onemode.algos.critics import (bellman_target, masked_mean, q_value, smoothed,
                                   td_metrics, td_update)
from onemode.algos.deterministic import (TD3State, act_by_actor, actor_policy_mlp,
                                         init_td3_state, td3_step)


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """ReBRAC hyper-parameters.

    Defaults are the authors' D4RL settings, the same in every one of their per-dataset
    configs (github.com/DT6A/ReBRAC, `src/algorithms/rebrac.py`'s Config and
    `configs/rebrac/*/*.yaml`, commit 7f4df8a; CORL's `algorithms/offline/rebrac.py` and
    `configs/offline/rebrac/` at commit 6afec90 hold the same): actor and critics of three
    hidden layers of 256 (`hidden_dim` 256, `actor_n_hiddens` = `critic_n_hiddens` = 3),
    LayerNorm in the critics and none in the actor (`critic_ln` true, `actor_ln` false),
    Adam with learning rate 1e-3 for both (`actor_learning_rate`, `critic_learning_rate`),
    batch 1024, discount 0.99, tau 0.005 (polyak = 1 - tau), target noise 0.2 clipped at
    0.5 (`policy_noise`, `noise_clip`), actor and targets updated every 2nd step
    (`policy_freq`), twin critics (`num_critics=2`), the actor's Q-term divided by its
    minibatch mean |Q| (`normalize_q` true).

    `actor_bc_weight` is the paper's beta1 (`actor_bc_coef`), `critic_bc_weight` its beta2
    (`critic_bc_coef`). The authors tune both per dataset (their D4RL locomotion rows:
    `--preset paper`, `src/onemode/presets/rebrac-paper.toml`); their Config's own 1.0 and
    1.0 are placeholders every published config overrides. The defaults here, 0.01 and
    0.01, are the values most of their 18 D4RL locomotion configs use (8 rows for beta1,
    9 for beta2; each from their grids {0.001, 0.01, 0.05, 0.1} and
    {0, 0.001, 0.01, 0.1, 0.5}, `configs/sweeps/tuning/rebrac_locomotion_sweep.yaml`).

    Where onemode departs from the authors' code: its layers start from Flax's default
    initialisation (theirs from PyTorch's uniform one with biases 0.1 and the output layers
    uniform in +-1e-3 for the actor, +-3e-3 for the critics); the engine normalises
    observations (their D4RL configs set `normalize_states` false); and rows cut by a time
    limit are kept (see the module's docstring).
    """

    hidden: tuple[int, ...] = (256, 256, 256)
    actor_hidden: tuple[int, ...] = ()    # the actor's own widths; empty: `hidden`
    batch_size: int = 1024
    discount: float = 0.99
    actor_bc_weight: float = 0.01   # beta1: weight of ||pi(s) - a||^2 in the actor's loss
    critic_bc_weight: float = 0.01  # beta2: weight of ||a' - a'_data||^2 inside the target
    critic_layer_norm: bool = True
    normalize_q: bool = True        # lambda = 1 / mean|Q| on the actor's Q-term (else 1)
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3
    n_critics: int = 2              # clipped double Q: the minimum of the critics
    polyak: float = 0.995           # 1 - tau, tau = 0.005
    target_update_every: int = 2
    target_noise: float = 0.2       # sigma of the target smoothing noise
    target_noise_clip: float = 0.5  # c
    actor_update_every: int = 2     # delayed actor updates


State = TD3State  # pi, pi^-, Q_1 and Q_2 (LayerNorm in each), their targets, the updates


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    return init_td3_state(key, obs_dim, act_dim, config,
                          critic_layer_norm=config.critic_layer_norm)


# ------------------------------------------------------------------ pieces
def squared_distance(x, y):
    """||x - y||^2, summed over the action's dimensions: (..., A) -> (...)."""
    return jnp.sum((x - y) ** 2, axis=-1)


def q_scale(q, normalize_q: bool):
    """lambda = 1 / mean|Q| over the minibatch (1 without normalisation), held constant in
    the gradient: the actor's loss then ignores the scale of the rewards."""
    if not normalize_q:
        return jnp.ones(())
    return jax.lax.stop_gradient(1.0 / jnp.mean(jnp.abs(q)))


def actor_objective(q, policy_actions, data_actions, actor_bc_weight: float,
                    normalize_q: bool = True):
    """The actor's loss: mean [beta1 ||pi(s) - a||^2 - lambda Q(s, pi(s))]."""
    return jnp.mean(actor_bc_weight * squared_distance(policy_actions, data_actions)
                    - q_scale(q, normalize_q) * q)


def critic_penalty(next_actions, batch):
    """||a' - a'_data||^2 where the episode has a next action a'_data, 0 where it has none.

    `jnp.where` picks 0 on a row without one, so its stand-in a'_data (NaN included) never
    reaches the result (a mask multiplied in would not do: 0 * NaN is NaN).
    """
    distance = squared_distance(next_actions, batch.next_actions)
    return jnp.where(batch.has_next_action > 0, distance, 0.0)


def critic_target(state: State, batch, key, config: Config):
    """(y, the penalty ||a' - a'_data||^2 of each row): y = r + gamma (1 - d)
    [min_i Q_i^-(s', a') - beta2 ||a' - a'_data||^2], a' the target policy's smoothed action,
    defined where s' is real (or the row is terminal)."""
    next_actions = smoothed(state.actor.apply_fn(state.actor_target, batch.next_observations),
                            key, config.target_noise, config.target_noise_clip)
    next_q = q_value(state.critic, state.critic_target, batch.next_observations, next_actions)
    penalty = critic_penalty(next_actions, batch)
    target = bellman_target(batch, next_q - config.critic_bc_weight * penalty, config.discount)
    return target, penalty


def update_critic(state: State, batch, key, config: Config):
    """Clipped double-Q TD onto the penalised target, over the rows with a real s'."""
    target, penalty = critic_target(state, batch, key, config)
    critic, loss = td_update(state.critic, batch, target)
    return critic, {**td_metrics(target, loss),
                    "critic_bc_distance": masked_mean(penalty, batch.has_next_action)}


def update_actor(state: State, batch, do_update, config: Config):
    """The actor objective on min_i Q_i, applied only when `do_update` (the delayed update)."""

    def loss_fn(params):
        policy_actions = state.actor.apply_fn(params, batch.observations)
        q = q_value(state.critic, state.critic.params, batch.observations, policy_actions)
        loss = actor_objective(q, policy_actions, batch.actions, config.actor_bc_weight,
                               config.normalize_q)
        return loss, (q, policy_actions)

    (loss, (q, policy_actions)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.actor.params)
    actor = jax.lax.cond(do_update, lambda: state.actor.apply_gradients(grads=grads),
                         lambda: state.actor)
    return actor, {"actor_loss": loss, "lambda": q_scale(q, config.normalize_q),
                   "q_pi": q.mean(),
                   "actor_bc_distance": squared_distance(policy_actions, batch.actions).mean()}


def update(state: State, batch, key, config: Config):
    """One ReBRAC step: TD3's schedule (`deterministic.td3_step`) with the penalised
    critic target and actor loss above."""
    return td3_step(state, batch, key, config, update_critic, update_actor)


def phases(config: Config) -> tuple[Phase, ...]:
    """One phase: ReBRAC pre-trains nothing (its actor starts from scratch)."""
    return (Phase("main", None, partial(update, config=config)),)


act = act_by_actor               # pi(s), clipped
policy_mlp = actor_policy_mlp    # export: tanh(MLP(s))
