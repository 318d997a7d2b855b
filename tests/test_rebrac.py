"""ReBRAC: its options, its actor loss and critic target against closed forms, the penalty
at a row without a next action, and the authors' per-dataset betas as a preset (its short
runs that learn: test_learning.py; the contract: test_contract.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onemode.algos import rebrac
from onemode.data import Transitions
from onemode.errors import ConfigError
from onemode.presets import configure

SMALL = dict(hidden=(8, 8), batch_size=4)


def _init(config):
    """A state for 3-dimensional observations and 2-dimensional actions (init jitted: quicker
    than op by op)."""
    return jax.jit(lambda key: rebrac.init(key, 3, 2, config))(jax.random.PRNGKey(0))


# ------------------------------------------------------------------- config
@pytest.mark.parametrize("values, option", [
    ({"actor_bc_weight": -0.1}, "actor_bc_weight"),
    ({"critic_bc_weight": -1.0}, "critic_bc_weight"),
    ({"critic_layer_norm": "sometimes"}, "critic_layer_norm"),
    ({"normalize_q": "maybe"}, "normalize_q"),
    ({"actor_update_every": 0}, "actor_update_every"),
    ({"target_noise": -0.2}, "target_noise"),
    ({"n_critics": 0}, "n_critics"),
    ({"polyak": 1.0}, "polyak"),
])
def test_invalid_settings_are_refused_in_one_line_naming_the_option(values, option):
    with pytest.raises(ConfigError, match=option) as refusal:
        rebrac.Config.from_dict(values)
    assert "\n" not in str(refusal.value)


def test_defaults_are_the_authors_d4rl_settings():
    config = rebrac.Config()
    assert config.hidden == (256, 256, 256) and config.actor_hidden == ()
    assert (config.batch_size, config.actor_lr, config.critic_lr) == (1024, 1e-3, 1e-3)
    assert config.critic_layer_norm and config.normalize_q
    assert (config.polyak, config.target_noise, config.target_noise_clip) == (0.995, 0.2, 0.5)
    assert (config.actor_update_every, config.target_update_every, config.n_critics) == (2, 2, 2)
    # penalty weights, both allowed to be 0 (walker2d-random's beta2 is)
    assert rebrac.Config(actor_bc_weight=0.0, critic_bc_weight=0.0).critic_bc_weight == 0.0


# ------------------------------------------------------------ the actor
def test_actor_loss_is_the_penalised_normalised_q():
    """mean [beta1 ||pi(s) - a||^2 - Q / mean|Q|], the distance summed over dimensions."""
    q = jnp.array([1.0, -3.0, 4.0, 2.0])                  # mean |Q| = 2.5
    pi = jnp.array([[0.5, -0.5]] * 4)
    a = jnp.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.5], [0.5, -0.5]])
    distance = np.array([0.5, 0.5, 0.25 + 1.0, 0.0])      # summed over the 2 dimensions
    beta1 = 0.3
    expected = np.mean(beta1 * distance - np.asarray(q) / 2.5)
    loss = rebrac.actor_objective(q, pi, a, beta1)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    # the Q-term ignores the scale of Q ...
    scaled = rebrac.actor_objective(100.0 * q, pi, a, beta1)
    assert float(scaled) == pytest.approx(float(loss), rel=1e-6)
    # ... because lambda is a constant of the gradient: d loss / d Q = -lambda / N
    np.testing.assert_allclose(np.asarray(jax.grad(rebrac.actor_objective)(q, pi, a, beta1)),
                               np.full(4, -1.0 / (2.5 * 4)), rtol=1e-6)
    # without normalisation lambda is 1
    raw = rebrac.actor_objective(q, pi, a, beta1, normalize_q=False)
    assert float(raw) == pytest.approx(np.mean(beta1 * distance - np.asarray(q)), rel=1e-6)
    # the gradient of the penalty pulls pi towards a: d / d pi = 2 beta1 (pi - a) / N
    grad_pi = jax.grad(rebrac.actor_objective, argnums=1)(q, pi, a, beta1)
    np.testing.assert_allclose(np.asarray(grad_pi), 2 * beta1 * np.asarray(pi - a) / 4,
                               rtol=1e-6)


# ------------------------------------------------------------ the critic
def _batch():
    """Four rows: an ordinary one, a time-limit row (a real s', no next action: NaN a'),
    a terminal row, and one with no real s' (NaN s' and a')."""
    nan = np.nan
    return Transitions(
        observations=jnp.array([[0.1, 0.2, 0.3], [0.4, -0.1, 0.0], [-0.3, 0.2, 0.1],
                                [0.0, 0.0, 1.0]]),
        actions=jnp.array([[0.1, 0.1], [0.2, -0.3], [0.0, 0.5], [-0.4, 0.4]]),
        rewards=jnp.array([1.0, 2.0, 3.0, 4.0]),
        next_observations=jnp.array([[0.5, 0.1, -0.2], [-0.6, 0.3, 0.2], [0.2, 0.2, 0.2],
                                     [nan, nan, nan]]),
        next_actions=jnp.array([[0.0, 0.0], [nan, nan], [0.3, 0.3], [nan, nan]]),
        terminals=jnp.array([0.0, 0.0, 1.0, 0.0]),
        has_next_observation=jnp.array([1.0, 1.0, 0.0, 0.0]),
        has_next_action=jnp.array([1.0, 0.0, 0.0, 0.0]))


