"""TD3+BC, IQL, CQL, DMPO and LAPO: their configs and loss pieces against closed forms
(their short runs that learn: test_learning.py)."""

from __future__ import annotations

import math
from functools import partial
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onemode.algos import cql, dmpo, iql, lapo, td3bc
from onemode.algos.common import exp_clip_weight
from onemode.errors import ConfigError
from onemode.nets import tanh_log_prob

MODULES = {"td3bc": td3bc, "iql": iql, "cql": cql, "dmpo": dmpo, "lapo": lapo}


# ------------------------------------------------------------------- config
@pytest.mark.parametrize("name, values, message", [
    ("td3bc", {"q_weight": 0.0}, "q_weight"),
    ("td3bc", {"actor_update_every": 0}, "actor_update_every"),
    ("iql", {"expectile": 1.0}, "expectile"),
    ("iql", {"expectile": 0.0}, "expectile"),
    ("cql", {"conservative_weight": -1.0}, "conservative_weight"),
    ("cql", {"n_actions": 0}, "n_actions"),
    ("lapo", {"positive_weight": 0.4}, "positive_weight"),
    ("lapo", {"latent_bound": 0.0}, "latent_bound"),
])
def test_invalid_config_is_refused_with_the_option_named(name, values, message):
    with pytest.raises(ConfigError, match=message):
        MODULES[name].Config.from_dict(values)


def test_iql_beta_is_a_temperature_the_papers_inverse_three():
    """One meaning of `beta` everywhere: exp(A / beta). IQL's paper writes exp(3 A)."""
    assert iql.Config().beta == pytest.approx(1 / 3)
    advantage = jnp.array([0.5, -0.2])
    np.testing.assert_allclose(np.asarray(exp_clip_weight(advantage, iql.Config().beta, 100.0)),
                               np.exp(3 * np.asarray(advantage)), rtol=1e-6)


# ------------------------------------------------------------ closed forms
def test_iql_expectile_loss_is_the_asymmetric_square():
    """Eq. 5: L_2^tau(u) = |tau - 1(u < 0)| u^2."""
    u = jnp.array([2.0, -2.0, 0.5, -1.0, 0.0])
    np.testing.assert_allclose(np.asarray(iql.expectile_loss(u, 0.7)),
                               [0.7 * 4, 0.3 * 4, 0.7 * 0.25, 0.3 * 1.0, 0.0], rtol=1e-6)
    # its minimiser over a constant v is the tau-expectile: for samples {0, 1},
    # tau (1 - v) = (1 - tau) v, so v = tau
    samples = jnp.array([0.0, 1.0])
    grad = jax.grad(lambda v: iql.expectile_loss(samples - v, 0.7).mean())
    assert abs(float(grad(0.7))) < 1e-6
    assert float(grad(0.6)) < 0 < float(grad(0.8))


def test_td3bc_lambda_normalises_the_q_term():
    """Eq. 4: lambda = alpha / mean|Q|, so the actor's loss ignores the scale of Q."""
    q = jnp.array([1.0, -3.0, 4.0, 2.0])  # mean |Q| = 2.5
    assert float(td3bc.bc_weight(q, 2.5)) == pytest.approx(1.0)
    pi, a = jnp.array([[0.5, -0.5]] * 4), jnp.array([[0.0, 0.0]] * 4)
    loss = td3bc.actor_objective(q, pi, a, 2.5)
    assert float(loss) == pytest.approx(-1.0 * 1.0 + 0.25)   # -lambda mean Q + mean (pi - a)^2
    assert float(td3bc.actor_objective(100.0 * q, pi, a, 2.5)) == pytest.approx(float(loss))
    # lambda is a constant of the gradient: d loss / d Q = -lambda / N
    np.testing.assert_allclose(np.asarray(jax.grad(td3bc.actor_objective)(q, pi, a, 2.5)),
                               np.full(4, -1.0 / 4), rtol=1e-6)


