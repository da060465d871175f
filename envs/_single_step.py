"""What Iris and NextToken share: one labelled example per episode."""

from __future__ import annotations

import numpy as np


def next_example(env, n: int, seed: int | None, options: dict | None) -> int:
    """The index of the example a reset serves, out of the split's `n`.

    `options={"index": i}` picks one; a training split draws at random from
    `env.np_random`; an evaluation split walks its examples in order (`env._cursor`,
    rewound by a seeded reset) so that n episodes score every example exactly once.
    """
    if seed is not None:
        env._cursor = 0
    if options and "index" in options:
        i = options["index"]
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n:
            raise ValueError(f"options['index'] must be an int in [0, {n}) for split {env.split!r}, got {i!r}")
        return int(i)
    if env.split == "train":
        return int(env.np_random.integers(n))
    i = env._cursor % n
    env._cursor += 1
    return i
