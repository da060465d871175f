"""What A2C and PPO share: n-step rollouts from a vector env, GAE, the actor-critic
network, the value and entropy losses, and the agents' construction, acting and
checkpoints (`ActorCriticAgent`; each algorithm keeps its own update and training loop).

Episode ends in a vector env. Gymnasium 1.x vector envs reset a finished sub-env on
the *next* step by default, turning that step into a fake transition. We create
them with `autoreset_mode=SAME_STEP` instead: the step that ends an episode
returns the reset observation, and the true last observation is in
`info["final_obs"]`. So every stored step is a real transition, and

    terminated:  no bootstrap, V(s_{t+1}) = 0
    truncated:   bootstrap from V(final_obs) (a time limit is not a terminal state)

and the GAE recursion is cut at either (the next stored step belongs to a new episode).

    buffer = RolloutBuffer(n_steps, n_envs, obs_shape)
    collector = VectorCollector(make_env, n_envs, rng)
    episodes = collector.collect(buffer, agent.featurize, agent.policy_step, agent.value_of, agent.steps)
    buffer.compute_advantages(gamma, gae_lambda)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_scratch.nets import Adam, Categorical, Tensor, no_grad, where

from .base import Agent
from .callbacks import as_callback
from .common import (ObsEncoder, categorical_log_probs, check_history, check_total_steps, finite_or_none,
                     require_discrete_actions, sample_categorical)
from .normalize import RunningMeanStd
from .policies import attention_weights, ACTOR_CRITIC_POLICIES, build_network, check_policy
from .run_state import Run, open_vector_env


# ---------------------------------------------------------------------- GAE
def compute_gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
                episode_end: np.ndarray, gamma: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimation (Schulman et al. 2016) over arrays of shape (T, n_envs).

    next_values[t] is V(s_{t+1}) for the observation that really followed step t (the
    final observation when the episode ended there). Returns (advantages, returns):

        delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t
        A_t     = delta_t + gamma * lambda * (1 - episode_end_t) * A_{t+1}
        return_t = A_t + values_t

        >>> ones = np.ones((2, 1))
        >>> advantages, returns = compute_gae(ones, np.zeros((2, 1)), np.zeros((2, 1)), np.zeros((2, 1)),
        ...                                   np.array([[0.0], [1.0]]), gamma=0.5, gae_lambda=1.0)
        >>> returns.ravel()
        array([1.5, 1. ])
    """
    n_steps = rewards.shape[0]
    advantages = np.zeros_like(values, dtype=np.float64)
    not_terminated = 1.0 - terminated
    continues = 1.0 - episode_end
    deltas = rewards + gamma * not_terminated * next_values - values
    last = np.zeros(values.shape[1:], dtype=np.float64)
    for t in reversed(range(n_steps)):
        last = deltas[t] + gamma * gae_lambda * continues[t] * last
        advantages[t] = last
    return advantages, advantages + values


@dataclass
class ActorCriticConfig:
    """The settings A2C and PPO share; each algorithm's Config adds its own.

        >>> ActorCriticConfig(policy="gpt")
        Traceback (most recent call last):
        ...
        ValueError: unknown policy 'gpt'; choose one of ['mlp', 'attention']
    """

    gamma: float = 0.99
    """discount factor"""
    ent_coef: float = 0.0
    """entropy bonus weight"""
    vf_coef: float = 0.5
    """value loss weight"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm to this"""
    normalize_obs: bool = False
    """normalize observations with running mean/std statistics (saved in checkpoints)"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes of the actor and critic"""
    activation: str = "tanh"
    """hidden activation"""
    shared: bool = False
    """one trunk with two heads instead of separate actor and critic networks"""
    policy: str = "mlp"
    """network over the observation: mlp, or attention for (tokens, features) observations"""
    attention_dim: int = 32
    """attention policy: token embedding size"""
    attention_heads: int = 2
    """attention policy: heads per layer"""
    attention_layers: int = 1
    """attention policy: number of encoder layers"""
    history: int = 1
    """observations per input: > 1 reads windows of the last `history` observations (the env wrapped in
    rl_scratch.envs.HistoryObservation, as the trainer does), attention causal over them; 1 the current one"""
    async_envs: bool = False
    """step the envs in subprocesses (AsyncVectorEnv): worth it only for slow envs"""

    def __post_init__(self):
        check_policy(self.policy, ACTOR_CRITIC_POLICIES)
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")