def test_cql_penalty_of_a_constant_q_is_the_log_volume_of_the_action_space():
    """log of the integral of exp(c) over [-1, 1]^A is c + A log 2; minus Q(s, a_data) = c."""
    n_critics, k, batch, act_dim = 2, 12, 5, 3
    q_sampled = jnp.full((n_critics, k, batch), 7.0)
    log_density = jnp.full((k, batch), -act_dim * math.log(2.0))  # uniform proposals
    penalty = cql.conservative_penalty(q_sampled, log_density, jnp.full((n_critics, batch), 7.0), k)
    np.testing.assert_allclose(np.asarray(penalty), act_dim * math.log(2.0), rtol=1e-6)


def test_cql_tanh_log_prob_is_the_change_of_variables():
    """a = tanh(u), u ~ N(m, s^2): p(a) = N(atanh a; m, s) / (1 - a^2)."""
    m, s = 0.3, 0.7
    u = jnp.array([[-2.5], [-0.4], [0.0], [1.1], [3.0]])
    a = np.tanh(np.asarray(u[:, 0], np.float64))
    expected = (-0.5 * ((np.arctanh(a) - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
                - np.log(1 - a**2))
    got = tanh_log_prob(u, jnp.full_like(u, m), jnp.full_like(u, math.log(s)))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4)


def test_td3bc_actor_step_climbs_q_from_the_data_action():
    """Eq. 3: where pi(s) is the data's action the BC term is flat; the step follows +dQ/da."""
    config = td3bc.Config(hidden=(8,), actor_lr=1e-2)
    state = td3bc.init(jax.random.PRNGKey(0), 1, 1, config)
    observations = jnp.linspace(-1.0, 1.0, 16)[:, None]
    pi = state.actor.apply_fn(state.actor.params, observations)

    def q(params, obs, actions):  # two critics, Q_i(s, a) = 3 a + 1
        return jnp.stack([3.0 * actions[..., 0] + 1.0] * 2)

    state = state._replace(critic=state.critic.replace(apply_fn=q))
    batch = SimpleNamespace(observations=observations, actions=pi)
    actor, metrics = jax.jit(lambda: td3bc.update_actor(state, batch, True, config))()
    moved = actor.apply_fn(actor.params, observations) - pi
    assert float(moved.mean()) > 0, moved
    # lambda = alpha / mean|3 pi + 1|, alpha = q_weight = 2.5
    assert float(metrics["lambda"]) == pytest.approx(2.5 / float(jnp.abs(3 * pi + 1).mean()),
                                                     rel=1e-5)


def test_td3bc_updates_the_actor_only_every_actor_update_every_steps():
    from onemode.data import Dataset, to_device
    dataset = Dataset.from_arrays({
        "observations": np.linspace(-1, 1, 8, dtype=np.float32)[:, None],
        "actions": np.full((8, 1), 0.5), "rewards": np.ones(8),
        "terminals": np.zeros(8), "timeouts": [0, 0, 0, 1, 0, 0, 0, 1]})
    batch = to_device(dataset)
    config = td3bc.Config(hidden=(8,), actor_update_every=3)
    state = td3bc.init(jax.random.PRNGKey(0), 1, 1, config)
    update = jax.jit(partial(td3bc.update, config=config))
    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    changed = []
    for i in range(6):
        new, _ = update(state, batch, jax.random.PRNGKey(i))
        changed.append(not same(new.actor.params, state.actor.params))
        assert not same(new.critic.params, state.critic.params)  # critics: every step
        state = new
    assert changed == [False, False, True, False, False, True]


def test_dmpo_acts_with_the_subpolicy_of_highest_q_and_weights_by_normalised_advantage():
    config = dmpo.Config(hidden=(16, 16), n_subpolicies=3)
    state = dmpo.init(jax.random.PRNGKey(0), 2, 2, config)
    observations = jax.random.normal(jax.random.PRNGKey(1), (5, 2))
    candidates = dmpo.every_subpolicy(state.actor.params["policies"], observations, config, 2)
    values = dmpo.subpolicy_values(state.critic, state.critic.params, observations, candidates)
    best = np.asarray(values).argmax(axis=0)
    np.testing.assert_allclose(dmpo.act(state, observations, config),
                               np.asarray(candidates)[best, np.arange(5)], atol=1e-6)

    advantage = jnp.array([-2.0, 0.0, 2.0])
    weights = np.asarray(dmpo.advantage_weights(advantage, config))
    raw = np.exp((np.array([-4.0, -2.0, 0.0]) / 4.0) / config.beta)   # (A - max A) / spread
    np.testing.assert_allclose(weights, raw / raw.mean(), rtol=1e-5)


def test_lapo_weights_by_the_advantage_sign_and_acts_through_the_target_decoder():
    config = lapo.Config(hidden=(16, 16))
    assert config.latent_dim == 0
    state = lapo.init(jax.random.PRNGKey(0), 3, 2, config)
    assert state.latent_policy.apply_fn(state.latent_policy.params, jnp.zeros((1, 3))).shape \
        == (1, 4)   # twice the action's dimensions
    np.testing.assert_allclose(np.asarray(lapo.sign_weights(jnp.array([-1.0, 0.0, 0.5]), config)),
                               [0.1, 0.1, 0.9], rtol=1e-6)

    # the online decoder moved away from the target: acting decodes with the target
    moved = jax.tree.map(lambda p: p + 0.5, state.vae.params)
    state = state._replace(vae=state.vae.replace(params=moved))
    observations = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    latents = config.latent_bound * state.latent_policy.apply_fn(state.latent_policy.params,
                                                                 observations)
    assert float(jnp.abs(latents).max()) <= config.latent_bound
    expected = state.vae.apply_fn(state.vae_target, latents, observations, method="decode")[0]
    np.testing.assert_allclose(lapo.act(state, observations, config),
                               np.clip(np.asarray(expected), -1, 1), atol=1e-6)
    online = state.vae.apply_fn(moved, latents, observations, method="decode")[0]
    assert not np.allclose(np.asarray(online), np.asarray(expected))


def test_dmpo_information_regulariser_makes_the_subpolicies_tell_apart():
    """With `info_regularizer`, q_info learns to name the sub-policy from its action, and the
    sub-policies spread apart for it: -log q_info(z | s, pi(s, z)) falls well below log K."""
    from onemode.data import Dataset, to_device
    rng = np.random.default_rng(0)
    n = 512
    dataset = Dataset.from_arrays({
        "observations": rng.normal(size=(n, 2)).astype(np.float32),
        "actions": rng.uniform(-1, 1, (n, 2)), "rewards": rng.normal(size=n),
        "terminals": np.zeros(n), "timeouts": np.arange(n) % 64 == 63})
    data = to_device(dataset)
    k = 4
    config = dmpo.Config(hidden=(32, 32), n_subpolicies=k, batch_size=128, info_regularizer=True,
                         info_lr=3e-3)
    state = dmpo.init(jax.random.PRNGKey(0), 2, 2, config)
    assert dmpo.Config().info_regularizer is False and dmpo.Config().info_lr == 5e-7

    @jax.jit
    def steps(state, key):
        def one(state, key):
            k_rows, k_update = jax.random.split(key)
            rows = jax.random.randint(k_rows, (config.batch_size,), 0, n)
            return dmpo.update(state, jax.tree.map(lambda x: x[rows], data), k_update, config)
        return jax.lax.scan(one, state, jax.random.split(key, 200))

    before = state.info.posterior
    state, metrics = steps(state, jax.random.PRNGKey(1))
    first = float(metrics["info_loss"][:10].mean())
    assert first == pytest.approx(math.log(k), abs=0.3)
    assert float(metrics["info_loss"][-20:].mean()) < 0.5 * math.log(k), metrics["info_loss"]
    assert not np.allclose(jax.tree.leaves(before)[0], jax.tree.leaves(state.info.posterior)[0])
