"""SAC's actor and entropy temperature (Haarnoja et al., 2018), shared by CQL and online SAC.

  a~      = tanh(mu(s) + sigma(s) eps),  eps ~ N(0, I)          (reparameterised)
  pi      <- E_s[ alpha_H log pi(a~|s) - min_i Q_i(s, a~) ]
  alpha_H <- -log alpha_H (log pi(a~|s) + H_target)             (H_target = -act_dim)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from onemode.algos.critics import q_value
from onemode.nets import tanh_log_prob


def sample_tanh_actions(actor: TrainState, params, observations, key, sample_shape=()):
    """a ~ pi(.|s), reparameterised, with log pi(a|s): shapes sample_shape + batch."""
    mean, log_std = actor.apply_fn(params, observations)
    pre_tanh = mean + jnp.exp(log_std) * jax.random.normal(key, sample_shape + mean.shape)
    return jnp.tanh(pre_tanh), tanh_log_prob(pre_tanh, mean, log_std)


def make_temperature(init_log_temp: float, lr: float) -> TrainState:
    """log alpha_H, a scalar with its own Adam."""
    return TrainState.create(apply_fn=None, params={"log_temp": jnp.asarray(init_log_temp)},
                             tx=optax.adam(lr))


def soft_actor_step(actor: TrainState, critic: TrainState, log_temp: TrainState,
                    observations, key):
    """SAC's policy step against `critic`, then its temperature step towards -act_dim."""
    entropy_temp = jnp.exp(log_temp.params["log_temp"])

    def loss_fn(params):
        actions, log_pi = sample_tanh_actions(actor, params, observations, key)
        q = q_value(critic, critic.params, observations, actions)
        return jnp.mean(entropy_temp * log_pi - q), (log_pi, actions.shape[-1])

    (loss, (log_pi, act_dim)), grads = jax.value_and_grad(loss_fn, has_aux=True)(actor.params)
    actor = actor.apply_gradients(grads=grads)

    slack = jax.lax.stop_gradient(log_pi - act_dim)     # log pi + H_target
    temp_grad = jax.grad(lambda p: -jnp.mean(p["log_temp"] * slack))(log_temp.params)
    log_temp = log_temp.apply_gradients(grads=temp_grad)
    metrics = {"actor_loss": loss, "entropy": -log_pi.mean(), "entropy_temp": entropy_temp}
    return actor, log_temp, metrics
