"""WCGAN and WCVAE (LOM paper, App. C.1, Eq. 39-40): configs, the shared behaviour critic,
acting, and short seeded runs that learn, stay multi-modal, and follow the weights."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from configs import EXPERT

from onemode.algos import behaviour_critic, cvae, wcgan, wcvae
from onemode.errors import ConfigError
from onemode.algos.critics import q_value
from onemode.targets import data_spec
from onemode.policy import load_run
from onemode.runs import TrainConfig
from onemode.tasks.bandit import branch_centres
from onemode.train import train

MODULES = {"wcgan": wcgan, "wcvae": wcvae}

SMALL = {name: EXPERT[name][0] for name in MODULES}  # tests/configs.py
UNWEIGHTED_STEPS = {"wcgan": 1500, "wcvae": 4000}
WEIGHTED_STEPS = {"wcgan": 1000, "wcvae": 2500}


# ------------------------------------------------------------------- config
@pytest.mark.parametrize("name, values, message", [
    ("wcgan", {"noise_dim": 0}, "noise_dim"),
    ("wcgan", {"adam_beta1": 1.0}, "adam_beta1"),
    ("wcgan", {"generator_ema": -0.1}, "generator_ema"),
    ("wcvae", {"latent_dim": -1}, "latent_dim"),
    ("wcvae", {"decoder_std": -0.1}, "decoder_std"),
    ("wcvae", {"decoder_std": 2.0}, "decoder_std"),
    ("wcvae", {"decoder_std": 1e-4}, "decoder_std"),
])
def test_invalid_config_is_refused_with_the_option_named(name, values, message):
    with pytest.raises(ConfigError, match=message):
        MODULES[name].Config.from_dict(values)


# ------------------------------------------------------------ closed forms
def test_kl_to_the_unit_gaussian_matches_its_closed_form():
    mean, log_std = np.array([0.3, -1.2]), np.log(np.array([0.5, 1.7]))
    sigma = np.exp(log_std)
    expected = np.sum(np.log(1 / sigma) + (sigma**2 + mean**2) / 2 - 0.5)
    got = cvae.kl_to_unit_gaussian(jnp.asarray(mean), jnp.asarray(log_std))
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def test_behaviour_critic_learns_q_v_and_the_advantage_weights():
    """One state, two one-step actions paying 0 and 1: Q = r, V = E_{a~pi_b} Q = 1/2,
    A = -+1/2, and the weights w = exp(A / beta) normalised to mean 1."""
    from onemode.data import Dataset, to_device
    n = 64
    actions = np.where(np.arange(n) % 2 == 0, -0.5, 0.5).astype(np.float32)[:, None]
    dataset = Dataset.from_arrays({
        "observations": np.zeros((n, 1), np.float32), "actions": actions,
        "rewards": (actions[:, 0] > 0).astype(np.float32),
        "terminals": np.ones(n, bool), "timeouts": np.zeros(n, bool)})
    batch = to_device(dataset, dataset.obs_stats)
    config = wcgan.Config(hidden=(16,), critic_lr=1e-2, value_lr=1e-2, beta=0.5)
    critic = behaviour_critic.init_behaviour_critic(jax.random.PRNGKey(0), 1, 1, config)

    def step(critic, i):
        critic, metrics = behaviour_critic.update_behaviour_critic(critic, batch, i, config)
        return critic, metrics["v_loss"]

    critic, _ = jax.lax.scan(step, critic, jnp.arange(400))
    pair = jnp.array([[-0.5], [0.5]])
    obs = jnp.zeros((2, 1))
    np.testing.assert_allclose(np.asarray(q_value(critic.q, critic.q.params, obs, pair)),
                               [0.0, 1.0], atol=0.03)
    np.testing.assert_allclose(np.asarray(critic.v.apply_fn(critic.v.params, obs)), 0.5,
                               atol=0.03)
    np.testing.assert_allclose(np.asarray(behaviour_critic.behaviour_advantage(critic, obs, pair)),
                               [-0.5, 0.5], atol=0.05)
    weights, metrics = behaviour_critic.advantage_weights(critic, batch, config)
    low, high = float(weights[0]), float(weights[1])
    assert float(weights.mean()) == pytest.approx(1.0, rel=1e-5)
    assert high / low == pytest.approx(np.exp(1.0 / config.beta), rel=0.15)
    assert float(metrics["weight_mean"]) == pytest.approx(
        (np.exp(-1.0) + np.exp(1.0)) / 2, rel=0.1)  # before normalising


@pytest.mark.parametrize("name", MODULES)
def test_act_takes_the_model_mean_or_the_best_of_k_by_q(name):
    module = MODULES[name]
    config = module.Config(hidden=(16,), act_candidates=6)
    state = jax.jit(partial(module.init, obs_dim=3, act_dim=2, config=config))(
        jax.random.PRNGKey(0))
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 3)) * 3
    act = jax.jit(module.act, static_argnums=2)
    first = act(state, obs, config.replace(act_candidates=1))

    def q_sum(params, observations, actions):  # Q(s, a) = a_1 + a_2, one critic
        return actions.sum(-1)[None]

    critic = state.critic._replace(q=state.critic.q.replace(apply_fn=q_sum))
    state = state._replace(critic=critic)
    candidates = np.asarray(module.candidates(state, obs, config))
    assert candidates.shape == (6, 5, 2)
    np.testing.assert_allclose(candidates[0], np.asarray(first), atol=1e-6)  # z = 0 first
    best = candidates[candidates.sum(-1).argmax(0), np.arange(5)]
    np.testing.assert_allclose(np.asarray(act(state, obs, config)), best, atol=1e-6)


# -------------------------------------------------------------- learning
BANDIT_STATES = np.array([[-0.6], [0.3], [0.7]], np.float32)


def bandit_samples(name, beta, steps, tmp_path, n_samples=2000):
    """Train on the four-branch bandit; samples of the model at BANDIT_STATES, per seed."""
    module = MODULES[name]
    algo_config = module.Config(**{**SMALL[name], "beta": beta})
    config = TrainConfig(steps=steps, seeds=(0, 1), log_every=steps, eval_every=steps,
                         checkpoint_every=steps, eval_episodes=100)
    result = train(name, algo_config, config, data_spec(task="bandit", size=4000),
                   tmp_path / "run", show_progress=False)
    obs = jnp.asarray(load_run(result.run_dir).stats.normalize(BANDIT_STATES))
    samples = [np.asarray(module.sample_actions(jax.tree.map(lambda x: x[seed], result.state),
                                                obs, jax.random.PRNGKey(7), n_samples,
                                                algo_config))[..., 0]
               for seed in range(2)]
    return np.stack(samples), result  # (seeds, n_samples, states)


@pytest.mark.slow  # ~50 s for both models; `make test-slow`
@pytest.mark.parametrize("name", MODULES)
def test_unweighted_model_keeps_the_action_modes_apart(name, tmp_path):
    """beta large: w ~ 1, plain conditional generation of the four-branch data.

    Both signs keep >= 20% of the samples, and the gap between the two inner
    branches (which no data action enters) holds <= 15% of them; one Gaussian
    fitted to the four branches would put about 30% there.
    """
    samples, _ = bandit_samples(name, 1000.0, UNWEIGHTED_STEPS[name], tmp_path)
    centres = branch_centres(BANDIT_STATES)  # (states, 4), offsets -0.8, -0.4, 0.4, 0.8
    low, high = centres[:, 1] + 0.15, centres[:, 2] - 0.15
    negative, positive = (samples < 0).mean(axis=1), (samples > 0).mean(axis=1)
    in_gap = ((samples > low) & (samples < high)).mean(axis=1)
    assert np.all(negative >= 0.2) and np.all(positive >= 0.2), (negative, positive)
    assert np.all(in_gap <= 0.15), in_gap


@pytest.mark.slow  # ~50 s for both models; `make test-slow`
@pytest.mark.parametrize("name", MODULES)
def test_advantage_weights_select_the_rewarded_modes(name, tmp_path):
    """beta small: w = 50 on the rewarded branches (sign(a) = sign(s)), ~0 elsewhere, so
    the model's samples and its greedy action take the rewarded sign."""
    samples, result = bandit_samples(name, 0.05, WEIGHTED_STEPS[name], tmp_path)
    rewarded = (np.sign(samples) == np.sign(BANDIT_STATES[:, 0])).mean(axis=1)
    assert np.all(rewarded >= 0.9), rewarded
    returns = result.final_eval.returns.mean(axis=1)
    assert np.all(returns >= 0.9), returns