def test_critic_target_subtracts_the_penalty_and_drops_it_where_no_next_action_exists():
    """y = r + gamma [min_i Q_i^-(s', a') - beta2 ||a' - a'_data||^2], a' = pi^-(s') (no
    smoothing noise here); the time-limit row bootstraps without the penalty; the terminal
    row is y = r; the row without a real s' has no target; no NaN reaches any of it."""
    config = rebrac.Config(**SMALL, critic_bc_weight=0.7, target_noise=0.0, discount=0.9)
    state = _init(config)
    batch = _batch()
    target_of = jax.jit(rebrac.critic_target, static_argnums=3)
    target, penalty = target_of(state, batch, jax.random.PRNGKey(1), config)

    s1 = batch.next_observations[:2]
    a1 = np.asarray(state.actor.apply_fn(state.actor_target, s1))       # pi^-(s')
    q1 = np.asarray(state.critic.apply_fn(state.critic_target, s1, jnp.asarray(a1)).min(axis=0))
    expected_penalty = np.sum((a1[0] - np.array([0.0, 0.0])) ** 2)
    np.testing.assert_allclose(np.asarray(penalty), [expected_penalty, 0, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(target.defined), [1, 1, 1, 0])
    np.testing.assert_allclose(
        np.asarray(target.values),
        [1.0 + 0.9 * (q1[0] - 0.7 * expected_penalty),   # the penalised target
         2.0 + 0.9 * q1[1],                              # time limit: TD3's target
         3.0,                                            # terminal: y = r
         0.0], rtol=1e-5)                                # no real s': undefined
    assert expected_penalty > 0.01   # the penalty did move the first row's target

    # beta2 = 0 is TD3's target wherever s' is real
    plain, _ = target_of(state, batch, jax.random.PRNGKey(1), config.replace(critic_bc_weight=0.0))
    np.testing.assert_allclose(np.asarray(plain.values)[:2], [1.0 + 0.9 * q1[0], 2.0 + 0.9 * q1[1]],
                               rtol=1e-5)


def test_a_step_on_the_hand_made_batch_is_finite_and_the_penalty_metric_counts_real_rows():
    config = rebrac.Config(**SMALL)
    state = _init(config)
    state, metrics = jax.jit(rebrac.phases(config)[0].update)(state, _batch(),
                                                             jax.random.PRNGKey(3))
    for name, value in metrics.items():
        assert np.isfinite(np.asarray(value)), name
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(state))
    assert float(metrics["critic_bc_distance"]) > 0   # the one row with a next action


def _layer_names(**options):
    """The layers of the first critic's MLP and of the actor's (shapes only, nothing run)."""
    state = jax.eval_shape(lambda: rebrac.init(jax.random.PRNGKey(0), 3, 2,
                                               rebrac.Config(**SMALL, **options)))
    return (set(state.critic.params["params"]["VmapQNetwork_0"]["MLP_0"]),
            set(state.actor.params["params"]["MLP_0"]))


def test_the_critics_have_layer_norm_and_the_actor_none():
    critic, actor = _layer_names()
    assert any(name.startswith("LayerNorm") for name in critic)
    assert not any(name.startswith("LayerNorm") for name in actor)
    critic, _ = _layer_names(critic_layer_norm=False)
    assert not any(name.startswith("LayerNorm") for name in critic)


# ------------------------------------------------------------ the preset
@pytest.mark.parametrize("dataset, betas", [
    ("hopper-medium-replay", (0.05, 0.5)),   # their hopper/hopper_medium_replay.yaml
    ("halfcheetah-medium-replay-v2", (0.01, 0.001)),
    ("walker2d-random", (0.01, 0.0)),
])
def test_the_paper_preset_applies_the_published_row(dataset, betas):
    config, note = configure("rebrac", {}, "paper", dataset)
    assert (config.actor_bc_weight, config.critic_bc_weight) == betas
    assert config.hidden == (256, 256, 256) and config.batch_size == 1024
    assert "row for " + dataset.removesuffix("-v2") in note
    # --set overrides the row
    config, _ = configure("rebrac", {"critic_bc_weight": 0.2}, "paper", dataset)
    assert config.critic_bc_weight == 0.2


def test_the_paper_preset_on_data_without_a_row_keeps_the_default_betas():
    config, note = configure("rebrac", {}, "paper", "multigoal")
    assert "no row for multigoal" in note
    assert (config.actor_bc_weight, config.critic_bc_weight) == (0.01, 0.01)
