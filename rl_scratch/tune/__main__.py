import sys

from rl_scratch.tune.cli import main

if __name__ == "__main__":
    sys.exit(main())
