"""onemode: offline reinforcement learning on multi-modal data."""

__version__ = "0.1.0"
