"""A trained policy out of onemode: an npz of weights with a numpy forward, or an ONNX model.

Both carry the whole deterministic policy: the observation normalisation the run
trained with, the network, the head that turns its outputs into an action, and
the mapping onto the data's action bounds. An algorithm exports when its module
writes `act` as one MLP (`policy_mlp`, see `onemode.algos.base`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from onemode import policy_forward
from onemode.algos import get_algo
from onemode.errors import ConfigError
from onemode.fileio import atomic_write
from onemode.nets import MLP_ACTIVATIONS, MLP_HEADS
from onemode.policy import LoadedRun, load_run

FORMATS = ("onnx", "npz")
ONNX_OPSET = 17


def policy_weights(run: LoadedRun, seed_index: int = 0) -> dict[str, np.ndarray]:
    """One seed's policy as the arrays `policy_forward` reads."""
    n_seeds = len(run.train_config.seeds)
    if not 0 <= seed_index < n_seeds:
        raise IndexError(f"seed index {seed_index} out of range: {run.path} trained "
                         f"{n_seeds} seed(s)")
    algo = get_algo(run.algo_name)
    if not hasattr(algo, "policy_mlp"):
        raise ConfigError(f"{run.algo_name}'s policy is no single MLP; it cannot be exported")
    mlp = algo.policy_mlp(run.seed_state(seed_index), run.algo_config)
    assert mlp.head in MLP_HEADS and mlp.activation in MLP_ACTIVATIONS, mlp
    bounds = run.data_spec.action_bounds or ([-1.0] * run.act_dim, [1.0] * run.act_dim)
    # relu policies are written as format 1, as before; another activation needs format 2
    relu = mlp.activation == "relu"
    weights = {"format": np.asarray(policy_forward.FORMAT if relu
                                    else policy_forward.FORMAT_WITH_ACTIVATION),
               "algo": np.asarray(run.algo_name),
               "obs_mean": np.asarray(run.stats.mean, np.float32),
               "obs_std": np.asarray(run.stats.std, np.float32),
               "n_hidden": np.asarray(len(mlp.hidden)),
               "output_kernel": mlp.output[0], "output_bias": mlp.output[1],
               "head": np.asarray(mlp.head), "n_components": np.asarray(mlp.n_components),
               "action_low": np.broadcast_to(np.asarray(bounds[0], np.float32), (run.act_dim,)),
               "action_high": np.broadcast_to(np.asarray(bounds[1], np.float32),
                                              (run.act_dim,))}
    if not relu:
        weights["activation"] = np.asarray(mlp.activation)
    for i, (kernel, bias) in enumerate(mlp.hidden):
        weights[f"hidden_{i}_kernel"], weights[f"hidden_{i}_bias"] = kernel, bias
    return weights