class RolloutBuffer:
    """n_steps x n_envs transitions of an on-policy rollout, then their advantages and returns.

        >>> buffer = RolloutBuffer(n_steps=2, n_envs=1, obs_shape=(3,))
        >>> buffer.add_inputs(np.zeros((1, 3)), [0], [0.0], [0.0]); buffer.add_outcomes([1.0], [False], [False], [0.0])
        >>> buffer.pos, buffer.flat()["obs"].shape
        (1, (2, 3))
    """

    def __init__(self, n_steps: int, n_envs: int, obs_shape: tuple):
        self.n_steps, self.n_envs = n_steps, n_envs
        self.obs = np.zeros((n_steps, n_envs, *obs_shape), dtype=np.float32)
        self.actions = np.zeros((n_steps, n_envs), dtype=np.int64)
        self.log_probs = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.values = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.rewards = np.zeros((n_steps, n_envs), dtype=np.float64)
        self.terminated = np.zeros((n_steps, n_envs), dtype=np.float64)
        self.episode_end = np.zeros((n_steps, n_envs), dtype=np.float64)
        # V(final observation) where a step was truncated; read only for those entries
        self.final_values = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.last_values = np.zeros(n_envs, dtype=np.float32)
        self.advantages = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.returns = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.pos = 0

    def add_inputs(self, obs, actions, log_probs, values) -> None:
        """What the policy saw and did at the current step (stored before the env step overwrites obs)."""
        if self.pos >= self.n_steps:
            raise RuntimeError(f"rollout buffer is full ({self.n_steps} steps): compute advantages and reset it")
        t = self.pos
        self.obs[t] = obs
        self.actions[t] = actions
        self.log_probs[t] = log_probs
        self.values[t] = values

    def add_outcomes(self, rewards, terminated, truncated, final_values) -> None:
        """What the env answered; completes the current step."""
        t = self.pos
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.episode_end[t] = np.logical_or(terminated, truncated)
        self.final_values[t] = final_values
        self.pos += 1

    def next_values(self) -> np.ndarray:
        """V(s_{t+1}): the next stored value, the final observation's at episode ends, `last_values` at the end."""
        following = np.concatenate([self.values[1:], self.last_values[None]], axis=0)
        return np.where(self.episode_end > 0, self.final_values, following)

    def compute_advantages(self, gamma: float, gae_lambda: float) -> None:
        if self.pos != self.n_steps:
            raise RuntimeError(f"rollout buffer holds {self.pos} of {self.n_steps} steps; fill it first")
        advantages, returns = compute_gae(self.rewards, self.values.astype(np.float64), self.next_values(),
                                          self.terminated, self.episode_end, gamma, gae_lambda)
        self.advantages[...] = advantages
        self.returns[...] = returns

    def flat(self) -> dict:
        """Every array with the (n_steps, n_envs) axes merged into one batch axis (views, not copies)."""
        batch = self.n_steps * self.n_envs
        return {"obs": self.obs.reshape(batch, *self.obs.shape[2:]), "actions": self.actions.reshape(batch),
                "log_probs": self.log_probs.reshape(batch), "values": self.values.reshape(batch),
                "advantages": self.advantages.reshape(batch), "returns": self.returns.reshape(batch)}

    def reset(self) -> None:
        self.pos = 0

    ARRAYS = ("obs", "actions", "log_probs", "values", "rewards", "terminated", "episode_end", "final_values")

    def state_dict(self) -> dict:
        """The steps stored so far (a rollout in progress), for checkpoints."""
        return {"pos": self.pos, "last_values": self.last_values.copy(),  # set once the rollout is full
                **{name: getattr(self, name)[:self.pos].copy() for name in self.ARRAYS}}

    def load_state_dict(self, state: dict) -> None:
        pos = int(state["pos"])
        if not 0 <= pos <= self.n_steps:
            raise ValueError(f"a rollout of {pos} steps does not fit a buffer of {self.n_steps}")
        for name in self.ARRAYS:
            getattr(self, name)[:pos] = state[name]
        self.last_values[...] = state["last_values"]
        self.pos = pos


