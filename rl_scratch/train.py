"""Train an agent on an environment and keep everything in a run folder: the command line.

    python -m rl_scratch.train --env GridWorld
    python -m rl_scratch.train --env CartPole-v1 --agent dqn --steps 50000 --lr 5e-4 --hidden 128,128
    python -m rl_scratch.train --env GridWorld --agent qlearning
    python -m rl_scratch.train --resume runs/GridWorld-dqn-20260101-120000 --steps 20000
    python -m rl_scratch.train --list

This module holds the arguments, `--list` and `main`. Defaults come from
`rl_scratch.config` (dataclass defaults, then the env and tuned tables, then
--config FILE, then flags); `rl_scratch.launch` turns the arguments into a new or
resumed run, `rl_scratch.trainer` runs it, `rl_scratch.console` prints it, and the
run folder layout is described in `rl_scratch.runs`. Ctrl-C or SIGTERM stops at the
end of the current episode, saves, and prints how to resume; a second one stops at
once (still saving); `rl_scratch.signals` says what happens when.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from rl_scratch import config as cfg
from rl_scratch import tensorboard
from rl_scratch.config import ConfigError
from rl_scratch.console import EXIT_USAGE, Parser, command, error_line, say
from rl_scratch.launch import resolve_new_run, resume_run, start_new_run
from rl_scratch.runs import RunFolderError, discard_new_run
from rl_scratch.runtime import configure_for_small_networks
from rl_scratch.signals import Interrupted, StopSignals, exit_code, signal_name
from rl_scratch.trainer import TrainingFault
from rl_scratch.window import missing_display


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=command("train"),
        description="Train an rl_scratch agent on a Gymnasium environment; results go to a run folder.",
        epilog="Lookup order: dataclass defaults < env/tuned tables < --config file < flags. "
               "NumPy's BLAS runs on one thread (faster for these small networks); set OPENBLAS_NUM_THREADS "
               "to choose. "
               "Examples: --env GridWorld | --env GridWorld --agent qlearning | "
               "--env CartPole-v1 --steps 50000 --set batch_size=128 | --resume runs/<run> --steps 20000",
    )
    what = p.add_argument_group("what to train")
    what.add_argument("--env", help="GridWorld, Iris, NextToken (any case), other short names from --list, "
                                    "or any Gymnasium id with Discrete actions (CartPole-v1, FrozenLake-v1)")
    what.add_argument("--agent", help="qlearning, sarsa, value_iteration, dqn, reinforce, a2c, ppo, supervised, ... "
                                      "(default: per env; --list shows all with their hyperparameters)")
    what.add_argument("--policy", help="network of a network agent: mlp, attention (GridWorld cells as tokens), "
                                       "or gpt (supervised on text); default: per env, see --list")
    what.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                      help="gymnasium.make option, repeatable (e.g. obs_mode=coords, slip_prob=0.1). A custom "
                           "GridWorld map is desc= rows of S start, G goal, . floor, # wall, H pit, as a JSON list: "
                           "--env-kwarg 'desc=[\"S..\", \".#.\", \"..G\"]'")
    what.add_argument("--corpus", metavar="FILE",
                      help="NextToken: train on this UTF-8 text file instead of the bundled corpus")
    what.add_argument("--config", metavar="FILE", help="TOML or JSON file with the same keys as a run's "
                                                       "config.json (env, agent, steps, [hyperparameters], ...)")
    what.add_argument("--list", action="store_true", help="print envs, agents and their defaults, then exit")

    budget = p.add_argument_group("budget and hyperparameters")
    budget.add_argument("--steps", type=int, help="total env steps to train for (with --resume: the new total)")
    budget.add_argument("--episodes", type=int, help="total episodes to train for (instead of, or with, --steps)")
    budget.add_argument("--lr", type=float, help="learning rate")
    budget.add_argument("--gamma", type=float, help="discount factor")
    budget.add_argument("--hidden", metavar="SIZES", help="hidden layer sizes, e.g. 64,64")
    budget.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any field of the agent's Config, repeatable (an unknown key lists the valid ones)")
    budget.add_argument("--seed", type=int, help="seeds the agent, its envs and action spaces, and the "
                                                 "evaluation env (default 0); same seed, same metrics.csv")

    ev = p.add_argument_group("evaluation and checkpoints")
    ev.add_argument("--eval-every", type=int, metavar="STEPS", help="env steps between deterministic evaluations "
                                                                    "on a separate seeded env (0: only at the end)")
    ev.add_argument("--eval-episodes", type=int, metavar="N", help="episodes per evaluation")
    ev.add_argument("--final-eval-episodes", type=int, metavar="N",
                    help="episodes of the final evaluation, the run's result (default: --eval-episodes)")
    ev.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                    help="env steps between checkpoints (default: every tenth of the budget)")
    ev.add_argument("--stop-at-target", action=argparse.BooleanOptionalAction, default=None,
                    help="stop once an evaluation reaches the optimum or the env's reward threshold "
                         "(a resumed run that already reached it trains on, unless given again)")

    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", help="run folder (default: runs/<env>-<agent>-<timestamp>)")
    out.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint.npz "
                                                         "(optimizer, schedules, counters, exploration restored)")
    out.add_argument("--tensorboard", metavar="DIR",
                     help="also write metrics.csv's and evaluations.csv's scalars as TensorBoard event files in DIR "
                          "(the tensorboard extra: pip install -e '.[tensorboard]'); view with tensorboard --logdir DIR")
    out.add_argument("--render", action="store_true", help="show training episodes in a pygame window")
    out.add_argument("--render-every", type=int, default=10, metavar="N",
                     help="with --render: show every N-th training episode (default 10)")
    return p


# -------------------------------------------------------------- listing
def print_list() -> None:
    from rl_scratch.agents.registry import AGENTS

    lines = ["Environments (short name, Gymnasium id: default agent, policy, steps, env options):"]
    for env_id, d in cfg.ENV_DEFAULTS.items():
        options = {**d.env_kwargs, **d.input_env_kwargs.get(d.policy or "tabular", {})}
        extra = f", options {options}" if options else ""
        extra += f", evaluated on {d.eval_env_kwargs}" if d.eval_env_kwargs else ""
        lines.append(f"  {cfg.display_name(env_id):<20} {env_id:<34} {d.agent}, {d.policy or 'agent default'}, "
                     f"{cfg.budget_for(d.agent, env_id, d)} steps{extra}")
    lines.append("  any other Gymnasium id with Discrete actions: value_iteration (fit_time_limit) on Discrete observations "
                 "with a transition model (Toy Text's P), qlearning on other Discrete observations (1000 steps per state "
                 "and action, 50000-500000), else dqn with an MLP and the values tuned for Acrobot-v1 (50000 "
                 "steps); the planner also where --env-kwarg changes "
                 "FrozenLake-v1's or Taxi-v4's model or time limit")
    lines.append("\nAgents (hyperparameter defaults; --set KEY=VALUE changes any of them):")
    for name, agent_cls in AGENTS.items():
        lines.append(f"  {name}: {cfg.describe_hyperparameters(agent_cls.Config())}")
        for env_id in dict.fromkeys([*cfg.ENV_DEFAULTS, *cfg.tuned_envs(name)]):
            tuned = cfg.tuned_hyperparameters(name, env_id)
            budget = cfg.tuned_budget(name, env_id)
            if tuned or budget:
                lines.append(f"      tuned for {cfg.display_name(env_id)}: {cfg.describe_values(tuned)}"
                             + (f" (budget {budget} steps)" if budget else ""))
            attention = cfg.tuned_hyperparameters(name, env_id, "attention")
            if attention:
                lines.append(f"      tuned for {cfg.display_name(env_id)} with --policy attention: "
                             f"{cfg.describe_values(attention)}")
    say("\n".join(lines))


def resolve_command(argv: list[str]) -> cfg.ResolvedConfig:
    """What `train ARGV` would train with, resolved through the same layers, without starting it
    (the benchmark compares it with a finished run's config.json to know whether the run still holds)."""
    return resolve_new_run(build_parser().parse_args(list(argv)))


def main(argv: list[str] | None = None) -> int:
    # SIGINT and SIGTERM alike from here on: during start-up they stop at once, leaving no run folder.
    signals = StopSignals().install()
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        try:
            args = build_parser().parse_args(argv)
            if args.render_every < 1:
                raise ConfigError(f"--render-every must be a positive integer, got {args.render_every}")
            if args.list:
                print_list()
                return 0
            if args.render and (reason := missing_display()) is not None:
                raise ConfigError(f"--render: no display to show training episodes on ({reason}); train without "
                                  f"--render, then record the agent with {command('play')} RUN --record episodes.gif")
            if args.tensorboard is not None:
                tensorboard.check_installed("--tensorboard")
            trainer, header = resume_run(args, argv) if args.resume else start_new_run(args, argv)
            if args.tensorboard is not None:
                try:
                    trainer.log_to_tensorboard(args.tensorboard)
                except ConfigError:
                    trainer.close()
                    if not args.resume:
                        discard_new_run(trainer.folder)
                    raise
                header += f"\n  TensorBoard: tensorboard --logdir {shlex.quote(args.tensorboard)}"
        except (ConfigError, RunFolderError) as error:
            error_line(str(error))
            return EXIT_USAGE
        try:
            say(header)
            configure_for_small_networks()
        except Interrupted:
            trainer.close()
            if not args.resume:
                discard_new_run(trainer.folder)
            raise
        try:
            return trainer.run(signals)
        except TrainingFault as fault:
            error_line(str(fault))
            return EXIT_USAGE
    except Interrupted as stop:
        sys.stderr.write(f"{signal_name(stop.signum)}: stopped during start-up, before training began; "
                         "nothing was trained or saved\n")
        return exit_code(stop.signum)
    finally:
        signals.restore()


if __name__ == "__main__":
    sys.exit(main())
