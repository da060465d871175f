"""REINFORCE: Monte-Carlo policy gradient with reward-to-go and a baseline.

Reference: Williams, "Simple statistical gradient-following algorithms for
connectionist reinforcement learning" (1992); Sutton & Barto (2nd ed.), section 13.4.
Spaces: Discrete or Box observations, Discrete actions.

    G_t = r_t + gamma * G_{t+1}            (reward-to-go, cut at the episode's end)
    A_t = G_t - b(s_t)                     (baseline: learned V(s_t), or the batch mean of G at step t)
    loss = -mean(log pi(a_t|s_t) * A_t) - ent_coef * entropy + vf_coef * mean((V(s_t) - G_t)^2)

Episodes come from a `gymnasium.vector.SyncVectorEnv` in SAME_STEP autoreset mode, so
every step is a real transition and the final observation of an episode is in
`info["final_obs"]`. An update uses complete episodes only: each sub-env's unfinished
episode carries over to the next batch. A time-limit truncation is not terminal: with a
value baseline the return is bootstrapped there with gamma * V(final observation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_scratch.nets import Adam, Categorical, Tensor, clip_grad_norm
from rl_scratch.nets import functional as F

from .base import Agent
from .callbacks import as_callback
from .common import (ObsEncoder, categorical_log_probs, check_history, check_total_steps, normalize,
                     require_discrete_actions, sample_categorical)
from .normalize import RunningMeanStd
from .policies import attention_weights, build_network, check_policy
from .run_state import Run, open_vector_env

BASELINES = ("value", "mean", "none")


@dataclass
class REINFORCEConfig:
    """The settings of REINFORCE, one documented field each; an invalid value raises ValueError at once.

        >>> REINFORCEConfig(baseline="mean").baseline
        'mean'
    """

    gamma: float = 0.99
    """discount factor"""
    lr: float = 3e-3
    """Adam learning rate (policy and value networks)"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes of the policy and of the value network"""
    activation: str = "tanh"
    """hidden activation"""
    policy: str = "mlp"
    """network over the observation: mlp, or attention for (tokens, features) observations"""
    n_envs: int = 8
    """parallel environments (a SyncVectorEnv)"""
    batch_episodes: int = 16
    """complete episodes per gradient step"""
    baseline: str = "value"
    """value (learned V(s)), mean (batch mean of returns at the same step of the episode) or none"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    ent_coef: float = 0.0
    """weight of the entropy bonus"""
    normalize_advantages: bool = True
    """scale advantages to zero mean and unit variance per batch"""
    max_grad_norm: float = 0.5
    """clip the gradient norm of the policy and of the value network to this (each separately)"""
    attention_dim: int = 32
    """attention policy: token embedding size"""
    attention_heads: int = 2
    """attention policy: heads per layer"""
    attention_layers: int = 1
    """attention policy: number of encoder layers"""
    history: int = 1
    """observations per input: > 1 reads windows of the last `history` observations (the env wrapped in
    rl_scratch.envs.HistoryObservation, as the trainer does), attention causal over them; 1 the current one"""
    normalize_obs: bool = False
    """normalize observations with running mean/std statistics (saved in checkpoints)"""

    def __post_init__(self):
        check_policy(self.policy)
        if self.baseline not in BASELINES:
            raise ValueError(f"unknown baseline {self.baseline!r}; choose one of {list(BASELINES)}")
        if self.policy == "gpt" and self.baseline == "value":
            raise ValueError("policy='gpt' has no value network (its head scores the vocabulary); use "
                             "baseline='mean', the batch's mean reward, a good baseline for one-step episodes")
        if self.n_envs < 1 or self.batch_episodes < 1:
            raise ValueError(f"n_envs and batch_episodes must be >= 1, got {self.n_envs} and {self.batch_episodes}")


def reward_to_go(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted return from each step to its episode's end; `dones[i]` ends an episode after step i.

        >>> reward_to_go(np.array([1.0, 1.0, 1.0]), np.array([False, True, True]), gamma=0.5)
        array([1.5, 1. , 1. ])
    """
    returns = np.empty(len(rewards), dtype=np.float64)
    running = 0.0
    for i in range(len(rewards) - 1, -1, -1):
        if dones[i]:
            running = 0.0
        running = rewards[i] + gamma * running
        returns[i] = running
    return returns


