"""`python -m rl_scratch train ...` and `python -m rl_scratch play ...`: the two commands under one name."""

from __future__ import annotations

import sys

COMMANDS = {"train": "Train an agent; results go to a run folder.",
            "play": "Watch, record or sample from a trained agent."}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m rl_scratch {train,play} [options]   (add --help after a command for its options)")
        for name, text in COMMANDS.items():
            print(f"  {name:<6} {text}")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "train":
        from rl_scratch.train import main as run
    elif command == "play":
        from rl_scratch.play import main as run
    else:
        sys.stderr.write(f"error: unknown command {command!r}; choose train or play\n")
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
