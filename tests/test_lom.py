"""LOM: its config, its pieces against closed forms, and short seeded runs that learn."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onemode.algos import get_algo, lom
from onemode.errors import ConfigError
from onemode.algos.critics import q_value
from onemode.targets import data_spec
from onemode.nets import Mixture, gaussian_log_prob, mixture_log_prob
from onemode.policy import load_run
from onemode.runs import RunDir, TrainConfig
from onemode.train import train

SMALL = dict(hidden=(64, 64), n_components=4, batch_size=128, mdn_steps=3000, hyper_q_samples=4,
             actor_lr=1e-3, critic_lr=1e-3, hyper_q_lr=1e-3)


# ------------------------------------------------------------------- config
@pytest.mark.parametrize("values, message", [
    ({"hyper_q_samples": 0}, "hyper_q_samples"),
    ({"hyper_q_input": "embedding"}, "hyper_q_input"),
    ({"policy_loss": "l1"}, "policy_loss"),
    ({"advantage_baseline": "zero"}, "advantage_baseline"),
    ({"min_mode_weight": 1.0}, "min_mode_weight"),
    ({"imitation_noise": -0.1}, "imitation_noise"),
    ({"act_by": "heaviest_mode"}, "act_by"),
    ({"n_components": "ten"}, "n_components"),
    ({"n_components": 2.5}, "n_components"),
    ({"hyper_q_batch_size": -1}, "hyper_q_batch_size"),
    ({"mdn_hidden": (8, 0)}, "mdn_hidden"),
])
def test_invalid_config_is_refused_with_the_option_named(values, message):
    with pytest.raises(ConfigError, match=message):
        lom.Config.from_dict(values)


def test_config_reads_command_line_strings():
    config = lom.Config.from_dict({"n_components": "5", "hidden": "32,32", "beta": "2.5"})
    assert (config.n_components, config.hidden, config.beta) == (5, (32, 32), 2.5)


def test_the_authors_preset_starts_from_their_settings_and_set_overrides_it():
    from onemode.presets import configure
    config, note = configure("lom", {"beta": "0.5"}, "authors", "multigoal")
    assert (config.advantage_baseline, config.hyper_q_input, config.actor_lr) == (
        "policy", "one_hot", 1e-3)
    assert config.beta == 0.5 and config.n_components == lom.Config().n_components
    assert (config.hidden, config.mdn_hidden, config.mdn_tanh_means,
            config.hyper_q_batch_size) == ((256, 256), (512, 512), True, 1024)
    assert "no row for multigoal" in note
    # a saved run's config is whole: read back without the preset, it is the same
    assert lom.Config.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="no preset 'author' for lom; its presets: authors"):
        configure("lom", {}, "author")


def test_unknown_algorithm_is_refused():
    with pytest.raises(ConfigError, match="unknown algorithm 'sac'"):
        get_algo("sac")


# ------------------------------------------------------------ closed forms
def test_mixture_log_prob_matches_the_density_written_out():
    rng = np.random.default_rng(0)
    logits, means = rng.normal(size=3), rng.normal(size=(3, 2))
    log_stds = rng.uniform(-1, 0, size=(3, 2))
    x = rng.normal(size=2)
    alpha = np.exp(logits) / np.exp(logits).sum()
    sigma = np.exp(log_stds)
    density = sum(alpha[i] * np.prod(np.exp(-0.5 * ((x - means[i]) / sigma[i]) ** 2)
                                     / (np.sqrt(2 * np.pi) * sigma[i])) for i in range(3))
    got = mixture_log_prob(jnp.asarray(x), Mixture(jnp.asarray(logits), jnp.asarray(means),
                                                   jnp.asarray(log_stds)))
    np.testing.assert_allclose(float(got), np.log(density), rtol=1e-5)
    np.testing.assert_allclose(float(gaussian_log_prob(jnp.asarray(x), jnp.asarray(means[0]),
                                                       jnp.asarray(log_stds[0]))),
                               np.log(np.prod(np.exp(-0.5 * ((x - means[0]) / sigma[0]) ** 2)
                                              / (np.sqrt(2 * np.pi) * sigma[0]))), rtol=1e-5)


def test_mode_values_are_the_monte_carlo_mean_of_q_over_each_mode():
    """With a Q that is linear in the action, E_{a~phi_u} Q(s, a) = Q(s, mu_u) (Eq. 6)."""
    config = lom.Config(hidden=(8,), n_components=3, hyper_q_samples=4000)
    state = lom.init(jax.random.PRNGKey(0), 1, 1, config)

    def linear_q(params, observations, actions):  # Q(s, a) = 2a, one critic
        return (2.0 * actions[..., 0])[None]

    critic = state.critic.replace(apply_fn=linear_q)
    mixture = Mixture(jnp.zeros((1, 3)), jnp.array([[[-0.5], [0.0], [0.4]]]),
                      jnp.full((1, 3, 1), np.log(0.05)))
    values = lom.mode_values(critic, jnp.zeros((1, 1)), mixture, jax.random.PRNGKey(1), 4000)
    np.testing.assert_allclose(np.asarray(values[0]), [-1.0, 0.0, 0.8], atol=0.01)


def test_greedy_mode_ignores_components_without_weight_at_the_state():
    mixture = Mixture(jnp.log(jnp.array([[0.6, 0.38, 0.02], [0.01, 0.01, 0.98]])),
                      jnp.zeros((2, 3, 1)), jnp.zeros((2, 3, 1)))
    values = jnp.array([[1.0, 2.0, 9.0], [5.0, 7.0, 0.0]])
    np.testing.assert_array_equal(lom.greedy_mode(values, mixture, 0.05), [1, 2])
    np.testing.assert_array_equal(lom.greedy_mode(values, mixture, 0.0), [2, 1])


def test_training_teaches_the_mode_the_hyper_q_values_most():
    """Eq. 7 in the update: Q_phi's argmax, here not the mode Q_psi(s, mu_u(s)) prefers."""
    from onemode.data import Dataset, to_device
    batch = to_device(Dataset.from_arrays({
        "observations": np.zeros((4, 1), np.float32), "actions": np.zeros((4, 1)),
        "rewards": np.ones(4), "terminals": [0, 0, 0, 1], "timeouts": np.zeros(4)}))
    means = jnp.array([[-0.5], [0.0], [0.4]])

    def fixed_mixture(params, observations):
        batch_shape = observations.shape[:-1]
        return Mixture(jnp.zeros(batch_shape + (3,)), jnp.broadcast_to(means, batch_shape + (3, 1)),
                       jnp.full(batch_shape + (3, 1), -3.0))

    def linear_q(params, observations, actions):  # Q_psi(s, a) = 2a: mode 2 is best
        return (2.0 * actions[..., 0])[None]

    def hyper_q_prefers_mode_0(params, observations):
        return jnp.broadcast_to(jnp.array([1.0, 0.0, -1.0]), observations.shape[:-1] + (3,))

    config = lom.Config(hidden=(8,), n_components=3)
    state = lom.init(jax.random.PRNGKey(0), 1, 1, config)
    state = state._replace(mdn=state.mdn.replace(apply_fn=fixed_mixture),
                           critic=state.critic.replace(apply_fn=linear_q),
                           hyper_q=state.hyper_q.replace(apply_fn=hyper_q_prefers_mode_0))
    _, metrics = jax.jit(partial(lom.update, config=config))(state, batch, jax.random.PRNGKey(1))
    np.testing.assert_allclose(np.asarray(metrics["mode_frequency"]), [1, 0, 0])
    # acting by the critic's mode takes the mode Q_psi values most, on the same state
    report = lom.mode_report(state, batch.observations, config.replace(act_by="critic_mode"))
    np.testing.assert_array_equal(np.asarray(report["best_mode"]), [2, 2, 2, 2])