def onnx_model(weights: dict[str, np.ndarray]):
    """The same computation as `policy_forward.forward`, as an ONNX graph.

    Input "observations" (batch, obs_dim) float32, output "actions" (batch, act_dim).
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'onemode[export]'") \
            from None
    obs_dim, act_dim = weights["obs_mean"].shape[0], weights["action_low"].shape[0]
    nodes, constants = [], []

    def constant(name, value, dtype=np.float32):  # each name once (a scalar used by every layer)
        if name not in {c.name for c in constants}:
            constants.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def node(op, inputs, output, **attributes):
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def gelu(x, name):  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as policy_forward
        cube = node("Mul", [node("Mul", [x, x], f"{name}_square"), x], f"{name}_cube")
        inner = node("Add", [x, node("Mul", [cube, constant("gelu_c", 0.044715)],
                                     f"{name}_cube_scaled")], f"{name}_inner")
        inner = node("Mul", [inner, constant("gelu_k", np.sqrt(2.0 / np.pi))], f"{name}_arg")
        one_plus = node("Add", [node("Tanh", [inner], f"{name}_tanh"), constant("one", 1.0)],
                        f"{name}_one_plus")
        half_x = node("Mul", [x, constant("half", 0.5)], f"{name}_half_x")
        return node("Mul", [half_x, one_plus], name)

    activation = policy_forward.activation(weights)
    h = node("Sub", ["observations", constant("obs_mean", weights["obs_mean"])], "centred")
    h = node("Div", [h, constant("obs_std", weights["obs_std"])], "normalised")
    for i in range(int(weights["n_hidden"])):
        h = node("MatMul", [h, constant(f"hidden_{i}_kernel", weights[f"hidden_{i}_kernel"])],
                 f"hidden_{i}_product")
        h = node("Add", [h, constant(f"hidden_{i}_bias", weights[f"hidden_{i}_bias"])],
                 f"hidden_{i}_linear")
        h = (node("Relu", [h], f"hidden_{i}") if activation == "relu"
             else gelu(h, f"hidden_{i}"))
    out = node("MatMul", [h, constant("output_kernel", weights["output_kernel"])],
               "output_product")
    out = node("Add", [out, constant("output_bias", weights["output_bias"])], "output")
    def clip(x):
        return node("Clip", [x, constant("clip_low", -1.0), constant("clip_high", 1.0)], "action")

    head = str(weights["head"])
    if head == "clip":
        action = clip(out)
    elif head == "tanh":
        action = node("Tanh", [out], "action")
    else:  # mixture
        m = int(weights["n_components"])
        mean_end = constant("mean_end", [m * act_dim], np.int64)
        zero, axis = constant("zero", [0], np.int64), constant("axis", [1], np.int64)
        flat = node("Slice", [out, zero, mean_end, axis], "means_flat")
        means = node("Reshape", [flat, constant("means_shape", [-1, m, act_dim], np.int64)],
                     "means")
        logits = node("Slice", [out, mean_end, constant("logits_end", [m * act_dim + m],
                                                        np.int64), axis], "logits")
        best = node("ArgMax", [logits], "best_mode", axis=1, keepdims=1)
        index = node("Reshape", [best, constant("index_shape", [-1, 1, 1], np.int64)],
                     "best_index")
        index = node("Expand", [index, constant("index_width", [1, 1, act_dim], np.int64)],
                     "best_indices")
        chosen = node("GatherElements", [means, index], "chosen", axis=1)
        chosen = node("Reshape", [chosen, constant("action_shape", [-1, act_dim], np.int64)],
                      "chosen_mean")
        action = clip(chosen)
    shifted = node("Add", [action, constant("one", 1.0)], "action_plus_one")
    half_range = (weights["action_high"] - weights["action_low"]) / 2.0
    scaled = node("Mul", [shifted, constant("half_range", half_range)], "action_scaled")
    node("Add", [scaled, constant("action_low", weights["action_low"])], "actions")
    graph = helper.make_graph(
        nodes, f"onemode_{weights['algo']}_policy",
        [helper.make_tensor_value_info("observations", TensorProto.FLOAT, ["batch", obs_dim])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["batch", act_dim])],
        constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
                              producer_name="onemode")
    onnx.checker.check_model(model)
    return model


def export(run_dir, fmt: str, out=None, seed_index: int = 0) -> Path:
    """Write the run's policy as `fmt` ("onnx" or "npz") to `out` (default RUN_DIR/policy.FMT).

    An npz gets `policy_forward.py`, the numpy forward, written beside it.
    """
    return export_run(load_run(run_dir), fmt, out, seed_index)


def export_run(run: LoadedRun, fmt: str, out=None, seed_index: int = 0) -> Path:
    """`export` of a run already loaded."""
    if fmt not in FORMATS:
        raise ConfigError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out) if out else run.path / f"policy.{fmt}"
    if out.suffix.lower() != f".{fmt}":
        raise ConfigError(f"--out {out} does not end in .{fmt}: an exported file's name says "
                          f"its format")
    weights = policy_weights(run, seed_index)
    try:
        if fmt == "npz":
            def write(tmp):
                with open(tmp, "wb") as f:
                    np.savez(f, **weights)
            atomic_write(out, write)
            forward = out.parent / "policy_forward.py"
            atomic_write(forward, lambda tmp: shutil.copyfile(policy_forward.__file__, tmp))
        else:
            model = onnx_model(weights)
            atomic_write(out, lambda tmp: tmp.write_bytes(model.SerializeToString()))
    except OSError as error:
        raise ConfigError(f"cannot write {out}: {error.strerror or error}") from None
    return out


def exported_actions(path, fmt: str, observations: np.ndarray) -> np.ndarray | None:
    """Actions of an exported file: numpy for npz, onnxruntime for ONNX (None without it)."""
    observations = np.asarray(observations, np.float32)
    if fmt == "npz":
        return policy_forward.forward(policy_forward.load(path), observations)
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["actions"], {"observations": observations})[0]


def check_observations(run: LoadedRun, n: int = 1000, seed: int = 0) -> np.ndarray:
    """`n` observations spread like the run's data: mean + std * N(0, I)."""
    noise = np.random.default_rng(seed).normal(size=(n, run.obs_dim))
    return (run.stats.mean + run.stats.std * noise).astype(np.float32)
