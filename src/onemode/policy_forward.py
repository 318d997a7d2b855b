"""A policy exported by `onemode export --format npz`, run with numpy alone.

    from policy_forward import load, forward
    weights = load("policy.npz")
    actions = forward(weights, observations)   # raw (n, obs_dim) -> (n, act_dim)

`onemode export` writes a copy of this file beside the npz; it imports nothing but
numpy, so the pair runs in any program. The npz holds (float32 unless noted):

  obs_mean, obs_std            (obs_dim,)  the normalisation the policy trained with
  n_hidden                     int         hidden layers: h = act(h W + b)
  activation                   str         act: "relu" (relu(x) = max(x, 0)) or "gelu"
                                           (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))));
                                           only in format 2: format 1 is relu
  hidden_{i}_kernel, _bias     (in, out), (out,)
  output_kernel, output_bias   the last layer: out = h W + b
  head                         str: "clip"    a = clip(out, -1, 1)
                                    "tanh"    a = tanh(out)
                                    "mixture" out = [means (M x A) | logits (M)],
                                              a = clip(means[argmax logits], -1, 1)
  n_components                 int         M, for "mixture"
  action_low, action_high      (act_dim,)  actions leave in these bounds:
                                           low + (a + 1) (high - low) / 2
  algo, format                 str         what trained it; "onemode-policy-1" (relu
                                           hidden layers) or "onemode-policy-2" (with
                                           `activation`; a reader of format 1 refuses it)
"""

from __future__ import annotations

import numpy as np

FORMAT = "onemode-policy-1"                   # relu hidden layers
FORMAT_WITH_ACTIVATION = "onemode-policy-2"   # the hidden activation named by `activation`
FORMATS = (FORMAT, FORMAT_WITH_ACTIVATION)


def relu(x):
    return np.maximum(x, 0.0)


def gelu(x):
    """flax's nn.gelu (its default tanh approximation)."""
    return 0.5 * x * (1.0 + np.tanh(np.float32(np.sqrt(2.0 / np.pi))
                                    * (x + np.float32(0.044715) * x ** 3)))


ACTIVATIONS = {"relu": relu, "gelu": gelu}


def load(path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        weights = {name: f[name] for name in f.files}
    if str(weights.get("format")) not in FORMATS:
        raise ValueError(f"{path}: not an exported onemode policy of format "
                         f"{' or '.join(FORMATS)}")
    return weights


def activation(weights: dict) -> str:
    """The hidden layers' activation: the file's `activation`, relu in format 1."""
    return str(weights["activation"]) if "activation" in weights else "relu"


def forward(weights: dict, observations) -> np.ndarray:
    """Deterministic actions for raw observations, (obs_dim,) or (n, obs_dim)."""
    if activation(weights) not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation(weights)!r}")
    act = ACTIVATIONS[activation(weights)]
    h = (np.asarray(observations, np.float32) - weights["obs_mean"]) / weights["obs_std"]
    for i in range(int(weights["n_hidden"])):
        h = act(h @ weights[f"hidden_{i}_kernel"] + weights[f"hidden_{i}_bias"])
    out = h @ weights["output_kernel"] + weights["output_bias"]
    head = str(weights["head"])
    if head == "clip":
        action = np.clip(out, -1.0, 1.0)
    elif head == "tanh":
        action = np.tanh(out)
    elif head == "mixture":
        m = int(weights["n_components"])
        act_dim = (out.shape[-1] - m) // m
        means = out[..., :m * act_dim].reshape(out.shape[:-1] + (m, act_dim))
        best = np.argmax(out[..., m * act_dim:], axis=-1)
        action = np.clip(np.take_along_axis(means, best[..., None, None], axis=-2)[..., 0, :],
                         -1.0, 1.0)
    else:
        raise ValueError(f"unknown head {head!r}")
    low, high = weights["action_low"], weights["action_high"]
    return low + (action + 1.0) * (high - low) / 2.0
