"""The `onemode` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEMO_STEPS = 8_000
# The demo trades the paper's sizes for minutes on two CPU cores: 256-wide networks,
# fewer behaviour-model updates, faster learning rates.
DEMO_CONFIG = dict(hidden=(256, 256), mdn_steps=5_000, critic_lr=1e-3, actor_lr=1e-3,
                   hyper_q_lr=1e-3)


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    from onemode.errors import USER_ERRORS, RunStopped
    try:
        return args.run(args) or 0
    except (*USER_ERRORS, FileNotFoundError, FileExistsError, KeyError, IndexError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"onemode: error: {message}", file=sys.stderr)
        return 1
    except RunStopped as stopped:
        print(f"onemode: {stopped}", file=sys.stderr)
        return 143 if stopped.signal_name == "SIGTERM" else 130
    except KeyboardInterrupt:
        print("onemode: interrupted; the last checkpoint is intact (resume with --resume)",
              file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onemode", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    data = commands.add_parser("data", help="built-in datasets and dataset files")
    data_commands = data.add_subparsers(title="data commands")
    listing = data_commands.add_parser("list", help="built-in tasks and their dataset recipes")
    listing.set_defaults(run=_data_list)
    make = data_commands.add_parser(
        "make", help="generate a built-in task's dataset, or an OGBench play dataset in "
        "OGBench's layout (cube-single-play, cube-double-play, scene-play, puzzle-3x3-play)")
    make.add_argument("task")
    make.add_argument("--out", required=True, help="file (.npz, .hdf5) or Minari directory; "
                      "an OGBench dataset: NAME.npz, its NAME-val.npz written beside it")
    make.add_argument("--size", type=int, help="transitions (default: the task's; an OGBench "
                      "dataset: 1,000,000, in whole episodes of 1,000)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--format", choices=("minari", "hdf5", "npz"))
    make.add_argument("--workers", type=int, help="processes generating an OGBench dataset "
                      "(default: one per core; the files do not depend on it)")
    make.set_defaults(run=_data_make)
    info = data_commands.add_parser("info", help="summarise a dataset file")
    info.add_argument("path")
    info.add_argument("--env", metavar="ENV_ID", help="the environment the data is for (an "
                      "OGBench file: the single task to relabel it for)")
    _add_bounds(info)
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(run=_data_info)
    modes = data_commands.add_parser(
        "modes", help="held-out NLL of a Gaussian mixture against its number of components M, "
        "and the M that n_components=auto would choose")
    modes.add_argument("path", nargs="?", help="dataset file (or give --task)")
    modes.add_argument("--task", help="a built-in task's data instead of a file")
    modes.add_argument("--env", metavar="ENV_ID", help="an OGBench file's single task")
    _add_bounds(modes)
    modes.add_argument("--hidden", default="256,256", help="the mixture network's widths")
    modes.add_argument("--candidates", help="comma-separated M (default 1-10)")
    modes.add_argument("--tolerance", type=float, help="nats per action dimension (default "
                       "n_components=auto's)")
    modes.add_argument("--updates", type=int, help="updates of each candidate's fit")
    modes.add_argument("--seed", type=int, default=0)
    modes.add_argument("--plot", help="PNG of the curve (default NAME-modes.png here)")
    modes.set_defaults(run=_data_modes)

    train = commands.add_parser("train", help="train an algorithm on a task or a dataset")
    train.add_argument("--algo", help="default: lom")
    train.add_argument("--task", help="built-in task: its data, and its environment to evaluate")
    train.add_argument("--dataset", help="dataset file; evaluated on --task or --env when given "
                       "(a Minari dataset: on the environment its metadata names)")
    _add_environment(train)
    train.add_argument("--size", type=int, help="transitions of the task's dataset")
    train.add_argument("--data-seed", type=int)
    _add_bounds(train)
    train.add_argument("--steps", type=int, help="main-phase updates")
    train.add_argument("--seeds", help="comma-separated, trained together (default: 0)")
    train.add_argument("--eval-every", type=int)
    train.add_argument("--eval-episodes", type=int)
    train.add_argument("--log-every", type=int)
    train.add_argument("--checkpoint-every", type=int)
    train.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                       help="algorithm option, e.g. --set n_components=5 (repeatable)")
    train.add_argument("--preset", help="a named set of the algorithm's options, per dataset "
                       "where its source tunes per dataset (onemode presets), which --set "
                       "overrides (lom: authors; rebrac, fql: paper)")
    train.add_argument("--out", help="run directory (default runs/ALGO-TASK)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--no-progress", action="store_true")
    train.set_defaults(run=_train)

    presets = commands.add_parser("presets", help="named settings of the algorithms, per dataset")
    presets.add_argument("name", nargs="?", metavar="ALGO/NAME",
                         help="show one preset's rows (e.g. lom/authors)")
    presets.set_defaults(run=_presets)

    evaluate = commands.add_parser("eval", help="roll out a trained run's policies")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--episodes", type=int, default=20)
    evaluate.add_argument("--task", help="evaluate on this task instead of the run's")
    evaluate.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                          help="an option that changes only how the run acts, e.g. "
                          "--set act_by=greedy_mode for lom (repeatable)")
    _add_environment(evaluate)
    evaluate.set_defaults(run=_eval)

    render = commands.add_parser("render", help="film a trained run's policy as an animated GIF")
    render.add_argument("run_dir")
    render.add_argument("--episodes", type=int, default=2, help="episodes, one after another")
    render.add_argument("--out", help="GIF file (default RUN_DIR/policy.gif)")
    render.add_argument("--seed-index", type=int, default=0,
                        help="which of the seeds trained together (0: the first)")
    render.add_argument("--fps", type=float, help="frames per second (default: the env's)")
    render.add_argument("--width", type=int, default=320)
    render.add_argument("--height", type=int, default=320)
    render.add_argument("--task", help="render in this task instead of the run's")
    _add_environment(render)
    render.set_defaults(run=_render)

    bench = commands.add_parser("bench", help="algorithms x tasks x seeds -> tables and figures")
    bench.add_argument("--tasks", help="comma-separated task names")
    bench.add_argument("--suite", choices=("locomotion", "ogbench"),
                       help="locomotion: the 15 datasets of the LOM paper's Table 1; ogbench: "
                       "OGBench's play datasets, each on its five single tasks (scored by "
                       "success rate)")
    bench.add_argument("--datasets", metavar="SELECTION",
                       help="with --suite: comma-separated kinds (medium-replay), environments "
                            "(hopper) or datasets (hopper-medium) of the locomotion suite; "
                            "play datasets of the ogbench suite (cube-single-play,scene-play)")
    bench.add_argument("--dataset", action="append", default=[], metavar="FILE",
                       help="a dataset file, evaluated on --env (repeatable)")
    _add_environment(bench)
    bench.add_argument("--algos", required=True, help="comma-separated algorithm names")
    bench.add_argument("--seeds", type=int, default=4, help="number of seeds, trained together")
    bench.add_argument("--steps", type=int, default=100_000)
    bench.add_argument("--eval-every", type=int)
    bench.add_argument("--eval-episodes", type=int, default=20)
    bench.add_argument("--size", type=int, help="transitions per task dataset")
    bench.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                       help="option for every algorithm that has it, e.g. --set hidden=128,128")
    bench.add_argument("--preset", help="a named set of options for every algorithm that has "
                       "it, each dataset its own row where the preset has one (onemode "
                       "presets), which --set overrides (lom: authors; rebrac, fql: paper)")
    bench.add_argument("--sweep", metavar="OPTION=V1,V2,...",
                       help="one run per value, e.g. --sweep n_components=1,2,5,10,20")
    bench.add_argument("--out", default="runs/bench")
    bench.add_argument("--no-progress", action="store_true")
    bench.add_argument("--report-only", action="store_true",
                       help="train nothing: write the tables from the runs OUT holds finished")
    bench.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="local: runs one after another here; ray: each run a Ray task")
    bench.add_argument("--address", help="the Ray cluster to use (default: a local instance)")
    bench.add_argument("--gpus-per-task", type=float, default=0,
                       help="GPUs Ray gives each run (e.g. 1, or 0.25 to share one)")
    bench.set_defaults(run=_bench)

    export = commands.add_parser(
        "export", help="write a run's policy as ONNX or as npz weights with a numpy forward")
    export.add_argument("run_dir")
    export.add_argument("--format", choices=("onnx", "npz"), default="onnx")
    export.add_argument("--seed-index", type=int, default=0,
                        help="which of the seeds trained together (default 0)")
    export.add_argument("--out", help="file to write (default RUN_DIR/policy.FORMAT)")
    export.set_defaults(run=_export)

    behaviour = commands.add_parser(
        "behaviour", help="the locomotion behaviour policies: SAC runs and shipped snapshots")
    behaviour_commands = behaviour.add_subparsers(title="behaviour commands")
    online = behaviour_commands.add_parser(
        "train", help="train SAC online in a gymnasium environment (continues what --out holds)")
    online.add_argument("env", help="environment id, e.g. Hopper-v5")
    online.add_argument("--out", help="run directory (default: runs/behaviour/ENV)")
    online.add_argument("--steps", type=int, default=1_000_000, help="environment steps")
    online.add_argument("--seed", type=int, default=0)
    online.add_argument("--random-steps", type=int, default=5_000,
                        help="uniform random actions before learning starts")
    online.add_argument("--snapshot-every", type=int, default=10_000,
                        help="keep the actor every this many steps")
    online.add_argument("--checkpoint-every", type=int, default=25_000)
    online.set_defaults(run=_behaviour_train)
    ship = behaviour_commands.add_parser(
        "ship", help="measure a SAC run's snapshots and write the chosen ones into the package")
    ship.add_argument("run_dir")
    ship.add_argument("--weights-dir", help="where to write (default: the package's weights/)")
    ship.add_argument("--episodes", type=int, default=10, help="episodes per measurement")
    ship.add_argument("--replay-every", type=int, default=20_000,
                      help="ship a snapshot every this many steps up to the medium one")
    ship.add_argument("--later-every", type=int, default=100_000,
                      help="... and every this many steps after it (the final one always)")
    ship.add_argument("--expert-step", type=int,
                      help="the run as it stood at this snapshot's step (default: its last)")
    ship.add_argument("--medium-candidates", type=int, default=10,
                      help="measure this many snapshots, those whose return logged in "
                           "training is nearest a third of the expert's, to find the medium")
    ship.set_defaults(run=_behaviour_ship)

    demo = commands.add_parser("demo", help="multigoal data, LOM, its score, in a few minutes")
    demo.add_argument("--out", default="runs/demo")
    demo.set_defaults(run=_demo)
    return parser


def _add_environment(parser):
    parser.add_argument("--env", metavar="ENV_ID",
                        help="a registered gymnasium environment to evaluate in, e.g. Hopper-v5")
    parser.add_argument("--ref-min", type=float,
                        help="the return that scores 0 (default: the dataset's Minari metadata, "
                        "else D4RL's for the environment's family, else raw returns)")
    parser.add_argument("--ref-max", type=float, help="the return that scores 100")


def _add_bounds(parser):
    parser.add_argument("--action-low", type=float,
                        help="native lower action bound: rescale actions to [-1, 1]")
    parser.add_argument("--action-high", type=float)


def _bounds(args):
    if (args.action_low is None) != (args.action_high is None):
        from onemode.errors import ConfigError
        raise ConfigError("give both --action-low and --action-high, or neither")
    return None if args.action_low is None else [args.action_low, args.action_high]


# ------------------------------------------------------------------- data
def _data_list(args):
    from onemode.tasks import TASKS
    for task in TASKS.values():
        print(f"{task.name}  ({task.env_id}, horizon {task.horizon}, "
              f"default {task.default_size:,} transitions)")
        print(f"    {task.description}")
        print(f"    data: {task.recipe}")
        print(f"    reference returns: random {task.random_return:g}, "
              f"expert {task.expert_return:g}")
    from onemode.tasks.ogbench_play import PLAY_DATASETS
    from onemode.tasks.ogbench_suite import single_task_envs
    for name, env_id in PLAY_DATASETS.items():
        tasks = single_task_envs(name)
        print(f"{name}  (OGBench's layout, {env_id}; `data make` writes it, onemode[ogbench])")
        print(f"    OGBench's play data: scripted oracles doing random sub-tasks; trained "
              f"and scored on its tasks {tasks[0]} .. {tasks[-1]} (success rate)")


def _data_make(args):
    from onemode.data import save_dataset
    from onemode.tasks import get_task
    from onemode.tasks.ogbench_play import PLAY_DATASETS
    from onemode.errors import ConfigError
    if args.size is not None and args.size < 1:
        raise ConfigError(f"--size must be a positive number of transitions, got {args.size}")
    if args.task in PLAY_DATASETS:
        return _make_ogbench_play(args)
    if args.workers is not None:
        raise ConfigError("--workers is for OGBench's play datasets")
    task = get_task(args.task)
    dataset = task.make_dataset(args.size or task.default_size, args.seed)
    path = save_dataset(dataset, args.out, args.format,
                        environment={"env_id": task.env_id, "ref_min_score": task.random_return,
                                     "ref_max_score": task.expert_return})
    print(f"wrote {path}")
    _print_summary(dataset.summary())


def _make_ogbench_play(args):
    from onemode.errors import ConfigError
    from onemode.tasks.ogbench_play import make_play_dataset
    from onemode.tasks.ogbench_suite import episodes_for, single_task_envs
    if args.format not in (None, "npz") or not args.out.endswith(".npz"):
        raise ConfigError(f"an OGBench dataset is written in OGBench's layout: --out must be a "
                          f".npz path, got '{args.out}'"
                          + (f" with --format {args.format}" if args.format else ""))
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    train_path, val_path = make_play_dataset(args.task, args.out, episodes_for(args.size),
                                             args.seed, args.workers,
                                             log=lambda line: print(line, flush=True))
    print(f"wrote {train_path} and {val_path} (OGBench's layout: train with `--dataset "
          f"{train_path} --env ENV`, ENV one of its single tasks, e.g. "
          f"{single_task_envs(args.task)[0]})")


def _data_info(args):
    from onemode.data import load_dataset
    from onemode.data.io import dataset_environment
    from onemode.envs import action_bounds, environment_shape, find_reference

    found = dataset_environment(args.path)
    env = args.env or found["env_id"]
    bounds = _bounds(args)
    if bounds is None and env:  # read the data in its environment's units
        bounds = action_bounds(environment_shape(env))
    dataset = load_dataset(args.path, action_bounds=bounds, env=env)
    summary = dataset.summary()
    if dataset.held_out is not None:
        summary["held_out"] = {"source": dataset.held_out.source,
                               "transitions": len(dataset.held_out)}
    reference = find_reference(env, metadata=found if env == found["env_id"] else None)
    summary["environment"] = env
    summary["reference"] = reference.to_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    _print_summary(summary)
    if args.env:
        print(f"environment   {env}")
    elif env:
        print(f"environment   {env} (recorded in the dataset's metadata)")
    else:
        print("environment   none recorded (give --env ENV_ID to train or evaluate in one)")
    if env:
        print(f"scores        {reference.describe()}")


def _print_summary(s: dict):
    def fmt(values):
        return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"

    print(f"source        {s['source']}")
    print(f"transitions   {s['transitions']:,}   episodes {s['episodes']:,}   "
          f"(terminals {s['terminals']:,}, timeouts {s['timeouts']:,}, "
          f"incomplete trailing rows {s['incomplete_trailing_rows']:,})")
    print(f"returns       mean {s['return_mean']:.3f}  std {s['return_std']:.3f}  "
          f"min {s['return_min']:.3f}  max {s['return_max']:.3f}")
    print(f"observations  dim {s['obs_dim']}  min {fmt(s['obs_min'])}  max {fmt(s['obs_max'])}")
    print(f"actions       dim {s['act_dim']}  min {fmt(s['action_min'])}  "
          f"max {fmt(s['action_max'])}")
    if "held_out" in s:
        print(f"held out      {s['held_out']['source']} ({s['held_out']['transitions']:,} "
              "transitions, the data's own validation split)")
    for note in s["notes"]:
        print(f"note          {note}")


def _data_modes(args):
    from onemode.algos import mdn
    from onemode.components import describe, resolve_components
    from onemode.data import load_dataset, split_holdout, to_device
    from onemode.errors import ConfigError
    from onemode.figures import plot_modes
    from onemode.runs import TrainConfig
    from onemode.tasks import get_task

    if (args.path is None) == (args.task is None):
        raise ConfigError("give a dataset file, or --task NAME")
    values = {"n_components": "auto", "hidden": args.hidden}
    for option, value in (("candidate_components", args.candidates),
                          ("selection_tolerance", args.tolerance),
                          ("selection_updates", args.updates)):
        if value is not None:
            values[option] = value
    config = mdn.Config.from_dict(values)
    if args.task:
        task = get_task(args.task)
        dataset, name = task.make_dataset(task.default_size, 0), args.task
    else:
        dataset = load_dataset(args.path, action_bounds=_bounds(args), env=args.env)
        name = Path(args.path).stem
    # the episodes a run holds out: TrainConfig's fraction, the data seed 0
    train_set, holdout_set = split_holdout(dataset, TrainConfig().holdout_fraction, 0)
    stats = dataset.obs_stats
    _, record = resolve_components(config, to_device(train_set, stats),
                                   to_device(holdout_set, stats) if holdout_set else None,
                                   dataset.act_dim, args.seed)
    print(f"{name}: {dataset.act_dim}-dimensional actions, {len(train_set.observations):,} "
          f"transitions fitted, {len(holdout_set.observations):,} held out")
    print("   M   held-out NLL (nats per transition)")
    for m, nll in zip(record["candidates"], record["holdout_nll"]):
        print(f"{m:4d}   {nll:9.4f}" + ("   <- chosen" if m == record["n_components"] else ""))
    print(describe(record))
    plot = Path(args.plot or f"{name}-modes.png")
    plot_modes(record, plot, f"{name} ({dataset.act_dim}-d actions)")
    print(f"plot: {plot}")


# ---------------------------------------------------------------- presets
def _presets(args):
    from onemode.errors import ConfigError
    from onemode.presets import all_presets, find_preset

    if args.name is None:
        for preset in all_presets():
            print(f"{preset.algo}/{preset.name}  --algo {preset.algo} --preset {preset.name}"
                  f"  ({len(preset.rows)} dataset rows; {preset.path.name})")
            print(f"    source: {preset.source}")
        return
    algo, _, name = args.name.partition("/")
    preset = find_preset(algo, name)
    if preset is None:
        known = ", ".join(f"{p.algo}/{p.name}" for p in all_presets())
        raise ConfigError(f"no preset '{args.name}'; presets: {known}")
    print(f"{preset.algo}/{preset.name}: {preset.source}")
    print(f"file: {preset.path}")
    print("on every dataset: " + ", ".join(f"{k}={v}" for k, v in preset.common.items()))
    for dataset, row in preset.rows.items():
        print(f"  {dataset:28s} " + ", ".join(f"{k}={v}" for k, v in row.items()))
    shared = preset.shared_by_all_rows()
    print("on other data: the settings on every dataset"
          + (", and " + ", ".join(f"{k}={v}" for k, v in shared.items()) if shared else ""))


# ------------------------------------------------------------------ train
def _train(args):
    from onemode.algos import get_algo
    from onemode.presets import configure
    from onemode.runs import RunDir, TrainConfig
    from onemode.targets import data_spec, evaluation_target
    from onemode.train import train

    overrides = {k: v for k, v in (("log_every", args.log_every), ("eval_every", args.eval_every),
                                   ("eval_episodes", args.eval_episodes),
                                   ("checkpoint_every", args.checkpoint_every),
                                   ("steps", args.steps)) if v is not None}
    if args.resume:
        from onemode.errors import ConfigError
        if not args.out:
            raise ConfigError("--resume needs --out RUN_DIR")
        fixed = [flag for flag, value in (
            ("--algo", args.algo), ("--task", args.task), ("--dataset", args.dataset),
            ("--size", args.size), ("--data-seed", args.data_seed), ("--seeds", args.seeds),
            ("--set", args.set or None), ("--preset", args.preset),
            ("--action-low", args.action_low),
            ("--action-high", args.action_high), ("--env", args.env),
            ("--ref-min", args.ref_min), ("--ref-max", args.ref_max)) if value is not None]
        if fixed:
            raise ConfigError(f"--resume continues {args.out} with the settings in its "
                              f"config.json; {', '.join(fixed)} cannot change them (only "
                              f"--steps, --eval-episodes and the log, eval and checkpoint "
                              f"periods can); train into a new --out instead")
        run = RunDir(args.out)
        record = run.read_record()
        algo_name, algo_config, spec = record.algo, record.algo_config, record.data
        config = record.train_config.replace(**overrides)
        if not run.checkpoint_path.exists():
            print(f"{run.path}: no checkpoint yet (the run stopped before its first one): "
                  f"training it from step 0 with the settings its config.json records")
    else:
        algo_name = args.algo or "lom"
        get_algo(algo_name)  # an unknown name fails before the data is looked at
        config = TrainConfig.from_dict({"seeds": _parse_seeds(args.seeds or "0"), **overrides})
        spec = data_spec(task=args.task, dataset=args.dataset, size=args.size,
                         data_seed=args.data_seed or 0, action_bounds=_bounds(args),
                         env=args.env, ref_min=args.ref_min, ref_max=args.ref_max)
        algo_config, preset_note = configure(algo_name, _parse_sets(args.set), args.preset,
                                             spec.label)
        if preset_note:
            print(preset_note)
    out = args.out or f"runs/{algo_name}-{spec.label}"
    result = train(algo_name, algo_config, config, spec, out, resume=args.resume,
                   show_progress=not args.no_progress)
    print(f"run directory: {result.run_dir}")
    if result.final_eval is not None:
        _print_scores(result.final_eval, config.seeds, evaluation_target(spec).reference)


def _parse_sets(items: list[str]) -> dict:
    from onemode.errors import ConfigError
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects OPTION=VALUE, got '{item}'")
        values[key.strip()] = value.strip()
    return values


def _parse_seeds(text: str) -> tuple[int, ...]:
    from onemode.errors import ConfigError
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ConfigError(f"--seeds expects comma-separated integers such as 0,1,2, got "
                          f"'{text}'") from None


def _print_scores(rollouts, seeds, reference):
    per_seed = rollouts.scores.mean(axis=1)
    label = reference.label
    for seed, score, ret in zip(seeds, per_seed, rollouts.returns.mean(axis=1)):
        if label != "return":
            print(f"seed {seed}: {label} {score:6.1f}   return {ret:8.2f}")
        else:
            print(f"seed {seed}: return {ret:8.2f}")
    print(f"{label}: {per_seed.mean():.1f} ± {per_seed.std():.1f} "
          f"(mean ± std over {len(seeds)} seed{'s' if len(seeds) > 1 else ''}, "
          f"{rollouts.scores.shape[1]} episodes each; {reference.describe()})")


# ------------------------------------------------------------------- eval
def _eval(args):
    import numpy as np

    from onemode.evaluate import rollout_seeds
    from onemode.policy import load_run
    from onemode.targets import run_target

    from onemode.errors import ConfigError
    if args.episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {args.episodes}")
    acting = _parse_sets(args.set)
    run = load_run(args.run_dir, acting=acting)
    target = run_target(run, args.task, args.env, args.ref_min, args.ref_max)
    seeds = run.train_config.seeds
    rollouts = rollout_seeds(target, lambda obs: np.asarray(run.act(run.state, obs)),
                             len(seeds), args.episodes)
    changed = "".join(f", {key}={getattr(run.algo_config, key)}" for key in acting)
    print(f"{run.algo_name}{changed} on {target.name}, after {run.step:,} updates")
    _print_scores(rollouts, seeds, target.reference)


# ----------------------------------------------------------------- render
def _render(args):
    from onemode.render import use_headless_gl
    use_headless_gl()   # before anything can import MuJoCo's GL
    from onemode.policy import load_run
    from onemode.render import render_run
    from onemode.targets import run_target

    run = load_run(args.run_dir)
    target = run_target(run, args.task, args.env, args.ref_min, args.ref_max, verb="render")
    out = args.out or Path(run.path) / "policy.gif"
    result = render_run(run, target, out, episodes=args.episodes, seed_index=args.seed_index,
                        fps=args.fps, width=args.width, height=args.height)
    seed = run.train_config.seeds[args.seed_index]
    print(f"wrote {result.path} ({result.frames} frames, {args.width}x{args.height}, "
          f"{result.fps:g} fps): {run.algo_name} seed {seed} on {target.name}, "
          f"after {run.step:,} updates")
    for e, (ret, score) in enumerate(zip(result.returns, result.scores)):
        print(f"episode {e + 1}: return {ret:8.2f}   {target.reference.label} {score:6.1f}")
    print(f"scores: {target.reference.describe()}")


# ------------------------------------------------------------------ bench
def _bench(args):
    from onemode.errors import ConfigError
    from onemode.bench import BenchSpec, run_bench

    def names(text):
        return tuple(n.strip() for n in text.split(",") if n.strip())

    sweep = None
    if args.sweep:
        option, sep, values = args.sweep.partition("=")
        if not sep or not names(values):
            raise ConfigError(f"--sweep expects OPTION=V1,V2,..., got '{args.sweep}'")
        sweep = (option.strip(), names(values))
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    tasks = names(args.tasks or "")
    if args.datasets and not args.suite:
        raise ConfigError("--datasets selects from a suite: give --suite locomotion or ogbench")
    ogbench = ()
    if args.suite == "locomotion":
        from onemode.tasks.locomotion import table_tasks
        tasks = tuple(dict.fromkeys(table_tasks(names(args.datasets or "")) + tasks))
    elif args.suite == "ogbench":
        from onemode.tasks.ogbench_suite import suite_datasets
        ogbench = suite_datasets(names(args.datasets or ""))
    spec = BenchSpec(tasks=tasks, algos=names(args.algos),
                     seeds=tuple(range(args.seeds)), steps=args.steps,
                     eval_every=args.eval_every or max(1, args.steps // 5),
                     eval_episodes=args.eval_episodes, size=args.size,
                     options=tuple(_parse_sets(args.set).items()), preset=args.preset,
                     sweep=sweep,
                     datasets=tuple(args.dataset), env=args.env, ref_min=args.ref_min,
                     ref_max=args.ref_max, ogbench=ogbench)
    if args.backend == "local" and (args.address or args.gpus_per_task):
        raise ConfigError("--address and --gpus-per-task are for --backend ray")
    run_bench(spec, args.out, show_progress=not args.no_progress, backend=args.backend,
              address=args.address, gpus_per_task=args.gpus_per_task,
              report_only=args.report_only)
    print((Path(args.out) / "table.md").read_text())
    print(f"tables, curves and action figures in {args.out}")


# ---------------------------------------------------- export and behaviour
def _export(args) -> int:
    import numpy as np

    from onemode.export import check_observations, export_run, exported_actions
    from onemode.policy import Policy, load_run
    run = load_run(args.run_dir)
    path = export_run(run, args.format, args.out, args.seed_index)
    observations = check_observations(run)
    actions = exported_actions(path, args.format, observations)
    print(f"wrote {path} ({run.algo_name}, seed index {args.seed_index}, "
          f"{run.obs_dim} observations in, {run.act_dim} actions out)")
    if args.format == "npz":
        print(f"numpy forward: {path.parent / 'policy_forward.py'} "
              f"(load(path), forward(weights, observations))")
    if actions is None:
        print("not checked: onnxruntime is not installed")
    else:
        expected = Policy(run, args.seed_index)(observations)
        print(f"checked on {len(observations):,} observations: largest difference from "
              f"onemode's policy {np.max(np.abs(actions - expected)):.2e}")
    return 0


def _behaviour_train(args) -> int:
    from onemode.behaviour.online import OnlineRun, OnlineSettings
    settings = OnlineSettings(env_id=args.env, steps=args.steps, seed=args.seed,
                              random_steps=args.random_steps, snapshot_every=args.snapshot_every,
                              checkpoint_every=args.checkpoint_every)
    out = args.out or Path("runs") / "behaviour" / args.env
    print(f"SAC on {args.env} -> {out}", flush=True)
    OnlineRun(out, settings, log=lambda line: print(line, flush=True)).run()
    return 0


def _behaviour_ship(args) -> int:
    from onemode.behaviour.snapshots import WEIGHTS_DIR, ship
    entry = ship(args.run_dir, args.weights_dir or WEIGHTS_DIR, episodes=args.episodes,
                 replay_every=args.replay_every, later_every=args.later_every,
                 expert_step=args.expert_step, medium_candidates_n=args.medium_candidates,
                 log=lambda line: print(line, flush=True))
    print(f"shipped {len(entry['snapshots'])} snapshots of {args.run_dir}: medium at step "
          f"{entry['medium_step']:,}, expert at step {entry['expert_step']:,}")
    return 0


# ------------------------------------------------------------------- demo
def _demo(args):
    import shutil

    from onemode.algos import lom
    from onemode.runs import TrainConfig
    from onemode.targets import data_spec
    from onemode.tasks import get_task
    from onemode.train import train

    task = get_task("multigoal")
    dataset = task.make_dataset(task.default_size, 0)
    print(f"multigoal dataset: {task.recipe}")
    _print_summary(dataset.summary())
    print(f"\ntraining LOM on multigoal ({DEMO_STEPS:,} updates; run directory {args.out})")
    shutil.rmtree(args.out, ignore_errors=True)
    result = train("lom", lom.Config(**DEMO_CONFIG),
                   TrainConfig(steps=DEMO_STEPS, eval_every=4_000, checkpoint_every=4_000,
                               eval_episodes=20),
                   data_spec(task="multigoal"), args.out)
    _print_scores(result.final_eval, (0,), task.reference)
    goals = _goal_counts(result.final_eval.final_observations[0])
    print("episodes ending at each goal: " + ", ".join(f"{g} {n}" for g, n in goals.items()))


def _goal_counts(final_positions) -> dict:
    from onemode.tasks.multigoal import GOALS, goal_at
    reached = goal_at(final_positions)
    counts = {f"({x:+.0f},{y:+.0f})": int((reached == i).sum()) for i, (x, y) in enumerate(GOALS)}
    counts["none"] = int((reached < 0).sum())
    return counts


if __name__ == "__main__":
    sys.exit(main())
