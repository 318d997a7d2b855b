"""The behaviour policy's critic and the candidates it chooses between.

WCGAN and WCVAE weight their generative models by the advantage of the
behaviour policy pi_b, learned without a model of pi_b:

  Q(s, a) -> r + gamma (1 - d) Q^-(s', a'), a' the data's next action (SARSA)
  V(s)    -> Q(s, a), a the data's action: the minimiser is E_{a~pi_b(.|s)} Q(s, a)
  A(s, a) =  Q(s, a) - V(s),  w(s, a) = exp_clip(A / beta), clipped to (0, C]

Both act, optionally, by the candidate of highest Q among K decoded actions
(`candidate_latents`, `best_by_q`).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.common import exp_clip_weight, make_state, polyak, weight_metrics
from onemode.algos.config import AlgoConfig
from onemode.errors import ConfigError
from onemode.algos.critics import q_value, sarsa_target, td_metrics, td_update
from onemode.nets import MlpPolicy, QEnsemble, ValueNet, mlp_policy

ACT_KEY = 0  # the fixed PRNG key of the K - 1 latent draws when acting by best-of-K


@dataclasses.dataclass(frozen=True)
class WeightedModelConfig(AlgoConfig):
    """Options of a generative model weighted by this critic (WCGAN, WCVAE).

    The LOM paper states no hyper-parameters for these baselines: `beta`,
    `weight_clip`, `polyak`, `target_update_every` and `discount` are LOM's
    (Table 3), so that they weight advantages as LOM does; the widths (256) are
    those of the authors' code (github.com/MianchuWang/LOM, networks/networks.py).
    """

    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 256
    discount: float = 0.99
    beta: float = 5.0                 # advantage temperature of w
    weight_clip: float = 50.0         # C
    normalize_weights: bool = True
    critic_lr: float = 3e-4           # Q
    value_lr: float = 3e-4            # V
    n_critics: int = 1
    polyak: float = 0.995             # rho
    target_update_every: int = 2
    act_candidates: int = 1           # 1: the model's mean action; K > 1: best of K by Q
    ACTING = ("act_candidates",)


class BehaviourCritic(NamedTuple):
    q: TrainState       # Q^{pi_b}(s, a), a `QEnsemble` of n_critics
    q_target: dict      # Q^-
    v: TrainState       # V^{pi_b}(s)


def init_behaviour_critic(key, obs_dim: int, act_dim: int, config) -> BehaviourCritic:
    """`config` gives hidden, n_critics, critic_lr and value_lr."""
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_q, k_v = jax.random.split(key)
    q = make_state(QEnsemble(config.hidden, config.n_critics), k_q, config.critic_lr, obs, act)
    return BehaviourCritic(q, q.params, make_state(ValueNet(config.hidden), k_v,
                                                   config.value_lr, obs))


def update_behaviour_critic(critic: BehaviourCritic, batch, step, config):
    """One step of both regressions; `step` counts updates done, for the target's delay.

    `config` gives discount, polyak and target_update_every.
    """
    target = sarsa_target(critic.q, critic.q_target, batch, config.discount)
    q, loss = td_update(critic.q, batch, target)
    q_data = jax.lax.stop_gradient(q_value(q, q.params, batch.observations, batch.actions))

    def value_loss(params):
        return jnp.mean((critic.v.apply_fn(params, batch.observations) - q_data) ** 2)

    v_loss, grads = jax.value_and_grad(value_loss)(critic.v.params)
    q_target = polyak(step + 1, config.target_update_every, q.params, critic.q_target,
                      config.polyak)
    return (BehaviourCritic(q, q_target, critic.v.apply_gradients(grads=grads)),
            {**td_metrics(target, loss), "v_loss": v_loss})


def behaviour_advantage(critic: BehaviourCritic, observations, actions):
    """A^{pi_b}(s, a) = Q(s, a) - V(s)."""
    return (q_value(critic.q, critic.q.params, observations, actions)
            - critic.v.apply_fn(critic.v.params, observations))


def advantage_weights(critic: BehaviourCritic, batch, config):
    """w(s, a) = exp_clip(A^{pi_b}(s, a) / beta), then (optionally) over its batch mean."""
    advantage = behaviour_advantage(critic, batch.observations, batch.actions)
    weight = exp_clip_weight(advantage, config.beta, config.weight_clip)
    metrics = weight_metrics(advantage, weight, config.weight_clip)
    if config.normalize_weights:  # (all weights underflowing to 0 leaves them 0, not NaN)
        weight = weight / jnp.maximum(weight.mean(), jnp.finfo(weight.dtype).tiny)
    return jax.lax.stop_gradient(weight), metrics


def candidate_latents(k: int, batch_shape, dim: int):
    """(k, *batch_shape, dim): z = 0 first, then k - 1 fixed draws, the same for every state."""
    latents = jax.random.normal(jax.random.PRNGKey(ACT_KEY), (k,) + (1,) * len(batch_shape) + (dim,))
    return jnp.broadcast_to(latents.at[0].set(0.0), (k,) + tuple(batch_shape) + (dim,))


def best_by_q(critic: BehaviourCritic, observations, candidates):
    """The candidate (K, B, A) of highest Q(s, a) per state: (B, A)."""
    states = jnp.broadcast_to(observations, candidates.shape[:-1] + observations.shape[-1:])
    best = jnp.argmax(q_value(critic.q, critic.q.params, states, candidates), axis=0)
    return jnp.take_along_axis(candidates, best[None, :, None], axis=0)[0]


def act_by_candidates(critic: BehaviourCritic, observations, candidates):
    """The first candidate (the model's mean action), or with K > 1 the best by Q."""
    if candidates.shape[0] > 1:
        return best_by_q(critic, observations, candidates)
    return candidates[0]


def zero_latent_policy_mlp(algo: str, mlp_params, head: str, latent_dim: int,
                           act_candidates: int) -> MlpPolicy:
    """A generative model's action at z = 0 as layers, for export: MLP([s, z]) with z = 0,
    whose latent rows of the first kernel drop out.

    With `act_candidates` > 1 the action is the best of several candidates by the
    critic's Q: no single MLP, refused.
    """
    if act_candidates > 1:
        raise ConfigError(f"{algo} with act_candidates = {act_candidates} acts by the best of "
                          "several generated candidates by its critic's Q, which is no single "
                          "MLP; only act_candidates = 1 (the model's action at z = 0) exports")
    return mlp_policy(mlp_params, head,
                      input_rows=mlp_params["Dense_0"]["kernel"].shape[0] - latent_dim)
