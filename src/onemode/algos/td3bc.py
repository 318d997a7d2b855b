"""TD3+BC: A Minimalist Approach to Offline Reinforcement Learning (Fujimoto and Gu, 2021).

TD3 (Fujimoto, van Hoof and Meger, 2018) with one change to the actor's
objective, a behaviour-cloning term (Eq. 3), whose Q-term is scaled by
lambda = alpha / mean|Q| (Eq. 4) so that alpha alone sets the balance
whatever the scale of the rewards. (The paper's other change, normalising
states, is done for every algorithm by the engine.)

Every step (one "main" phase):
  a~'     = clip(pi^-(s') + clip(eps, -c, c), -1, 1),  eps ~ N(0, sigma^2)
                                                          (TD3 target smoothing)
  y       = r + gamma (1 - d) min_i Q_i^-(s', a~')        (clipped double Q)
  Q_i     <- (Q_i(s, a) - y)^2 for both critics
Every `actor_update_every`-th step (delayed policy update):
  pi      <- -lambda Q_1(s, pi(s)) + (pi(s) - a)^2,
             lambda = alpha / mean_batch |Q_1(s, pi(s))|      (Eq. 3, 4; alpha: `q_weight`)
             (Eq. 4 writes |Q(s_i, a_i)|; the authors' code, followed here,
             takes it at a = pi(s_i), on the first critic)
  pi^-, Q^- <- Polyak averages with rate 1 - polyak (tau)

Bootstrapping needs only a real next state s': the TD loss runs over the rows
where `bellman_target` says it exists (a time-limit row whose s' the data gives
bootstraps; one whose s' was derived from the episode structure does not).
The actor's loss needs only (s, a) and uses every row.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp

from onemode.algos.base import Phase
from onemode.algos.config import AlgoConfig, check
from onemode.algos.critics import bellman_target, q_value, smoothed, td_metrics, td_update
from onemode.algos.deterministic import (TD3State, act_by_actor, actor_policy_mlp,
                                         init_td3_state, td3_step)


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """TD3+BC hyper-parameters.

    Defaults are the paper's (Fujimoto and Gu, 2021, hyper-parameter table of
    the appendix: TD3's own hyper-parameters unchanged, plus alpha = 2.5, one
    value for every D4RL task), which are also those of the authors' code
    (github.com/sfujim/TD3_BC): two hidden layers of 256 for actor and
    critics, Adam with learning rate 3e-4, batch 256, discount 0.99, target
    rate tau = 0.005 (polyak = 1 - tau), target noise 0.2 clipped at 0.5,
    actor and targets updated every 2nd critic update, twin critics.

    `q_weight` is the paper's alpha (Eq. 4), the weight of the Q-term against
    the behaviour-cloning term.
    """

    hidden: tuple[int, ...] = (256, 256)
    actor_hidden: tuple[int, ...] = ()    # the actor's own widths; empty: `hidden`
    batch_size: int = 256
    discount: float = 0.99
    q_weight: float = 2.5         # alpha, Eq. 4: lambda = alpha / mean|Q|
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    n_critics: int = 2            # clipped double Q: the minimum of the target critics
    polyak: float = 0.995         # 1 - tau, tau = 0.005
    target_update_every: int = 2
    target_noise: float = 0.2     # sigma of the target smoothing noise
    target_noise_clip: float = 0.5   # c
    actor_update_every: int = 2   # delayed actor updates

    def validate(self):
        check(self.q_weight > 0, f"q_weight (alpha) must be > 0, got {self.q_weight}")


State = TD3State  # pi, pi^-, Q_1 and Q_2, their targets, the update count


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    return init_td3_state(key, obs_dim, act_dim, config)


# ------------------------------------------------------------------ pieces
def bc_weight(q, q_weight: float):
    """Eq. 4: lambda = alpha / mean |Q| over the minibatch, held constant in the gradient."""
    return jax.lax.stop_gradient(q_weight / jnp.mean(jnp.abs(q)))


def actor_objective(q, policy_actions, data_actions, q_weight: float):
    """Eq. 3, as a loss: -lambda mean Q(s, pi(s)) + mean (pi(s) - a)^2.

    The squared error is averaged over action dimensions, as in the authors' code.
    """
    return (-bc_weight(q, q_weight) * jnp.mean(q)
            + jnp.mean((policy_actions - data_actions) ** 2))


def update_critic(state: State, batch, key, config: Config):
    """Clipped double-Q TD with target policy smoothing (TD3), over rows with a real s'."""
    next_actions = smoothed(state.actor.apply_fn(state.actor_target, batch.next_observations),
                            key, config.target_noise, config.target_noise_clip)
    next_q = q_value(state.critic, state.critic_target, batch.next_observations, next_actions)
    target = bellman_target(batch, next_q, config.discount)
    critic, loss = td_update(state.critic, batch, target)
    return critic, td_metrics(target, loss)


def update_actor(state: State, batch, do_update, config: Config):
    """Eq. 3-4 on the first critic, applied only when `do_update` (the delayed update)."""

    def loss_fn(params):
        policy_actions = state.actor.apply_fn(params, batch.observations)
        q = state.critic.apply_fn(state.critic.params, batch.observations, policy_actions)[0]
        return actor_objective(q, policy_actions, batch.actions, config.q_weight), q

    (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.actor.params)
    actor = jax.lax.cond(do_update, lambda: state.actor.apply_gradients(grads=grads),
                         lambda: state.actor)
    return actor, {"actor_loss": loss, "lambda": bc_weight(q, config.q_weight), "q_pi": q.mean()}


def update(state: State, batch, key, config: Config):
    """One TD3+BC step: TD3's schedule (`deterministic.td3_step`) with Eq. 3-4's actor."""
    return td3_step(state, batch, key, config, update_critic, update_actor)


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


act = act_by_actor               # pi(s), clipped
policy_mlp = actor_policy_mlp    # export: tanh(MLP(s))
