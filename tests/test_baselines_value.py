"""TD3+BC, IQL, CQL, DMPO and LAPO: their configs, loss pieces against closed forms, short runs that learn."""

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
from onemode.algos.critics import q_value
from onemode.targets import data_spec
from onemode.nets import tanh_log_prob
from onemode.policy import load_run
from onemode.runs import RunDir, TrainConfig
from onemode.train import train

MODULES = {"td3bc": td3bc, "iql": iql, "cql": cql, "dmpo": dmpo, "lapo": lapo}

# Small networks and a few hundred to a few thousand updates: enough on the
# unimodal expert data, within about 40 s per algorithm on two CPU cores.
# - TD3+BC: with the paper's alpha = 2.5 (`q_weight`) the Q-term dominates until Q has
#   formed its peak at the goal (several thousand updates here: the policy first runs
#   past the goal); alpha = 1.0 and learning rates 1e-3 learn in ~1000.
# - CQL: n_actions = 4 (not 10) and batch 128 keep the penalty's 3 x n_actions
#   extra critic evaluations cheap; actor_lr 3e-4 instead of the paper's 1e-4.
LEARNING = {
    "td3bc": (dict(hidden=(64, 64), q_weight=1.0, actor_lr=1e-3, critic_lr=1e-3), 2000),
    "iql": (dict(hidden=(64, 64)), 1000),
    "cql": (dict(hidden=(64, 64), n_actions=4, batch_size=128, actor_lr=3e-4), 1200),
    "dmpo": (dict(hidden=(64, 64), n_subpolicies=4, actor_lr=1e-3, critic_lr=1e-3), 2000),
    "lapo": (dict(hidden=(64, 64), batch_size=256, vae_lr=1e-3, actor_lr=1e-3, critic_lr=1e-3,
                  value_lr=1e-3), 2000),
}


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


# -------------------------------------------------------------- learning
def state_value(name: str, state, observations, config):
    """The critic's value of a state under the learned policy (IQL: V(s))."""
    if name == "iql":
        return state.value.apply_fn(state.value.params, observations)
    actions = MODULES[name].act(state, observations, config)
    return q_value(state.critic, state.critic.params, observations, actions)


@pytest.fixture(scope="module", params=sorted(LEARNING))
def expert_run(request, tmp_path_factory):
    name = request.param
    values, steps = LEARNING[name]
    config = MODULES[name].Config(**values)
    train_config = TrainConfig(steps=steps, seeds=(0, 1), log_every=steps, eval_every=steps,
                               eval_episodes=20, checkpoint_every=steps)
    result = train(name, config, train_config, data_spec(task="multigoal-expert", size=10000),
                   tmp_path_factory.mktemp("runs") / name, show_progress=False)
    return name, config, result


def test_reaches_the_expert_score_on_unimodal_expert_data(expert_run):
    """multigoal-expert: expert 100, the noisy data itself about 98."""
    name, _, result = expert_run
    scores = result.final_eval.scores.mean(axis=1)
    assert scores.shape == (2,)
    assert np.all(scores >= 90), (name, scores)


def test_the_critic_values_the_rewarded_goal_above_the_start(expert_run):
    """Reward flows back through the TD targets: V(goal (1, 1)) well above V(start (0, 0))."""
    name, config, result = expert_run
    states = load_run(result.run_dir).stats.normalize(np.array([[0.0, 0.0], [1.0, 1.0]],
                                                                np.float32))
    for seed in range(2):
        state = jax.tree.map(lambda x: x[seed], result.state)
        start, goal = np.asarray(state_value(name, state, jnp.asarray(states), config))
        assert goal > start + 3.0, (name, seed, start, goal)
    records = [r for r in RunDir(result.run_dir).read_metrics() if r["phase"] == "main"]
    assert np.all(np.isfinite(records[-1]["td_loss"]))


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