def steps_into_episode(dones: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... counting from each episode's first step (episodes are laid end to end).

        >>> steps_into_episode(np.array([False, True, False, False, True]))
        array([0, 1, 0, 1, 2])
    """
    starts = np.concatenate([[True], dones[:-1]])
    first_index = np.flatnonzero(starts)
    return np.arange(len(dones)) - first_index[np.cumsum(starts) - 1]


def time_step_mean_baseline(returns: np.ndarray, dones: np.ndarray) -> np.ndarray:
    """Per step, the mean return of all batch episodes at the same step index.

        >>> time_step_mean_baseline(np.array([2.0, 1.0, 4.0, 3.0]), np.array([False, True, False, True]))
        array([3., 2., 3., 2.])
    """
    t = steps_into_episode(dones)
    totals = np.bincount(t, weights=returns)
    counts = np.bincount(t)
    return (totals / counts)[t]


def reinforce_loss(logits: Tensor, actions: np.ndarray, advantages: np.ndarray, ent_coef: float):
    """(policy-gradient loss - ent_coef * entropy, pg_loss, entropy) as Tensors.

        >>> from rl_scratch.nets import Tensor
        >>> logits = Tensor(np.zeros((2, 2)))
        >>> loss, pg_loss, entropy = reinforce_loss(logits, np.array([0, 1]), np.array([1.0, -1.0]), 0.0)
        >>> abs(float(pg_loss.data)), round(float(entropy.data), 4)
        (0.0, 0.6931)
    """
    policy = Categorical(logits)
    pg_loss = -(policy.log_prob(actions) * advantages.astype(logits.dtype, copy=False)).mean()
    entropy = policy.entropy().mean()
    return pg_loss - entropy * ent_coef, pg_loss, entropy


class REINFORCE(Agent):
    """Monte-Carlo policy gradient with reward-to-go and a baseline (see the module docstring).

        >>> import gymnasium as gym
        >>> env = gym.make("CartPole-v1")
        >>> agent = REINFORCE(env.observation_space, env.action_space, REINFORCE.Config(n_envs=2), seed=0)
        >>> agent.learn(env, 1000).updates > 0
        True
    """

    name = "reinforce"
    Config = REINFORCEConfig
    saved = ("policy_net", "value_net", "optimizer", "normalizer", "steps", "episodes", "updates", "rng",
             "last_stats", "run")

    def __init__(self, observation_space, action_space, config: REINFORCEConfig | None = None, seed: int = 0):
        self.config = c = config if config is not None else self.Config()
        self.observation_space, self.action_space = observation_space, action_space
        self.n_actions = require_discrete_actions(action_space, self.name)
        check_history(observation_space, c.history, self.name)
        self.encoder = ObsEncoder(observation_space, self.name, keep_shape=c.policy == "attention")
        self.rng = np.random.default_rng(seed)
        network = dict(policy=c.policy, obs_shape=self.encoder.shape, hidden=c.hidden, activation=c.activation,
                       rng=self.rng, attention_dim=c.attention_dim, attention_heads=c.attention_heads,
                       attention_layers=c.attention_layers, causal=c.history > 1)
        self.policy_net = build_network(n_outputs=self.n_actions, output_gain=0.01, **network)
        parameters = self.policy_net.parameters()
        self.value_net = None
        if c.baseline == "value":
            # An MLP over the flat observation under an attention policy too (why: agents/policies.py, ActorCritic).
            self.value_net = build_network(n_outputs=1, output_gain=1.0, **dict(network, policy="mlp"))
            parameters += self.value_net.parameters()
        self.optimizer = Adam(parameters, lr=c.lr)
        self.normalizer = RunningMeanStd(self.encoder.shape) if c.normalize_obs else None
        self.steps = self.episodes = self.updates = 0
        self.last_stats: dict = {}
        self.run = Run()

    def inputs(self, features: np.ndarray, update: bool = False) -> np.ndarray:
        """Network inputs for encoded observations: normalized with normalize_obs (`update` feeds the statistics)."""
        if self.normalizer is None:
            return features
        if update:
            self.normalizer.update(features)
        return self.normalizer.normalize(features)

    def attention_weights(self, observation) -> np.ndarray | None:
        return attention_weights(self.policy_net, self.inputs(self.encoder.one(observation)))

    def logits(self, features: np.ndarray) -> np.ndarray:
        return self.policy_net.predict(features)

    def values(self, features: np.ndarray) -> np.ndarray:
        return self.value_net.predict(features)[:, 0]

    def act(self, obs, deterministic: bool = False, rng: np.random.Generator | None = None) -> int:
        logits = self.logits(self.inputs(self.encoder.one(obs)))
        if deterministic:
            return int(logits[0].argmax())
        return int(sample_categorical(logits, self.rng if rng is None else rng)[0])

    def state_values(self, observations) -> np.ndarray | None:
        return None if self.value_net is None else self.values(self.inputs(self.encoder.many(observations)))

    def policy_probs(self, observations) -> np.ndarray:
        return np.exp(categorical_log_probs(self.logits(self.inputs(self.encoder.many(observations)))))

    # ---------------------------------------------------------------- update
    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray) -> dict:
        """One gradient step on complete episodes laid end to end; returns the loss terms."""
        c = self.config
        returns = reward_to_go(rewards, dones, c.gamma)
        policy_params = self.policy_net.parameters()
        if c.baseline == "value":
            predicted = self.value_net(Tensor(obs))[:, 0]
            advantages = returns - predicted.data
            value_loss = F.mse_loss(predicted, returns.astype(predicted.dtype))
        elif c.baseline == "mean":
            advantages = returns - time_step_mean_baseline(returns, dones)
        else:
            advantages = returns
        if c.normalize_advantages:
            advantages = normalize(advantages)
        loss, pg_loss, entropy = reinforce_loss(self.policy_net(Tensor(obs)), actions, advantages, c.ent_coef)
        if c.baseline == "value":
            loss = loss + value_loss * c.vf_coef
        self.optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(policy_params, c.max_grad_norm)
        if self.value_net is not None:
            clip_grad_norm(self.value_net.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        stats = {"loss": float(loss.data), "pg_loss": float(pg_loss.data), "entropy": float(entropy.data)}
        if c.baseline == "value":
            stats["value_loss"] = float(value_loss.data)
        return stats

    # -------------------------------------------------------------- training
    def learn(self, env, total_steps: int, callback=None, progress_bar: bool = False):
        """Run `total_steps` more env steps (n_envs per vector step) on `env`: a function that makes
        one env, an env (copied through its spec for the other n_envs - 1), or a SyncVectorEnv of
        n_envs envs with same-step autoreset; `callback(record)` after each episode, False stops.

            >>> import gymnasium as gym
            >>> config = REINFORCE.Config(hidden=(8,), n_envs=2, batch_episodes=2)
            >>> env = gym.make("CartPole-v1")
            >>> agent = REINFORCE(env.observation_space, env.action_space, config)
            >>> agent.learn(lambda: gym.make("CartPole-v1"), 100).steps
            100
        """
        end = self.steps + check_total_steps(total_steps)
        callback = as_callback(callback, self, total_steps, progress_bar)
        c, n, run = self.config, self.config.n_envs, self.run
        envs, close = open_vector_env(env, self, n)
        features = None
        # Per sub-env: the steps of its unfinished episode, carried across updates.
        carried = [[] for _ in range(n)]
        # Step-major since the last update: (features, actions, rewards, dones), each (n_envs, ...).
        steps_since_update = []
        finished = 0
        episode_returns = np.zeros(n)
        episode_lengths = np.zeros(n, dtype=np.int64)

        def keep():  # the loop's variables, for checkpoints taken by the callback and the next learn
            stacked = [np.stack([step[k] for step in steps_since_update]) for k in range(4)] \
                if steps_since_update else None  # (T, n_envs, ...) each: four arrays, not 4 T
            run.vars = {"features": features, "carried": carried, "steps_since_update": stacked,
                        "finished": finished, "returns": episode_returns, "lengths": episode_lengths}

        try:
            fresh = run.begin(envs, self.rng)
            if fresh is not None:
                features = self.inputs(self.encoder.batch(fresh[0]).copy(), update=True)  # the env reuses its buffer
            else:
                v = run.vars
                features = np.asarray(v["features"], dtype=np.float32)
                carried = [[np.asarray(x) for x in episode] for episode in v["carried"]]
                stacked = v["steps_since_update"]
                steps_since_update = [] if stacked is None else list(zip(*(np.asarray(x) for x in stacked)))
                finished = int(v["finished"])
                episode_returns, episode_lengths = np.array(v["returns"]), np.array(v["lengths"])
            if not run.deliver(callback):
                return self
            while self.steps < end:
                actions = sample_categorical(self.logits(features), self.rng)
                obs, rewards, terminated, truncated, info = envs.step(actions)
                self.steps += n
                episode_returns += rewards
                episode_lengths += 1
                dones = terminated | truncated
                learning_rewards = rewards.astype(np.float64)
                bootstrap = truncated & ~terminated
                if self.value_net is not None and bootstrap.any():
                    final = self.inputs(self.encoder.batch(np.stack([info["final_obs"][i]
                                                                     for i in np.flatnonzero(bootstrap)])))
                    learning_rewards[bootstrap] += c.gamma * self.values(final)
                steps_since_update.append((features, actions, learning_rewards, dones))
                features = self.inputs(self.encoder.batch(obs).copy(), update=True)  # the env reuses its buffer

                for i in np.flatnonzero(dones):
                    self.episodes += 1
                    finished += 1
                    run.pending.append({"step": self.steps, "episode": self.episodes,
                                        "return": float(episode_returns[i]), "length": int(episode_lengths[i]),
                                        "lr": self.optimizer.lr})
                    episode_returns[i], episode_lengths[i] = 0.0, 0
                if finished >= c.batch_episodes:
                    batch = self._complete_episodes(carried, steps_since_update)
                    self.last_stats = self.update(*batch)
                    steps_since_update, finished = [], 0
                if run.pending:
                    for record in run.pending:
                        record.update(self.last_stats)
                    keep()
                    if not run.deliver(callback):
                        break
        finally:
            keep()
            run.end()
            close()
        return self

    @staticmethod
    def _complete_episodes(carried: list, steps: list) -> tuple:
        """Split each sub-env's steps into complete episodes (returned, end to end) and the
        unfinished tail (kept in `carried`)."""
        features = np.stack([s[0] for s in steps], axis=1)  # (n_envs, T, *obs)
        actions, rewards, dones = (np.stack([s[k] for s in steps], axis=1) for k in (1, 2, 3))  # (n_envs, T)
        parts = []
        for i in range(len(carried)):
            env_steps = [features[i], actions[i], rewards[i], dones[i]]
            if carried[i]:
                env_steps = [np.concatenate([old, new]) for old, new in zip(carried[i], env_steps)]
            ends = np.flatnonzero(env_steps[3])
            cut = ends[-1] + 1 if len(ends) else 0
            parts.append([x[:cut] for x in env_steps])
            carried[i] = [x[cut:] for x in env_steps]
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))
