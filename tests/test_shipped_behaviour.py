"""The behaviour policies the package ships: each reproduces the return its manifest records.

The slow test repeats each snapshot's recorded measurement (its episodes, sampled
actions as the datasets record them): damaged weights, or a change of the
environment or of the actor's code, show as a miss beyond 10%. Fresh episodes
would not do for every snapshot: mid-training Hopper policies fall in some
episodes and not others (a spread of +- 900 on a mean of 2,700), so a few other
episodes can miss the mean by more than 10% with nothing wrong. The fast test
plays fresh episodes (FRESH_SEED on) of the Hopper expert, whose spread is small.
"""

from __future__ import annotations

import pytest

from onemode.behaviour.snapshots import measure, read_manifest, shipped_actor
from onemode.tasks import get_task
from onemode.tasks.locomotion import ENVIRONMENTS

FRESH_SEED = 3_000_000
TOLERANCE = 0.10
# the expert levels, D4RL-normalised, sampled actions
EXPERT_LEVELS = {"halfcheetah": 75.0, "hopper": 80.0, "walker2d": 75.0}
MANIFEST = read_manifest()
SHIPPED = [(env_id, snapshot["step"]) for env_id, entry in sorted(MANIFEST.items())
           for snapshot in entry["snapshots"]]


def _recorded(env_id: str, step: int) -> dict:
    return next(s for s in MANIFEST[env_id]["snapshots"] if s["step"] == step)


def _family(env_id: str) -> str:
    return next(family for family, env in ENVIRONMENTS.items() if env == env_id)


def test_the_hopper_expert_reproduces_its_recorded_return_and_level():
    step = MANIFEST["Hopper-v5"]["expert_step"]
    recorded = _recorded("Hopper-v5", step)["return"]
    measured = measure("Hopper-v5", shipped_actor("Hopper-v5", step), True, 3, FRESH_SEED)[0]
    assert abs(measured - recorded) <= TOLERANCE * abs(recorded)
    assert get_task("hopper-expert").normalized_score(measured) >= EXPERT_LEVELS["hopper"]


@pytest.mark.parametrize("env_id", sorted(MANIFEST))
def test_each_shipped_expert_was_measured_at_its_level(env_id):
    entry = MANIFEST[env_id]
    expert = _recorded(env_id, entry["expert_step"])
    family = _family(env_id)
    assert get_task(f"{family}-expert").normalized_score(expert["return"]) >= EXPERT_LEVELS[family]
    # medium: a third of the expert by deterministic return, the manifest's rule
    deterministic = {s["step"]: s["deterministic_return"] for s in entry["snapshots"]}
    assert entry["medium_step"] == min(
        deterministic, key=lambda s: abs(deterministic[s] - deterministic[entry["expert_step"]] / 3))


@pytest.mark.slow
@pytest.mark.parametrize("env_id,step", SHIPPED, ids=[f"{e}-{s}" for e, s in SHIPPED])
def test_every_shipped_snapshot_reproduces_its_recorded_return(env_id, step):
    recorded = _recorded(env_id, step)["return"]
    episodes = int(MANIFEST[env_id]["measured_with"].split(" episodes")[0])
    measured = measure(env_id, shipped_actor(env_id, step), True, episodes)[0]
    assert abs(measured - recorded) <= TOLERANCE * abs(recorded), (
        f"{env_id} step {step:,}: {measured:.1f} now, {recorded:.1f} recorded")
