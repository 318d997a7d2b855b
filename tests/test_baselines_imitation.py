"""The imitation baselines: BC, MDN, AWAC and OneStep.

Their own options refuse nonsense (the contract test checks the shared ones);
the pieces match their closed forms (that they learn the unimodal expert data:
test_learning.py); and on the multi-modal data BC averages the
four modes while the MDN commits to one (the LOM paper's Figure 2b-c).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from configs import EXPERT

from onemode.algos import awac, bc, gaussian, get_algo, onestep
from onemode.errors import ConfigError
from onemode.algos.critics import q_value, sampled_advantage
from onemode.algos.mixture import most_probable_mean
from onemode.data import Dataset, to_device
from onemode.targets import data_spec
from onemode.nets import Mixture
from onemode.policy import load_policy
from onemode.runs import TrainConfig
from onemode.train import train



# ------------------------------------------------------------------- config
@pytest.mark.parametrize("algo, values, message", [
    ("awac", {"weight_normalisation": "whiten"}, "weight_normalisation"),
    ("onestep", {"behaviour_steps": 2.5}, "behaviour_steps"),
    ("mdn", {"n_components": "ten"}, "n_components"),
])
def test_invalid_config_is_refused_with_the_option_named(algo, values, message):
    with pytest.raises(ConfigError, match=message):
        get_algo(algo).Config.from_dict(values)


# ------------------------------------------------------------ closed forms
def init(module, obs_dim, act_dim, config):
    """module.init, jitted (eager initialisation compiles op by op: slower)."""
    return jax.jit(module.init, static_argnums=(1, 2, 3))(jax.random.PRNGKey(0), obs_dim,
                                                          act_dim, config)


def test_mdn_acts_with_the_mean_of_its_most_probable_component():
    mixture = Mixture(jnp.log(jnp.array([[0.2, 0.7, 0.1], [0.5, 0.1, 0.4]])),
                      jnp.array([[[0.1, 0.2], [0.8, -0.8], [0.0, 0.0]],
                                 [[-0.9, 0.9], [0.3, 0.3], [0.5, 0.5]]]),
                      jnp.zeros((2, 3, 2)))
    np.testing.assert_allclose(np.asarray(most_probable_mean(mixture)),
                               [[0.8, -0.8], [-0.9, 0.9]])


def test_weighted_imitation_is_bc_with_unit_weights_and_ignores_zero_weight_rows():
    state = init(bc, 2, 1, bc.Config(hidden=(8,)))
    obs = jnp.array([[0.1, 0.2], [0.3, -0.4]])
    actions = jnp.array([[0.5], [-0.5]])
    step = jax.jit(gaussian.weighted_imitation)
    _, loss = step(state.actor, obs, actions)
    _, unit_loss = step(state.actor, obs, actions, jnp.ones(2))
    assert float(loss) == pytest.approx(float(unit_loss))
    assert float(loss) == pytest.approx(float(jax.jit(gaussian.gaussian_nll)(state.actor, obs,
                                                                               actions)))
    # a zero-weight row contributes nothing: same step as the other row alone, weight 2
    masked, _ = step(state.actor, obs, actions, jnp.array([2.0, 0.0]))
    alone, _ = step(state.actor, obs[:1], actions[:1])
    for a, b in zip(jax.tree.leaves(masked.params), jax.tree.leaves(alone.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_advantage_subtracts_the_sampled_value_of_the_policy():
    """With Q(s, a) = 2a and a narrow policy around 0.3, A(s, a) = 2a - 0.6."""
    config = awac.Config(hidden=(8,), n_critics=1)
    state = init(awac, 1, 1, config)
    critic = state.critic.replace(apply_fn=lambda params, s, a: (2.0 * a[..., 0])[None])
    policy = state.actor.replace(
        apply_fn=lambda params, s: (jnp.full(s.shape[:-1] + (1,), 0.3),
                                    jnp.full(s.shape[:-1] + (1,), np.log(0.01))))
    adv = jax.jit(sampled_advantage, static_argnums=5)(
        critic, policy, jnp.zeros((3, 1)), jnp.array([[-1.0], [0.3], [1.0]]),
        jax.random.PRNGKey(1), 2000)
    np.testing.assert_allclose(np.asarray(adv), [-2.6, 0.0, 1.4], atol=2e-3)
    weights = awac.advantage_weights(adv, config)
    np.testing.assert_allclose(np.asarray(weights), np.exp(np.asarray(adv)), rtol=1e-5)
    batch = awac.advantage_weights(adv, awac.Config(weight_normalisation="batch"))
    assert float(batch.sum()) == pytest.approx(3.0)


def test_onestep_phases_touch_only_their_own_networks():
    """beta_hat, then Q (SARSA, masked past episode ends), then pi; pi starts as beta_hat."""
    dataset = Dataset.from_arrays({
        "observations": np.arange(6, dtype=np.float32)[:, None] / 6,
        "actions": np.linspace(-0.5, 0.5, 6, dtype=np.float32)[:, None],
        "rewards": np.ones(6), "terminals": [0, 1, 0, 0, 0, 0],
        "timeouts": [0, 0, 0, 1, 0, 0]})
    batch = to_device(dataset)
    config = onestep.Config(hidden=(8,), value_samples=3)
    state = init(onestep, 1, 1, config)
    behaviour_phase, critic_phase, main_phase = onestep.phases(config)
    behaviour_update, critic_update, main_update = (jax.jit(p.update) for p in
                                                     onestep.phases(config))
    assert [p.name for p in onestep.phases(config)] == ["behaviour", "critic", "main"]
    assert (behaviour_phase.steps, critic_phase.steps, main_phase.steps) == (500_000, 2_000_000,
                                                                             None)

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    key = jax.random.PRNGKey(1)
    after_behaviour, _ = behaviour_update(state, batch, key)
    assert not same(after_behaviour.behaviour.params, state.behaviour.params)
    assert same(after_behaviour.actor.params, after_behaviour.behaviour.params)
    assert same(after_behaviour.critic.params, state.critic.params)

    after_critic, metrics = critic_update(after_behaviour, batch, key)
    assert not same(after_critic.critic.params, after_behaviour.critic.params)
    assert same(after_critic.behaviour, after_behaviour.behaviour)
    assert same(after_critic.actor, after_behaviour.actor)
    assert int(after_critic.step) == 1
    # the SARSA loss is over the rows whose target exists: terminal rows, and rows whose
    # episode goes on in the data
    q = np.asarray(q_value(state.critic, state.critic.params, batch.observations, batch.actions))
    q_next = np.asarray(q_value(state.critic, state.critic_target, batch.next_observations,
                                batch.next_actions))
    target = 1.0 + 0.99 * (1 - np.asarray(batch.terminals)) * q_next
    mask = np.array([1, 1, 1, 0, 1, 0], np.float32)
    np.testing.assert_allclose(float(metrics["td_loss"]),
                               (mask * (q - target) ** 2).sum() / mask.sum(), rtol=1e-5)

    after_main, metrics = main_update(after_critic, batch, key)
    assert not same(after_main.actor.params, after_critic.actor.params)
    assert same(after_main.critic, after_critic.critic)
    assert same(after_main.behaviour, after_critic.behaviour)
    assert float(metrics["weight_mean"]) > 0


# ----------------------------------------------------------- multi-modality
def test_bc_averages_the_modes_while_the_mdn_commits_to_one(tmp_path):
    """LOM paper Figure 2b-c on `multigoal`: from every start state the data heads for all
    four goals, with actions near (+-1, +-1). At the start state (0, 0) BC's Gaussian mean
    falls near the average of the four modes, while the MDN's most probable component sits
    out on a mode, far from that average.

    (With sigma allowed up to 1, one component can also settle between two modes one axis
    apart, e.g. at (1, 0) with sigma_y = 1, the maximum-likelihood fit of the pair: the
    test asserts the distance from the four-mode average, not the quadrant.)
    """
    spec = data_spec(task="multigoal", size=20_000)
    start = np.zeros((1, 2), np.float32)
    actions = {}
    for algo, values, steps in (("bc", EXPERT["bc"][0], 1000),
                                ("mdn", dict(hidden=(64, 64), n_components=10), 3000)):
        module = get_algo(algo)
        algo_config = module.Config(**values)
        config = TrainConfig(steps=steps, seeds=(0, 1), log_every=steps, eval_every=steps,
                             eval_episodes=2, checkpoint_every=steps)
        result = train(algo, algo_config, config, spec, tmp_path / algo, show_progress=False)
        actions[algo] = np.stack([load_policy(result.run_dir, seed)(start)[0]
                                  for seed in range(2)])
    bc_norm = np.linalg.norm(actions["bc"], axis=-1)
    mdn_norm = np.linalg.norm(actions["mdn"], axis=-1)
    assert np.all(bc_norm < 0.5), actions["bc"]
    assert np.all(mdn_norm > 0.7), actions["mdn"]
