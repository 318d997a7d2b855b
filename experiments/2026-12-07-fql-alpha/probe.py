"""Quick probe: FQL on multigoal at small sizes; episodes at the best goal with z = 0 and with
sampled z, and the flow's samples' quadrants at the origin."""
import sys, time, json
import jax, jax.numpy as jnp, numpy as np
from onemode.algos import get_algo
from onemode.policy import load_run
from onemode.runs import TrainConfig
from onemode.targets import data_spec
from onemode.train import train
from onemode.tasks.multigoal import BEST_GOAL, goal_at, rollout, sample_starts

def main(out, steps, **options):
    fql = get_algo("fql")
    config = fql.Config(**options)
    tc = TrainConfig(steps=steps, seeds=(0, 1), log_every=steps, eval_every=steps,
                     eval_episodes=20, checkpoint_every=steps)
    tic = time.time()
    result = train("fql", config, tc, data_spec(task="multigoal", size=40000), out,
                   show_progress=False)
    secs = time.time() - tic
    ends = goal_at(result.final_eval.final_observations)
    at_best = (ends == BEST_GOAL).mean(axis=1)
    endings = [[int((e == g).sum()) for g in (0, 1, 2, 3, -1)] for e in ends]
    run = load_run(result.run_dir)
    starts = sample_starts(np.random.default_rng(1), 200)
    sampled, quads = [], []
    for seed in range(2):
        state = jax.tree.map(lambda x: x[seed], result.state)
        key = [jax.random.PRNGKey(100 + seed)]
        def policy(pos):
            key[0], k = jax.random.split(key[0])
            obs = jnp.asarray(run.stats.normalize(pos))
            return np.asarray(fql.sample_actions(state, obs, k, 1, config)[0])
        final, _ = rollout(policy, starts)
        sampled.append(float((goal_at(final) == BEST_GOAL).mean()))
        origin = jnp.asarray(run.stats.normalize(np.zeros((1, 2), np.float32)))
        flow = np.asarray(fql.sample_flow_actions(state, origin, jax.random.PRNGKey(7), 100, config))[:, 0]
        q = np.unique((flow[:, 0] > 0) * 1 + (flow[:, 1] > 0) * 2, return_counts=True)
        quads.append({int(a): int(b) for a, b in zip(*q)})
    print(json.dumps({"options": options, "steps": steps, "seconds": round(secs, 1),
                      "score": result.final_eval.scores.mean(axis=1).round(1).tolist(),
                      "at_best_z0": at_best.tolist(), "endings_I_II_III_IV_none": endings, "at_best_sampled_z": sampled,
                      "flow_quadrants": quads}), flush=True)

if __name__ == "__main__":
    out = sys.argv[1]; steps = int(sys.argv[2])
    options = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    main(out, steps, **options)