def test_a_retired_option_loads_at_the_value_kept_and_is_refused_at_another():
    """best_mode_by was retired; a record holding it at the kept value ("hyper_q") is the
    same config, one holding "critic" is refused in one line naming it."""
    assert lom.Config.from_dict({"best_mode_by": "hyper_q", "beta": 2.0}) == lom.Config(beta=2.0)
    with pytest.raises(ConfigError, match="best_mode_by=critic was retired .*experiments/"):
        lom.Config.from_dict({"best_mode_by": "critic"})


def test_mdn_tanh_means_bounds_the_behaviour_models_means():
    config = lom.Config.from_dict({"hidden": "16,16", "n_components": 2})
    state = lom.init(jax.random.PRNGKey(0), 3, 2, config)
    # far from the data the linear means leave the action box; tanh keeps them inside
    far = jnp.full((64, 3), 1e4) * jax.random.normal(jax.random.PRNGKey(1), (64, 3))
    linear = state.mdn.apply_fn(state.mdn.params, far).means
    bounded = lom.init(jax.random.PRNGKey(0), 3, 2, config.replace(mdn_tanh_means=True))
    tanh_means = bounded.mdn.apply_fn(bounded.mdn.params, far).means
    assert float(jnp.abs(linear).max()) > 1.0 and float(jnp.abs(tanh_means).max()) <= 1.0
    np.testing.assert_allclose(np.asarray(tanh_means), np.tanh(np.asarray(linear)), rtol=1e-5)


