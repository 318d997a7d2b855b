"""FQL: Flow Q-Learning (Park, Li and Levine, 2025).

Three networks learn side by side from one minibatch:

  a flow policy   v(s, x_t, t)  a velocity field that carries Gaussian noise x_0 ~ N(0, I)
                                to the data's action x_1 = a along the straight path
                                x_t = (1 - t) x_0 + t x_1 (flow matching; behaviour cloning,
                                every mode of the data kept);
  a one-step policy mu(s, z)    one network pass from noise z to an action, trained to climb
                                Q while it stays near what the flow makes of the same z;
  twin critics    Q_1, Q_2      TD onto the one-step policy's next action, a Polyak target.

Every step (one "main" phase), from the state before the step:
  flow:    L_flow(v)  = E_{s,a ~ D, x_0 ~ N(0,I), t ~ U[0,1]} || v(s, x_t, t) - (x_1 - x_0) ||^2
  flow(s, z):           x <- x + v(s, x, k / K) / K for k = 0 .. K-1 from x = z, clipped
                        to [-1, 1] (Euler, K = `flow_steps`; a `lax.fori_loop` in the jitted
                        update; a target: no gradient flows through it)
  actor:   L_mu(mu)   = -lambda E_s[ Qbar(s, clip(mu(s, z))) ]
                        + alpha E_{s, z ~ N(0,I)} || mu(s, z) - flow(s, z) ||^2
                        Qbar = (Q_1 + Q_2) / 2; lambda = 1, or 1 / E|Qbar| (held constant)
                        with `normalize_q_loss`; alpha: `actor_bc_weight`
  critic:  y = r + gamma (1 - d) agg_i Q_i^-(s', clip(mu(s', z'))),  z' ~ N(0, I)
           agg: the mean of the two (`q_aggregation="mean"`) or their minimum ("min",
           clipped double Q); both critics regress onto y
  Q^-     <- Polyak average with rate 1 - polyak (tau)

Bootstrapping needs only a real next state s': the TD loss runs over the rows where
`bellman_target` says it exists. The flow and actor losses need only (s, a) and use every
row. (The authors' code sums one joint loss under one Adam; the three networks' gradients
are disjoint, so three Adams at the same rate take the same steps, up to Adam's epsilon:
onemode's TD loss sums the two critics' mean squared errors where theirs averages them.)

Acting is deterministic: mu(s, 0), the one-step policy at the noise's mode, so that the
contract's `act` needs no key, a saved run acts bit-identically and the policy exports as
one MLP. The paper's agent draws z ~ N(0, I) at every step; `experiments/2026-12-07-fql-alpha/`
measures z = 0 against it (ahead on multigoal, behind on fetch-reach at the default alpha).
`sample_flow_actions` draws from the flow policy alone, `sample_actions` from the one-step
policy with sampled z (introspection; training never calls them).
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import make_state, polyak
from onemode.algos.config import AlgoConfig, check, check_choice
from onemode.algos.critics import bellman_target, td_metrics, td_update
from onemode.nets import MLP, QEnsemble, mlp_output_size, mlp_policy

N_CRITICS = 2   # twin critics, as the paper


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """FQL hyper-parameters.

    Defaults are those of the authors' code (github.com/seohongpark/fql, agents/fql.py,
    `get_config`, commit 719d044): four hidden layers of 512 for every network
    (`actor_hidden_dims`, `value_hidden_dims`), GELU throughout, LayerNorm on the critics
    only (`layer_norm=True`, `actor_layer_norm=False`), Adam at 3e-4 (`lr`), batch 256,
    discount 0.99, tau = 0.005 every step, 10 Euler steps (`flow_steps`), the target's
    two critics averaged (`q_agg="mean"`), no Q normalisation (`normalize_q_loss=False`),
    alpha = 10 (`alpha`, "need to be tuned for each environment"). Their per-task settings
    (alpha, and discount 0.995 or q_agg "min" on some tasks) are the preset `fql/paper`
    (`src/onemode/presets/fql-paper.toml`). Where they publish none (onemode's tasks,
    locomotion, a user's file), a sweep on multigoal and fetch-reach-4goal kept alpha = 10
    unnormalised: best on multigoal, level with the best normalised alphas (their README's
    advice for new environments) on fetch-reach (`experiments/2026-12-07-fql-alpha/`).

    Where onemode's networks differ from theirs: the layers start from flax's default
    initialiser (LeCun normal; theirs Glorot uniform).

    `actor_bc_weight` is the paper's alpha, the weight of the one-step policy's squared
    distance to the flow's action; `actor_hidden` sizes both policies (flow and one-step),
    `hidden` the critics. `q_aggregation` combines the two target critics; the actor's
    Q-term always takes their mean, as the authors' code does.
    """

    hidden: tuple[int, ...] = (512, 512, 512, 512)
    actor_hidden: tuple[int, ...] = ()    # both policies' widths; empty: `hidden`
    batch_size: int = 256
    discount: float = 0.99
    actor_bc_weight: float = 10.0   # alpha: weight of ||mu(s, z) - flow(s, z)||^2
    flow_steps: int = 10            # K, Euler steps of flow(s, z)
    q_aggregation: str = "mean"     # the target's two critics: "mean" or "min"
    normalize_q_loss: bool = False  # lambda = 1 / mean|Q| on the actor's Q-term
    critic_layer_norm: bool = True
    flow_lr: float = 3e-4
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    polyak: float = 0.995           # 1 - tau, tau = 0.005
    target_update_every: int = 1

    def validate(self):
        check(self.flow_steps >= 1,
              f"flow_steps must be >= 1 (Euler steps of the flow policy), got {self.flow_steps}")
        check_choice(self, "q_aggregation", ("mean", "min"))
        check(isinstance(self.normalize_q_loss, bool),
              f"normalize_q_loss must be true or false, got {self.normalize_q_loss!r}")


class State(NamedTuple):
    flow: TrainState       # v(s, x_t, t)
    actor: TrainState      # mu(s, z)
    critic: TrainState     # Q_1, Q_2
    critic_target: dict    # Q_1^-, Q_2^-
    step: jax.Array        # updates done


class VelocityField(nn.Module):
    """v(s, x_t, t): (..., obs), (..., act), (..., 1) -> (..., act)."""

    hidden: Sequence[int]
    act_dim: int

    @nn.compact
    def __call__(self, observations, actions, times):
        x = jnp.concatenate([observations, actions, times], axis=-1)
        return MLP(self.hidden, self.act_dim, activation=nn.gelu)(x)


class OneStepPolicy(nn.Module):
    """mu(s, z): (..., obs), (..., act) -> (..., act), unbounded (clipped where used)."""

    hidden: Sequence[int]
    act_dim: int

    @nn.compact
    def __call__(self, observations, noise):
        x = jnp.concatenate([observations, noise], axis=-1)
        return MLP(self.hidden, self.act_dim, activation=nn.gelu)(x)


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act, t = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim)), jnp.zeros((1, 1))
    k_flow, k_actor, k_critic = jax.random.split(key, 3)
    actor_hidden = config.actor_hidden or config.hidden
    flow = make_state(VelocityField(actor_hidden, act_dim), k_flow, config.flow_lr, obs, act, t)
    actor = make_state(OneStepPolicy(actor_hidden, act_dim), k_actor, config.actor_lr, obs, act)
    critic = make_state(QEnsemble(config.hidden, N_CRITICS, layer_norm=config.critic_layer_norm,
                                  activation=nn.gelu),
                        k_critic, config.critic_lr, obs, act)
    return State(flow, actor, critic, critic.params, jnp.zeros((), jnp.int32))


# ------------------------------------------------------------------ pieces
def straight_path(noise, actions, times):
    """x_t = (1 - t) x_0 + t x_1 and the velocity that moves along it, d x_t / dt = x_1 - x_0."""
    return (1.0 - times) * noise + times * actions, actions - noise


def euler(velocity: Callable, noise, steps: int):
    """x_K from x_0 = noise by x_{k+1} = x_k + velocity(x_k, t_k) / K, t_k = k / K.

    `velocity(x, t)` takes t of shape x.shape[:-1] + (1,). One `lax.fori_loop` of K steps,
    unrolled when compiled: as fast as the loop (98 against 95 updates/s, 4 seeds at
    256-256 on a 2-core CPU), and XLA's cost analysis, which counts a loop's body once,
    then counts all K steps (benchmarks/lom_speed.py --algos).
    """
    def step(k, x):
        t = jnp.full(x.shape[:-1] + (1,), k, x.dtype) / steps
        return x + velocity(x, t) / steps

    return jax.lax.fori_loop(0, steps, step, noise, unroll=True)


def flow_actions(flow: TrainState, params, observations, noise, steps: int):
    """flow(s, z): the flow policy's action from noise z, Euler-integrated, in [-1, 1]."""
    def velocity(x, t):
        return flow.apply_fn(params, observations, x, t)
    return jnp.clip(euler(velocity, noise, steps), -1.0, 1.0)


def flow_matching_loss(flow: TrainState, params, batch, key):
    """L_flow: mean || v(s, x_t, t) - (x_1 - x_0) ||^2 over rows and action dimensions."""
    k_noise, k_time = jax.random.split(key)
    noise = jax.random.normal(k_noise, batch.actions.shape)
    times = jax.random.uniform(k_time, batch.actions.shape[:-1] + (1,))
    x_t, velocity = straight_path(noise, batch.actions, times)
    return jnp.mean((flow.apply_fn(params, batch.observations, x_t, times) - velocity) ** 2)


def aggregate(qs, how: str):
    """The two critics' values (2, ...) combined: their mean or their minimum."""
    return qs.min(axis=0) if how == "min" else qs.mean(axis=0)


def update_critic(state: State, batch, key, config: Config):
    """TD onto y = r + gamma (1 - d) agg Q^-(s', clip(mu(s', z'))), over rows with a real s'."""
    noise = jax.random.normal(key, batch.actions.shape)
    next_actions = jnp.clip(state.actor.apply_fn(state.actor.params, batch.next_observations,
                                                 noise), -1.0, 1.0)
    next_qs = state.critic.apply_fn(state.critic_target, batch.next_observations, next_actions)
    target = bellman_target(batch, aggregate(next_qs, config.q_aggregation), config.discount)
    critic, loss = td_update(state.critic, batch, target)
    return critic, td_metrics(target, loss)


def update_flow(state: State, batch, key):
    """One step of flow matching (behaviour cloning of every mode)."""
    loss, grads = jax.value_and_grad(partial(flow_matching_loss, state.flow))(
        state.flow.params, batch, key)
    return state.flow.apply_gradients(grads=grads), {"flow_loss": loss}


def update_actor(state: State, batch, key, config: Config):
    """L_mu: -lambda Qbar(s, clip(mu(s, z))) + alpha ||mu(s, z) - flow(s, z)||^2."""
    noise = jax.random.normal(key, batch.actions.shape)
    target = jax.lax.stop_gradient(flow_actions(state.flow, state.flow.params,
                                                batch.observations, noise, config.flow_steps))

    def loss_fn(params):
        actions = state.actor.apply_fn(params, batch.observations, noise)
        distill = jnp.mean((actions - target) ** 2)
        q = state.critic.apply_fn(state.critic.params, batch.observations,
                                  jnp.clip(actions, -1.0, 1.0)).mean(axis=0)
        scale = (jax.lax.stop_gradient(1.0 / jnp.mean(jnp.abs(q))) if config.normalize_q_loss
                 else 1.0)
        q_loss = -scale * jnp.mean(q)
        return q_loss + config.actor_bc_weight * distill, (distill, q_loss, q)

    (loss, (distill, q_loss, q)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.actor.params)
    return state.actor.apply_gradients(grads=grads), {
        "actor_loss": loss, "distill_loss": distill, "q_loss": q_loss, "q_pi": q.mean()}


def update(state: State, batch, key, config: Config):
    """One FQL step: the critics, the flow and the one-step policy, each from the state before
    the step (as the authors' joint loss), then the critics' Polyak target."""
    k_critic, k_flow, k_actor = jax.random.split(key, 3)
    step = state.step + 1
    critic, critic_metrics = update_critic(state, batch, k_critic, config)
    flow, flow_metrics = update_flow(state, batch, k_flow)
    actor, actor_metrics = update_actor(state, batch, k_actor, config)
    critic_target = polyak(step, config.target_update_every, critic.params,
                           state.critic_target, config.polyak)
    return (State(flow, actor, critic, critic_target, step),
            {**critic_metrics, **flow_metrics, **actor_metrics})


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


def act(state: State, observations, config: Config):
    """mu(s, 0): the one-step policy at the noise's mode (normalised observations in, actions
    in [-1, 1] out)."""
    del config
    noise = jnp.zeros(observations.shape[:-1] + (state_act_dim(state),), observations.dtype)
    return jnp.clip(state.actor.apply_fn(state.actor.params, observations, noise), -1.0, 1.0)


def state_act_dim(state: State) -> int:
    """The action dimension, read off the one-step policy's last layer."""
    return mlp_output_size(state.actor.params["params"]["MLP_0"])


def sample_actions(state: State, observations, key, n_samples: int, config: Config):
    """n_samples draws of clip(mu(s, z)), z ~ N(0, I), per state: (n_samples, B, A)."""
    del config
    shape = (n_samples,) + observations.shape[:-1] + (state_act_dim(state),)
    noise = jax.random.normal(key, shape)
    states = jnp.broadcast_to(observations, shape[:-1] + observations.shape[-1:])
    return jnp.clip(state.actor.apply_fn(state.actor.params, states, noise), -1.0, 1.0)


def sample_flow_actions(state: State, observations, key, n_samples: int, config: Config):
    """n_samples draws of the flow policy alone, flow(s, z), z ~ N(0, I): (n_samples, B, A)."""
    shape = (n_samples,) + observations.shape[:-1] + (state_act_dim(state),)
    states = jnp.broadcast_to(observations, shape[:-1] + observations.shape[-1:])
    return flow_actions(state.flow, state.flow.params, states, jax.random.normal(key, shape),
                        config.flow_steps)


def policy_mlp(state: State, config: Config):
    """`act` as layers, for export: clip(MLP([s, 0])), GELU between the layers; the noise's
    rows of the first kernel drop out at z = 0."""
    del config
    params = state.actor.params["params"]["MLP_0"]
    return mlp_policy(params, "clip",
                      input_rows=params["Dense_0"]["kernel"].shape[0] - state_act_dim(state),
                      activation="gelu")
