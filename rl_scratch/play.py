"""Watch a trained agent: render its episodes, record them, or generate text.

    python -m rl_scratch.play runs/GridWorld-dqn-20260101-120000
    python -m rl_scratch.play runs/GridWorld-dqn-20260101-120000/checkpoint.npz --episodes 5 --fps 4
    python -m rl_scratch.play runs/<run> --record episode.gif        # no display needed
    python -m rl_scratch.play runs/<NextToken run> --prompt "The agent " --length 200 --temperature 0.8
    python -m rl_scratch.play --env GridWorld --keys                  # play it yourself (rl_scratch/keyboard.py)

A run folder gives the env (config.json) and the agent (best.npz, else
checkpoint.npz; --checkpoint last picks checkpoint.npz). A bare checkpoint file
takes its env from the config.json beside it, or from --env. On GridWorld the
cells are shaded by the agent's state values and show its greedy action.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from rl_scratch import attention_view, keyboard
from rl_scratch import config as cfg
from rl_scratch import runs
from rl_scratch.checkpoints import load_checked
from rl_scratch.config import ConfigError
from rl_scratch.console import EXIT_USAGE, Parser, command, error_line
from rl_scratch.extras import MissingExtra, import_extra
from rl_scratch.runs import RunFolderError
from rl_scratch.runtime import configure_for_small_networks
from rl_scratch.window import FrameWindow, missing_display

VIDEO_SUFFIXES = (".gif", ".mp4")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=command("play"),
               description="Render a trained agent's episodes (pygame window), record them to a GIF, "
                           "or generate text on NextToken.")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT", nargs="?",
                   help="a run folder or an agent .npz checkpoint (leave it out with --keys)")
    p.add_argument("--keys", action="store_true",
                   help="play --env yourself instead: arrow keys or WASD move, R starts a new episode, Esc quits "
                        "(GridWorld maps via --env-kwarg map_name=..., CueCorridor, FrozenLake)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="for a run folder: best.npz (default, falls back to the last) or checkpoint.npz")
    p.add_argument("--episodes", type=int, default=3, help="episodes to play (default 3)")
    p.add_argument("--fps", type=float, help="frames per second (default: the env's render_fps)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--deterministic", dest="deterministic", action="store_true", default=True,
                      help="greedy actions (default)")
    mode.add_argument("--stochastic", dest="deterministic", action="store_false",
                      help="sample actions as in training")
    p.add_argument("--seed", type=int, default=0, help="seed of the episodes (default 0)")
    p.add_argument("--record", metavar="FILE", help="write the frames to FILE instead of opening a window (no display "
                                                    "needed): .gif, or .mp4 with the video extra "
                                                    "(pip install -e '.[video]')")
    p.add_argument("--env", help="env for a checkpoint without a config.json beside it, or to play with --keys "
                                 "(short name or id)")
    p.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                   help="gymnasium.make option, repeatable (with --env)")
    p.add_argument("--no-overlay", action="store_true", help="GridWorld: do not shade values or draw the policy")
    p.add_argument("--attention", action="store_true",
                   help="attention policies: draw each head's attention weights (cells, or the past steps of a "
                        "history window) beside or under the frame")
    text = p.add_argument_group("NextToken text generation")
    text.add_argument("--prompt", help="text to continue (default: the start of the corpus)")
    text.add_argument("--length", type=int, default=200, help="characters to generate (default 200)")
    text.add_argument("--temperature", type=float, default=1.0,
                      help="sampling temperature; 0 picks the most likely character (default 1.0)")
    return p


# ------------------------------------------------------------- overlay
def grid_values_and_policy(agent, env) -> tuple[np.ndarray | None, np.ndarray]:
    """Values and greedy actions of every floor cell of a GridWorld, for `set_overlay`.

    Each cell's observation comes from `reset(options={"state": s})` on `env`, so
    it works for every obs_mode. Non-floor cells get value 0 and action 0 (not drawn).
    """
    base = env.unwrapped
    floor, observations = floor_observations(env)
    policy = np.zeros(base.n_states, dtype=np.int64)
    policy[floor] = [agent.act(obs, deterministic=True) for obs in observations]
    floor_values = agent.state_values(observations)
    if floor_values is None:
        return None, policy
    values = np.zeros(base.n_states)
    values[floor] = floor_values
    return values, policy


def floor_observations(env) -> tuple[np.ndarray, list]:
    """(floor states, the observation of each) of a GridWorld, from `reset(options={"state": s})`."""
    floor = np.flatnonzero(np.isin(env.unwrapped.grid.ravel(), ["S", "."]))
    return floor, [env.reset(options={"state": int(s)})[0] for s in floor]


# ------------------------------------------------------------- loading
def load(path_text: str, checkpoint: str, env_name: str | None, env_kwarg: list[str]):
    """(agent, env id, env kwargs, checkpoint path) from a run folder or a checkpoint file."""
    path = Path(path_text)
    if path.is_dir():
        candidates = ([path / runs.BEST_FILE] if checkpoint == "best" else []) + [path / runs.CHECKPOINT_FILE]
        ckpt = next((c for c in candidates if c.exists()), None)
        if ckpt is None:
            raise ConfigError(f"{path} holds no checkpoint (best.npz or checkpoint.npz): is it a run folder?")
        config_path = path / runs.CONFIG_FILE
    elif path.exists():
        ckpt, config_path = path, path.parent / runs.CONFIG_FILE
    else:
        raise ConfigError(f"{path} does not exist (expected a run folder or a .npz checkpoint)")

    record = runs.read_json(config_path) if env_name is None and config_path.exists() else None
    expected = record.get("agent") if record is not None else None
    agent = load_checked(ckpt, expected if isinstance(expected, str) else None)
    if env_name is not None:
        # The env table's options for this agent's input (GridWorld: obs_mode), then the user's.
        env_id = cfg.resolve_env_id(env_name)
        table = cfg.ENV_DEFAULTS.get(env_id, cfg.EnvDefaults(agent=agent.name))
        kind = getattr(agent.config, "policy", None) or "tabular"
        env_kwargs = {**table.env_kwargs, **table.input_env_kwargs.get(kind, {}), **table.eval_env_kwargs,
                      **cfg.parse_env_kwargs(cfg.parse_assignments(env_kwarg, "--env-kwarg"))}
    elif record is not None:
        if not isinstance(record.get("env"), str):
            raise ConfigError(f"{config_path} names no env; pass --env")
        env_id = record["env"]
        env_kwargs = {**record.get("env_kwargs", {}), **record.get("eval_env_kwargs", {})}
    else:
        raise ConfigError(f"{ckpt} has no config.json beside it; pass --env (and --env-kwarg) to say which env "
                          "it was trained on")
    return agent, env_id, env_kwargs, ckpt


# ------------------------------------------------------------- writing
def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """GIF through Pillow (a core dependency); MP4 (H.264) through the optional [video] extra."""
    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(frame) for frame in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=max(20, round(1000 / fps)), loop=0)
        return
    imageio = import_extra("imageio.v2", "video", "--record .mp4")
    # H.264 wants even frame sides: a block size of 2 pads odd sizes by one pixel instead of
    # imageio's default of rescaling every frame to a multiple of 16.
    with imageio.get_writer(path, format="FFMPEG", fps=fps, macro_block_size=2) as writer:
        for frame in frames:
            writer.append_data(frame)


def check_record_path(path: Path) -> None:
    """Everything about --record that can be wrong, found before any episode is played."""
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ConfigError(f"--record {path}: unsupported file type {suffix or '(none)'!r}; use .gif "
                          "(or .mp4 with the video extra)")
    if suffix == ".mp4":
        try:
            import_extra("imageio", "video", f"--record {path}")
            import_extra("imageio_ffmpeg", "video", f"--record {path}")  # the ffmpeg binary imageio writes with
        except MissingExtra as error:
            raise ConfigError(f"{error}; or record a .gif") from None
    if not path.parent.exists():
        raise ConfigError(f"--record {path}: folder {path.parent} does not exist")


# ---------------------------------------------------------------- text
def generate_text(agent, env, prompt: str | None, length: int, temperature: float, seed: int) -> str:
    """Continue `prompt` by `length` characters.

    Uses the agent's own `generate(prompt, length, temperature, rng)` when it has
    one (language models); otherwise feeds the agent a sliding window of the last
    `context` characters and takes its action as the next character (greedy at
    temperature 0, else sampled with the agent's policy).
    """
    rng = np.random.default_rng(seed)
    base = env.unwrapped
    tokenizer, context = base.tokenizer, base.context
    if prompt is None:
        prompt = tokenizer.decode(base.dataset("train")[:context])
    if not prompt:
        raise ConfigError("--prompt is empty: give at least one character to continue, or leave --prompt out "
                          "to start from the corpus")
    try:
        ids = list(tokenizer.encode(prompt))
    except ValueError as error:
        raise ConfigError(f"--prompt: {error}; leave them out, or train on a corpus that has them "
                          "(train --corpus FILE)") from None
    if callable(getattr(agent, "generate", None)):
        text = agent.generate(prompt, length, temperature, rng)
        return text if text.startswith(prompt) else prompt + text
    pad = tokenizer.stoi.get(" ", 0)
    for _ in range(length):
        window = ids[-context:]
        obs = np.array([pad] * (context - len(window)) + window, dtype=np.int64)
        ids.append(agent.act(obs, deterministic=temperature == 0))
    return tokenizer.decode(np.array(ids))


# ---------------------------------------------------------------- main
def play_yourself(args) -> int:
    """--keys: the env in a window, moved by the keys pressed in it."""
    if args.path is not None:
        raise ConfigError(f"--keys plays the env yourself; leave out {args.path} (or leave out --keys to watch it)")
    if args.env is None:
        raise ConfigError("--keys needs the env to play: --env GridWorld (any map via --env-kwarg map_name=...)")
    if args.record:
        raise ConfigError("--keys plays in a window; --record writes a trained agent's episodes")
    env_id = cfg.resolve_env_id(args.env)
    directions = keyboard.direction_actions(env_id)
    reason = missing_display()
    if reason is not None:
        raise ConfigError(f"--keys needs a window to play in, and there is no display ({reason})")
    env_kwargs = cfg.parse_env_kwargs(cfg.parse_assignments(args.env_kwarg, "--env-kwarg"))
    env = cfg.make_env(env_id, env_kwargs, render_mode="rgb_array")
    window = FrameWindow(f"rl-scratch: play {cfg.display_name(env_id)} ({keyboard.HELP})", args.fps or 30)
    print(f"Playing {env_id}" + (f" {env_kwargs}" if env_kwargs else "") + f": {keyboard.HELP}")
    try:
        returns = keyboard.play_by_keys(env, window, directions, seed=args.seed)
    finally:
        env.close()
        window.close()
    if len(returns) > 1:
        print(f"mean return {np.mean(returns):.3f} over {len(returns)} episodes")
    return 0


def play(args) -> int:
    from rl_scratch.agents.checkpoint import ensure_compatible

    if args.episodes < 1:
        raise ConfigError(f"--episodes must be a positive integer, got {args.episodes}")
    if args.fps is not None and not args.fps > 0:
        raise ConfigError(f"--fps must be > 0, got {args.fps}")
    record = Path(args.record) if args.record else None
    if record is not None:
        check_record_path(record)
    agent, env_id, env_kwargs, ckpt = load(args.path, args.checkpoint, args.env, args.env_kwarg)
    configure_for_small_networks()
    is_text = env_id.endswith("NextToken-v0") or args.prompt is not None
    if record is None and not is_text:
        reason = missing_display()
        if reason is not None:
            raise ConfigError(f"no display to show the episodes on ({reason}); record them instead: "
                              f"{command('play')} {shlex.quote(args.path)} --record episodes.gif (or .mp4)")
    env = cfg.make_env(env_id, env_kwargs, render_mode=None if is_text else "rgb_array",
                       history=cfg.agent_history(agent.config))
    try:
        ensure_compatible(agent, env)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    print(f"Loaded {agent.name} from {ckpt} ({agent.steps} training steps); env {env_id}"
          + (f" {env_kwargs}" if env_kwargs else ""))

    if is_text:
        if not hasattr(env.unwrapped, "tokenizer"):
            raise ConfigError(f"--prompt needs a text env (NextToken); {env_id} is not one")
        if args.length < 1 or args.temperature < 0:
            raise ConfigError("--length must be >= 1 and --temperature >= 0")
        print(generate_text(agent, env, args.prompt, args.length, args.temperature, args.seed))
        env.close()
        return 0

    base = env.unwrapped
    if hasattr(base, "set_overlay") and not args.no_overlay:
        probe = cfg.make_env(env_id, env_kwargs, history=cfg.agent_history(agent.config))
        values, policy = grid_values_and_policy(agent, probe)
        probe.close()
        base.set_overlay(values, policy)
    fps = args.fps or env.metadata.get("render_fps") or 30
    window = None if record is not None else FrameWindow(f"rl-scratch: {agent.name} on {env_id}", fps)
    frames: list[np.ndarray] = []
    returns = []

    def attended(frame, obs):
        """The frame, with --attention the policy's attention on `obs` drawn beside or under it."""
        if not args.attention:
            return frame
        return attention_view.draw(frame, agent.attention_weights(obs), env, cfg.agent_history(agent.config))

    for episode in range(args.episodes):
        obs, _ = env.reset(seed=args.seed if episode == 0 else None)
        if episode == 0:
            env.action_space.seed(args.seed)
        total, length, done = 0.0, 0, False
        frame = attended(env.render(), obs)
        while True:
            if window is not None:
                window.show(frame)
            else:
                frames.append(frame)
            if done or (window is not None and window.closed_by_user):
                break
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, deterministic=args.deterministic))
            total += float(reward)
            length += 1
            done = terminated or truncated
            frame = attended(env.render(), obs)
        if window is None:
            frames.extend([frame] * max(1, int(fps // 2)))  # hold the last frame half a second
        returns.append(total)
        print(f"episode {episode + 1}: return {total:.3f}, length {length}")
        if window is not None and window.closed_by_user:
            break
    if len(returns) > 1:
        print(f"mean return {np.mean(returns):.3f} +- {np.std(returns):.3f} over {len(returns)} episodes")
    env.close()
    if window is not None:
        window.close()
    if record is not None:
        try:
            write_video(record, frames, fps)
        except OSError as error:
            raise ConfigError(f"cannot write {record}: {error.strerror or error}") from None
        print(f"Recorded {len(frames)} frames to {shlex.quote(str(record))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.keys:
            return play_yourself(args)
        if args.path is None:
            raise ConfigError("give a run folder or checkpoint to watch, or --env ENV --keys to play yourself")
        return play(args)
    except (ConfigError, RunFolderError) as error:
        error_line(str(error))
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