def test_the_hyper_q_learns_from_its_own_larger_batch():
    """hyper_q_batch_size: the engine draws that many rows; Q_psi and pi_theta learn
    from the first batch_size of them, Q_phi from all."""
    from onemode.data import Dataset, to_device
    rng = np.random.default_rng(0)
    batch = to_device(Dataset.from_arrays({
        "observations": rng.normal(size=(32, 2)), "actions": rng.uniform(-1, 1, (32, 1)),
        "rewards": np.ones(32), "terminals": np.arange(32) == 31, "timeouts": np.zeros(32)}))
    # the same first 8 rows, other states after them
    other_tail = batch._replace(observations=batch.observations.at[8:].multiply(-1.0))

    config = lom.Config(hidden=(8,), n_components=2, batch_size=8, hyper_q_batch_size=32)
    assert lom.phases(config)[-1].batch_size == 32
    assert lom.phases(config.replace(hyper_q_batch_size=0))[-1].batch_size == 8
    state = lom.init(jax.random.PRNGKey(0), 2, 1, config)
    network = state.hyper_q.apply_fn

    def picks_mode_0(params, observations):  # Q_phi still learns; its pick stays mode 0,
        return jnp.array([1.0, 0.0]) + 1e-6 * network(params, observations)  # so pi_theta's too

    state = state._replace(hyper_q=state.hyper_q.replace(apply_fn=picks_mode_0))
    update = jax.jit(partial(lom.update, config=config))
    one, _ = update(state, batch, jax.random.PRNGKey(1))
    other, _ = update(state, other_tail, jax.random.PRNGKey(1))

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    assert same(one.critic.params, other.critic.params)
    assert same(one.actor.params, other.actor.params)
    assert not same(one.hyper_q.params, other.hyper_q.params)


def test_sarsa_target_never_bootstraps_past_an_episode():
    """Eq. 16 with the data contract: terminal rows use r alone; rows without a' are masked."""
    from onemode.data import Dataset, to_device
    dataset = Dataset.from_arrays({
        "observations": np.arange(6, dtype=np.float32)[:, None],
        "actions": np.zeros((6, 1)), "rewards": np.ones(6),
        "terminals": [0, 1, 0, 0, 0, 0], "timeouts": [0, 0, 0, 1, 0, 0]})
    batch = to_device(dataset)
    config = lom.Config(hidden=(8,), n_components=2)
    state = lom.init(jax.random.PRNGKey(0), 1, 1, config)
    critic, metrics = lom.update_critic(state, batch, jax.random.PRNGKey(1), config)
    q_next = q_value(state.critic, state.critic_target, batch.next_observations,
                     batch.next_actions)
    target = 1.0 + 0.99 * (1 - np.asarray(batch.terminals)) * np.asarray(q_next)
    q = np.asarray(q_value(state.critic, state.critic.params, batch.observations,
                           batch.actions))
    mask = np.array([1, 1, 1, 0, 1, 0])  # terminal rows, and rows whose episode goes on
    np.testing.assert_allclose(float(metrics["td_loss"]),
                               (mask * (q - target) ** 2).sum() / mask.sum(), rtol=1e-5)


