"""Shared options that size one network alone (`actor_hidden`, `mdn_hidden`), checked in
every algorithm that has them, by the widths of the networks its state holds."""

from __future__ import annotations

import dataclasses

import jax
import pytest

from onemode.algos import ALGOS, get_algo

NAMES = sorted(ALGOS)


@pytest.mark.parametrize("name", [n for n in NAMES if "actor_hidden" in
                                  {f.name for f in dataclasses.fields(get_algo(n).Config)}])
def test_actor_hidden_sizes_the_policy_network_alone(name):
    algo = get_algo(name)
    config = algo.Config.from_dict({"hidden": "16,16", "actor_hidden": "8,8,8"})
    state = algo.init(jax.random.PRNGKey(0), 3, 2, config)
    widths = {net: [k.shape for k in _kernels(getattr(state, net).params)]
              for net in ("actor", "critic")}
    # the widths out of each layer (the input may hold more than s: FQL's actor takes (s, z))
    assert [shape[-1] for shape in widths["actor"]] == [8, 8, 8, 2]
    assert all(shape[-1] == 16 for shape in widths["critic"][:-1])
    # empty ("" on the command line): the policy takes `hidden`
    default = algo.init(jax.random.PRNGKey(0), 3, 2, config.replace(actor_hidden=""))
    assert [k.shape[-1] for k in _kernels(default.actor.params)] == [16, 16, 2]


@pytest.mark.parametrize("name", [n for n in NAMES if "mdn_hidden" in
                                  {f.name for f in dataclasses.fields(get_algo(n).Config)}])
def test_mdn_hidden_sizes_the_behaviour_model_alone(name):
    algo = get_algo(name)
    config = algo.Config.from_dict({"hidden": "16,16", "mdn_hidden": "32,32", "n_components": 2})
    state = algo.init(jax.random.PRNGKey(0), 3, 2, config)
    assert [k.shape for k in _kernels(state.mdn.params)] == [(3, 32), (32, 32), (32, 10)]
    assert all(k.shape[-1] == 16 for k in _kernels(state.critic.params)[:-1])
    default = algo.init(jax.random.PRNGKey(0), 3, 2, config.replace(mdn_hidden=""))
    assert [k.shape for k in _kernels(default.mdn.params)][:2] == [(3, 16), (16, 16)]


def _kernels(params) -> list:
    """A network's dense kernels, input layer first."""
    paths = jax.tree_util.tree_flatten_with_path(params)[0]
    return [leaf for path, leaf in paths if "kernel" in jax.tree_util.keystr(path)]


