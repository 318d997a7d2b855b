"""Render a trained policy acting in its task's environment, as an animated GIF.

Each episode contributes its reset frame and one frame per step, so a GIF of
E episodes of T steps holds E * (T + 1) frames, episodes one after another.
Episode e starts from reset seed `EVAL_RESET_SEED + e`, the start state that
`onemode eval` gives its episode e, so the film shows episodes the scores count.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np

from onemode.errors import ConfigError
from onemode.fileio import atomic_write
from onemode.tasks.base import Task

RENDER_MODE = "rgb_array"
DEFAULT_SIZE = (320, 320)      # width, height: small GIFs, still legible
DEFAULT_FPS = 25               # for environments that do not declare render_fps
CAPTION_BACKGROUND = (32, 32, 32)
CAPTION_TEXT = (240, 240, 240)


class Episode(NamedTuple):
    frames: list[np.ndarray]     # (height, width, 3) uint8: after reset, then after each step
    rewards: list[float]         # one per step
    success: bool = False        # the last step's info["success"] (False where none is given)

    @property
    def total(self) -> float:
        return float(sum(self.rewards))


def use_headless_gl() -> None:
    """Let MuJoCo render without a display (EGL), unless the user chose a backend.

    MuJoCo reads MUJOCO_GL when it creates its first GL context, and PyOpenGL
    fixes its platform when first imported: call this before any env exists.
    """
    os.environ.setdefault("MUJOCO_GL", "egl")


# ------------------------------------------------------------------ environment
def render_modes(task: Task) -> list[str]:
    """The render modes the task's environment class declares, without building it."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    from onemode.envs import is_ogbench

    if is_ogbench(task.env_id):
        return [RENDER_MODE]   # OGBench's environments draw frames without declaring a mode
    entry_point = gym.spec(task.env_id).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    return list(getattr(creator, "metadata", {}).get("render_modes", []))


def check_renderable(task: Task) -> None:
    if RENDER_MODE not in render_modes(task):
        raise ConfigError(f"task '{task.name}' has no renderer: its environment "
                          f"({task.env_id}) cannot draw {RENDER_MODE} frames")


def make_render_env(task: Task, width: int, height: int):
    """The task's environment drawing (height, width, 3) frames; refused if it cannot draw."""
    if width < 16 or height < 16:
        raise ConfigError(f"--width and --height must be at least 16 pixels, got {width}x{height}")
    check_renderable(task)
    use_headless_gl()
    try:
        return task.make_env(render_mode=RENDER_MODE, width=width, height=height)
    except TypeError:  # an environment that draws at its own size (classic control)
        return task.make_env(render_mode=RENDER_MODE)


# ------------------------------------------------------------------- rollouts
def play_episode(env, policy: Callable[[np.ndarray], np.ndarray], reset_seed: int) -> Episode:
    """One episode of `policy` (one observation -> one action), a frame after every step."""
    observation, _ = env.reset(seed=int(reset_seed))
    frames, rewards = [np.asarray(env.render())], []
    done, info = False, {}
    while not done:
        observation, reward, terminated, truncated, info = env.step(policy(observation))
        frames.append(np.asarray(env.render()))
        rewards.append(float(reward))
        done = terminated or truncated
    return Episode(frames, rewards, bool(info.get("success", False)))


def play_episodes(env, policy, n_episodes: int, first_reset_seed: int) -> list[Episode]:
    return [play_episode(env, policy, first_reset_seed + e) for e in range(n_episodes)]


# -------------------------------------------------------------------- frames
def caption(frame: np.ndarray, text: str) -> np.ndarray:
    """`frame` with `text` on a dark band across its top; the size is unchanged."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8))
    band = max(10, image.height // 18)
    font = ImageFont.load_default(size=max(7, band - 3))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, band), fill=CAPTION_BACKGROUND)
    draw.text((3, band / 2), text, fill=CAPTION_TEXT, font=font, anchor="lm")
    return np.asarray(image)


def captioned_frames(episodes: Sequence[Episode]) -> list[np.ndarray]:
    """Every episode's frames in order, each captioned with episode, step and return so far.

    The caption also keeps consecutive frames distinct, so the GIF writer never
    merges a still stretch into one frame and the frame count stays E * (T + 1).
    """
    out = []
    for e, episode in enumerate(episodes):
        steps = len(episode.rewards)
        so_far = np.concatenate([[0.0], np.cumsum(episode.rewards)])
        for t, frame in enumerate(episode.frames):
            text = f"episode {e + 1}/{len(episodes)}  step {t}/{steps}  return {so_far[t]:.1f}"
            out.append(caption(frame, text))
    return out


def write_gif(path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write `frames` as a looping GIF at `fps`, atomically; returns the path."""
    from PIL import Image

    if not frames:
        raise ValueError("no frames to write")
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    duration = max(20, round(1000 / fps))   # ms; browsers slow anything under 20 ms down

    def save(tmp: Path) -> None:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=duration, loop=0)

    return atomic_write(path, save)


# ---------------------------------------------------------------------- runs
class Rendered(NamedTuple):
    path: Path
    returns: list[float]         # one per episode
    scores: list[float]          # one per episode, by the target's reference
    frames: int
    fps: float


def render_run(run, task: Task, out, episodes: int = 2, seed_index: int = 0,
               fps: float | None = None, width: int = DEFAULT_SIZE[0],
               height: int = DEFAULT_SIZE[1]) -> Rendered:
    """Film `episodes` episodes of one seed's policy of a loaded run and write them to `out`
    (`task`: `onemode.targets.run_target`'s, which checks that the run fits it)."""
    from onemode.envs import EVAL_RESET_SEED
    from onemode.policy import Policy

    if episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {episodes}")
    if fps is not None and fps <= 0:
        raise ConfigError(f"--fps must be > 0, got {fps}")
    policy = Policy(run, seed_index)
    env = make_render_env(task, width, height)
    try:
        played = play_episodes(env, policy, episodes, EVAL_RESET_SEED)
        fps = fps or env.metadata.get("render_fps") or DEFAULT_FPS
    finally:
        env.close()   # MuJoCo's GL context complains at exit if left open
    frames = captioned_frames(played)
    path = write_gif(out, frames, fps)
    scores = [float(task.score(e.total, e.success)) for e in played]
    return Rendered(path, [e.total for e in played], scores, len(frames), fps)