# -------------------------------------------------------------- learning
@pytest.fixture(scope="module")
def bandit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "lom-bandit"
    config = TrainConfig(steps=1500, seeds=(0, 1), log_every=500, eval_every=1500,
                         eval_episodes=200, checkpoint_every=1500)
    result = train("lom", lom.Config(**SMALL), config, data_spec(task="bandit", size=4000),
                   out, show_progress=False)
    return result


def test_lom_reaches_the_optimal_bandit_return(bandit_run):
    """Optimal return is 1 (choose sign(a) = sign(s)); behaviour data averages 0.5."""
    returns = bandit_run.final_eval.returns.mean(axis=1)
    assert returns.shape == (2,)
    assert np.all(returns >= 0.95), returns


def test_lom_selects_the_rewarded_mode_on_bandit(bandit_run):
    states = np.linspace(-0.9, 0.9, 10, dtype=np.float32)[:, None]
    run = load_run(bandit_run.run_dir)
    for seed in range(2):
        report = run.mode_report(states, seed)
        best = np.asarray(report["best_mode"])
        chosen_means = np.asarray(report["mixture"].means)[np.arange(10), best, 0]
        assert np.all(np.sign(chosen_means) == np.sign(states[:, 0])), chosen_means


def test_acting_by_the_greedy_mode_takes_its_mean_and_the_rewarded_sign(bandit_run):
    """act_by=greedy_mode acts by mu_u*(s): on bandit, the sign that earns reward 1."""
    states = np.linspace(-0.9, 0.9, 10, dtype=np.float32)[:, None]
    run = load_run(bandit_run.run_dir, acting={"act_by": "greedy_mode"})
    config = run.algo_config
    assert config.act_by == "greedy_mode"
    actions = np.asarray(run.act(run.state, np.broadcast_to(states, (2, 10, 1))))
    for seed in range(2):
        report = run.mode_report(states, seed)
        best = np.asarray(report["best_mode"])
        chosen_means = np.asarray(report["mixture"].means)[np.arange(10), best]
        np.testing.assert_allclose(actions[seed], np.clip(chosen_means, -1, 1), atol=1e-6)
        assert np.all(np.sign(actions[seed, :, 0]) == np.sign(states[:, 0])), actions[seed]
    with pytest.raises(ConfigError, match="act_by=greedy_mode .* no single MLP"):
        lom.policy_mlp(jax.tree.map(lambda x: x[0], run.state), config)
    lom.policy_mlp(jax.tree.map(lambda x: x[0], run.state), config.replace(act_by="actor"))


def test_acting_by_the_critic_mode_takes_the_mean_the_critic_values_most(bandit_run):
    """act_by=critic_mode acts by the eligible mu_u(s) with the highest Q_psi(s, mu_u(s))."""
    states = np.linspace(-0.9, 0.9, 10, dtype=np.float32)[:, None]
    run = load_run(bandit_run.run_dir, acting={"act_by": "critic_mode"})
    actions = np.asarray(run.act(run.state, np.broadcast_to(states, (2, 10, 1))))
    for seed in range(2):
        state = jax.tree.map(lambda x, i=seed: x[i], run.state)
        observations = jnp.asarray(run.stats.normalize(states))
        mixture = state.mdn.apply_fn(state.mdn.params, observations)
        means = np.clip(np.asarray(mixture.means), -1, 1)                     # (10, M, 1)
        values = np.stack([np.asarray(q_value(state.critic, state.critic.params, observations,
                                              jnp.asarray(means[:, u])))
                           for u in range(means.shape[1])], axis=1)         # (10, M)
        alpha = np.asarray(jax.nn.softmax(mixture.logits))
        eligible = (alpha >= run.algo_config.min_mode_weight) | (alpha == alpha.max(-1,
                                                                                  keepdims=True))
        best = np.argmax(np.where(eligible, values, -np.inf), axis=1)
        np.testing.assert_allclose(actions[seed], means[np.arange(10), best], atol=1e-6)
        # the report names the mode the policy acts by, not the hyper-Q's
        np.testing.assert_array_equal(np.asarray(run.mode_report(states, seed)["best_mode"]),
                                      best)
        assert np.all(np.sign(actions[seed, :, 0]) == np.sign(states[:, 0])), actions[seed]
    with pytest.raises(ConfigError, match="act_by=critic_mode .* no single MLP"):
        lom.policy_mlp(jax.tree.map(lambda x: x[0], run.state), run.algo_config)