# ---------------------------------------------------------------- collection
class VectorCollector:
    """Steps a vector env, fills rollout buffers, and keeps per-env episode statistics across rollouts.

        >>> import gymnasium as gym
        >>> from rl_scratch.agents.run_state import same_step_vector_env
        >>> envs = same_step_vector_env(lambda: gym.make("CartPole-v1"), 2)
        >>> collector = VectorCollector(envs, envs.reset(seed=0)[0])
        >>> buffer = RolloutBuffer(4, 2, (4,))
        >>> step = lambda x: (np.zeros(2, np.int64), np.zeros(2), np.zeros(2))
        >>> _ = collector.collect(buffer, lambda obs, update: obs, step, lambda x: np.zeros(len(x)), steps=0)
        >>> buffer.pos
        4
    """

    def __init__(self, env, obs):
        self.env, self.obs = env, obs
        self.n_envs = env.num_envs
        self.episode_returns = np.zeros(self.n_envs)
        self.episode_lengths = np.zeros(self.n_envs, dtype=np.int64)

    def collect(self, buffer: RolloutBuffer, featurize, policy_step, value_of, steps: int, limit: int | None = None):
        """Fill `buffer` up to its n_steps vector steps, taking at most `limit` of them.

        featurize(obs, update) -> network inputs (update: let a normalizer see them);
        policy_step(features) -> (actions, log_probs, values); value_of(features) -> values.
        Returns the finished episodes as (step, return, length) tuples, `steps` counting on from
        the value given. A full buffer also gets `last_values`, V of the observation after it.
        """
        finished = []
        n = self.n_envs
        count = buffer.n_steps - buffer.pos
        for _ in range(count if limit is None else min(count, limit)):
            features = featurize(self.obs, True)
            actions, log_probs, values = policy_step(features)
            # features may view the env's own obs buffer (copy=False), which the step overwrites: store them first
            buffer.add_inputs(features, actions, log_probs, values)
            self.obs, rewards, terminated, truncated, info = self.env.step(actions)
            final_values = np.zeros(n, dtype=np.float32)
            bootstrap = truncated & ~terminated
            if bootstrap.any():
                final_obs = info["final_obs"][bootstrap]
                final_values[bootstrap] = value_of(featurize(np.stack([np.asarray(o) for o in final_obs]), False))
            buffer.add_outcomes(rewards, terminated, truncated, final_values)
            steps += n
            self.episode_returns += rewards
            self.episode_lengths += 1
            ended = terminated | truncated
            if ended.any():
                for i in np.flatnonzero(ended):
                    finished.append((steps, float(self.episode_returns[i]), int(self.episode_lengths[i])))
                self.episode_returns[ended] = 0.0
                self.episode_lengths[ended] = 0
        if buffer.pos == buffer.n_steps:
            buffer.last_values[...] = value_of(featurize(self.obs, False))
        return finished

    def state_dict(self) -> dict:
        return {"obs": np.array(self.obs), "returns": self.episode_returns.copy(),
                "lengths": self.episode_lengths.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.obs = np.array(state["obs"])
        self.episode_returns[...] = state["returns"]
        self.episode_lengths[...] = state["lengths"]


# -------------------------------------------------------------------- losses
def mean_entropy(logits: Tensor) -> Tensor:
    """Mean over the batch of the categorical entropy H = -sum_a p log p.

        >>> from rl_scratch.nets import Tensor
        >>> round(float(mean_entropy(Tensor(np.zeros((3, 2)))).data), 4)
        0.6931
    """
    return Categorical(logits).entropy().mean()


def value_loss(values: Tensor, returns: np.ndarray, old_values: np.ndarray | None = None,
               clip: float = 0.0) -> Tensor:
    """0.5 * mean((V - R)^2); with clip > 0 the pessimum of that and the error of
    V_old + clip(V - V_old, -clip, clip) (PPO's value clipping), per sample.

        >>> from rl_scratch.nets import Tensor
        >>> float(value_loss(Tensor(np.array([1.0, 3.0])), np.array([0.0, 3.0])).data)  # 0.5 * mean([1, 0])
        0.25
    """
    returns = returns.astype(values.dtype, copy=False)
    error = values - returns
    squared = error * error
    if clip > 0:
        clipped_error = (values - old_values).clip(-clip, clip) + (old_values - returns)
        clipped_squared = clipped_error * clipped_error
        squared = where(clipped_squared > squared, clipped_squared, squared)  # the larger of the two
    return 0.5 * squared.mean()


def explained_variance(predictions: np.ndarray, targets: np.ndarray) -> float:
    """1 - Var[targets - predictions] / Var[targets]: 1 is a perfect critic, <= 0 no better than a constant.

        >>> explained_variance(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
        1.0
    """
    spread = np.var(targets)
    return float("nan") if spread == 0 else float(1.0 - np.var(targets - predictions) / spread)


# ------------------------------------------------------------------ agents
class ActorCriticAgent(Agent):
    """Construction, acting and checkpoints of A2C and PPO; each defines `Config`, `update` and `learn`.

        >>> import gymnasium as gym
        >>> from rl_scratch.agents import A2C
        >>> env = gym.make("CartPole-v1")
        >>> isinstance(A2C(env.observation_space, env.action_space), ActorCriticAgent)
        True
    """

    saved = ("net", "optimizer", "normalizer", "steps", "episodes", "updates", "rng", "last_stats", "run")

    def __init__(self, observation_space, action_space, config=None, seed: int = 0):
        self.config = c = config if config is not None else self.Config()
        self.observation_space, self.action_space = observation_space, action_space
        self.n_actions = require_discrete_actions(action_space, self.name)
        check_history(observation_space, c.history, self.name)
        self.encoder = ObsEncoder(observation_space, self.name, keep_shape=c.policy == "attention")
        self.rng = np.random.default_rng(seed)
        self.net = build_network(c.policy, self.encoder.shape, self.n_actions, c.hidden, self.rng,
                                 activation=c.activation, attention_dim=c.attention_dim,
                                 attention_heads=c.attention_heads, attention_layers=c.attention_layers,
                                 actor_critic=True, shared=c.shared, causal=c.history > 1)
        self.optimizer = Adam(self.net.parameters(), lr=c.lr, eps=1e-5)
        self.normalizer = RunningMeanStd(self.encoder.shape) if c.normalize_obs else None
        self.steps = self.episodes = self.updates = 0
        self.last_stats: dict = {}
        self.run = Run()

    def featurize(self, obs, update: bool = False) -> np.ndarray:
        """A vector env's observation batch -> network inputs (normalized; `update` feeds the statistics)."""
        features = self.encoder.batch(obs)
        if self.normalizer is None:
            return features
        if update:
            self.normalizer.update(features)
        return self.normalizer.normalize(features)

    def policy_step(self, features: np.ndarray):
        """Sampled actions, their log-probabilities and the state values, for a batch."""
        with no_grad():
            logits, values = self.net(Tensor(features))
        policy = Categorical(logits)
        actions = policy.sample(self.rng)
        return actions, policy.log_prob(actions).data, values.data

    def value_of(self, features: np.ndarray) -> np.ndarray:
        with no_grad():
            return self.net(Tensor(features))[1].data

    def act(self, obs, deterministic: bool = False, rng: np.random.Generator | None = None) -> int:
        features = self.encoder.one(obs)
        if self.normalizer is not None:
            features = self.normalizer.normalize(features)
        with no_grad():
            logits = self.net.logits(Tensor(features)).data
        if deterministic:
            return int(logits[0].argmax())
        return int(sample_categorical(logits, self.rng if rng is None else rng)[0])

    def _features(self, observations) -> np.ndarray:
        features = self.encoder.many(observations)
        return features if self.normalizer is None else self.normalizer.normalize(features)

    def state_values(self, observations) -> np.ndarray:
        return self.value_of(self._features(observations))

    def attention_weights(self, observation) -> np.ndarray | None:
        return attention_weights(self.net, self._features([observation]))

    def policy_probs(self, observations) -> np.ndarray:
        logits, _ = self.net.predict(self._features(observations))
        return np.exp(categorical_log_probs(logits))

    def learn_rollout(self, buffer: RolloutBuffer, progress_remaining: float) -> dict:
        """Learn from one full rollout (advantages computed); returns the loss terms to log.
        `progress_remaining` falls from 1 to 0 over the learn call's steps (for annealed settings)."""
        raise NotImplementedError

    def learn(self, env, total_steps: int, callback=None, progress_bar: bool = False):
        """Run `total_steps` more env steps (n_envs per vector step) on `env`: a function that makes
        one env, an env (copied through its spec for the other n_envs - 1), or a SyncVectorEnv of
        n_envs envs with same-step autoreset; `callback(record)` after each episode, False stops.

        A rollout is learned from once it is full; the budget may end one half-way, and the next
        `learn` (or a resumed checkpoint) completes it. Annealed settings fall linearly from
        their value at step 0 of the run to 0 at the end of this call's budget: a resumed run
        that passes the rest of its budget anneals exactly as if it had never stopped.

            >>> import gymnasium as gym
            >>> from rl_scratch.agents import PPO
            >>> env = gym.make("CartPole-v1")
            >>> agent = PPO(env.observation_space, env.action_space, PPO.Config(n_steps=32, batch_size=64))
            >>> agent.learn(lambda: gym.make("CartPole-v1"), 200).steps, agent.updates > 0
            (200, True)
        """
        horizon = self.steps + check_total_steps(total_steps)
        callback = as_callback(callback, self, total_steps, progress_bar)
        c, run = self.config, self.run
        envs, close = open_vector_env(env, self, c.n_envs, c.async_envs)
        buffer = RolloutBuffer(c.n_steps, c.n_envs, self.encoder.shape)
        collector = None
        rollout_start = self.steps

        def keep():  # the loop's variables, for checkpoints taken by the callback and the next learn
            if collector is not None:
                run.vars = {"collector": collector.state_dict(), "rollout": buffer.state_dict(),
                            "rollout_start": rollout_start}

        try:
            fresh = run.begin(envs, self.rng)
            collector = VectorCollector(envs, None if fresh is None else fresh[0])
            if fresh is None:
                collector.load_state_dict(run.vars["collector"])
                buffer.load_state_dict(run.vars["rollout"])
                rollout_start = int(run.vars["rollout_start"])
            if not run.deliver(callback):
                return self
            while True:
                if buffer.pos == buffer.n_steps:  # a full rollout (maybe collected by an earlier call)
                    buffer.compute_advantages(c.gamma, c.gae_lambda)
                    remaining = 1.0 - rollout_start / horizon
                    self.last_stats = self.learn_rollout(buffer, remaining)
                    self.last_stats["explained_variance"] = finite_or_none(
                        explained_variance(buffer.values.ravel(), buffer.returns.ravel()))
                    buffer.reset()
                if self.steps >= horizon:
                    break
                if buffer.pos == 0:
                    rollout_start = self.steps
                    if c.anneal_lr:
                        self.optimizer.lr = c.lr * (1.0 - self.steps / horizon)
                before = buffer.pos
                limit = -(-(horizon - self.steps) // c.n_envs)  # vector steps left in the budget
                finished = collector.collect(buffer, self.featurize, self.policy_step, self.value_of, self.steps,
                                             limit)
                self.steps += c.n_envs * (buffer.pos - before)
                run.pending.extend(self.episode_records(finished))
                keep()
                if not run.deliver(callback):
                    break
        finally:
            keep()
            run.end()
            close()
        return self

    def episode_records(self, finished):
        """Callback records of the episodes a rollout finished (counts them)."""
        for step, episode_return, length in finished:
            self.episodes += 1
            yield {"step": step, "episode": self.episodes, "return": episode_return, "length": length,
                   "lr": self.optimizer.lr, "loss": None, "entropy": None, **self.last_stats}
