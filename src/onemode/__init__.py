"""onemode: offline reinforcement learning on multi-modal data."""

__version__ = "0.1.0"


def load_policy(run_dir, seed_index: int = 0):
    """A trained run's policy: `policy(observations) -> actions` (see `onemode.policy`)."""
    from onemode.policy import load_policy as _load_policy

    return _load_policy(run_dir, seed_index)