def test_training_logs_the_diagnostics(bandit_run):
    records = RunDir(bandit_run.run_dir).read_metrics()
    behaviour = [r for r in records if r["phase"] == "behaviour"]
    main = [r for r in records if r["phase"] == "main"]
    first, last = behaviour[0], behaviour[-1]
    assert all(b < a for a, b in zip(first["mdn_nll"], last["mdn_nll"]))  # every seed learns
    # the held-out NLL is measured on episodes kept out of training, and tracks the fit;
    # it is a mean over the 200 held-out rows (5% of 4,000): standard error about 0.07
    gap = np.subtract(last["mdn_holdout_nll"], last["mdn_nll"])
    assert np.all(np.abs(gap) < 0.3), gap
    for key in ("td_loss", "hyper_q_loss", "mode_frequency", "weight_mean",
                "weight_clipped_frac", "updates_per_s"):
        assert key in main[-1]
    assert np.allclose(np.sum(main[-1]["mode_frequency"], axis=-1), 1.0)


def test_metrics_reach_tensorboard_when_tensorboardx_is_installed(bandit_run):
    pytest.importorskip("tensorboardX")
    import struct

    from tensorboardX.proto.event_pb2 import Event
    scalars = {}
    for path in (bandit_run.run_dir / "tb").glob("events.out.tfevents.*"):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):  # TFRecord: length, crc, payload, crc
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            event = Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 16 + length
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    assert "main/td_loss" in scalars and "behaviour/mdn_holdout_nll" in scalars
    assert [step for step, _ in scalars["eval/score"]] == [4500]
    score = np.mean([r["score"] for r in RunDir(bandit_run.run_dir).read_metrics()
                     if r["phase"] == "eval"])
    assert scalars["eval/score"][0][1] == pytest.approx(score)


def test_same_seed_same_result(bandit_run, tmp_path):
    config = TrainConfig(steps=1500, seeds=(0, 1), log_every=500, eval_every=1500,
                         eval_episodes=200, checkpoint_every=1500)
    again = train("lom", lom.Config(**SMALL), config, data_spec(task="bandit", size=4000),
                  tmp_path / "again", show_progress=False)
    for a, b in zip(jax.tree.leaves(bandit_run.state), jax.tree.leaves(again.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_lom_heads_for_the_best_goal_on_multigoal(tmp_path):
    """Four goals, one worth twice the others; every start state carries all four modes."""
    from onemode.tasks.multigoal import BEST_GOAL, goal_at
    algo_config = lom.Config(hidden=(128, 128), n_components=8, hyper_q_samples=1,
                             mdn_steps=4000, critic_lr=1e-3, actor_lr=1e-3, hyper_q_lr=1e-3)
    config = TrainConfig(steps=4000, seeds=(0, 1), log_every=1000, eval_every=4000,
                         eval_episodes=20, checkpoint_every=4000)
    result = train("lom", algo_config, config, data_spec(task="multigoal", size=40000),
                   tmp_path / "run", show_progress=False)
    scores = result.final_eval.scores.mean(axis=1)
    at_best_goal = (goal_at(result.final_eval.final_observations) == BEST_GOAL).mean(axis=1)
    assert np.all(scores >= 90), scores
    assert np.all(at_best_goal >= 0.8), at_best_goal

    starts = np.array([[0.0, 0.0], [0.05, -0.05], [-0.08, 0.03]], np.float32)
    run = load_run(result.run_dir)
    for seed in range(2):
        report = run.mode_report(starts, seed)
        best = np.asarray(report["best_mode"])
        chosen = np.asarray(report["mixture"].means)[np.arange(len(starts)), best]
        assert np.all(chosen > 0.5), chosen  # the selected mode points at (+1, +1)
