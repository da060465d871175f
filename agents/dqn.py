"""DQN: Q-learning with a neural network, experience replay and a target network.

References: Mnih et al., "Human-level control through deep reinforcement learning"
(Nature 2015); van Hasselt et al., "Deep Reinforcement Learning with Double
Q-learning" (AAAI 2016); multi-step targets as in Hessel et al., "Rainbow" (AAAI 2018).
Spaces: Discrete or Box observations, Discrete actions.

    target = R + gamma^k * (1 - terminated) * Q_target(s', argmax_a Q(s', a))   (Double DQN)
    target = R + gamma^k * (1 - terminated) * max_a Q_target(s', a)             (DQN)
    loss   = huber(Q(s, a) - target)

R sums the k = `n_step` discounted rewards after (s, a) and s' is the observation k
steps later (fewer at an episode's end); k = 1 is the one-step target.
A time-limit truncation is not terminal: the buffer keeps the true next observation
and the target bootstraps from it. The target network is updated every
`target_update_interval` env steps (hard copy, or Polyak averaging with tau < 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_scratch.nets import Adam, Tensor, clip_grad_norm
from rl_scratch.nets import functional as F

from .base import Agent
from .callbacks import as_callback
from .common import ObsEncoder, Schedule, check_history, check_total_steps, require_discrete_actions
from .normalize import RunningMeanStd
from .policies import attention_weights, build_network, check_policy, copy_weights
from .replay import ReplayBuffer
from .run_state import Run, open_env

MAX_SAVED_BUFFER_BYTES = 100 * 2**20


@dataclass
class DQNConfig:
    """The settings of DQN, one documented field each; an invalid value raises ValueError at once.

        >>> DQNConfig(hidden=[32]).hidden
        [32]
    """

    gamma: float = 0.99
    """discount factor"""
    n_step: int = 1
    """rewards per TD target before bootstrapping (multi-step returns; 1: one-step DQN)"""
    lr: float = 1e-3
    """Adam learning rate (at the start when it decays)"""
    lr_end: float | None = None
    """learning rate after `lr_decay_steps` env steps, linear from `lr` (None: constant); a decayed
    step size stops late updates from undoing a policy that already solves the task"""
    lr_decay_steps: int = 100_000
    """env steps over which the learning rate decays to `lr_end`"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes of the Q-network"""
    activation: str = "relu"
    """hidden activation"""
    policy: str = "mlp"
    """network over the observation: mlp, or attention for (tokens, features) observations"""
    buffer_size: int = 50_000
    """replay buffer capacity (transitions)"""
    batch_size: int = 64
    """transitions per gradient step"""
    learning_starts: int = 1000
    """env steps of pure collection before the first gradient step"""
    train_freq: int = 4
    """env steps between training phases"""
    gradient_steps: int = 1
    """gradient steps per training phase"""
    target_update_interval: int = 500
    """env steps between target-network updates"""
    tau: float = 1.0
    """target update weight: 1.0 copies the online network, < 1 is Polyak averaging"""
    double_dqn: bool = True
    """pick the next action with the online network, evaluate it with the target network"""
    huber_delta: float = 1.0
    """the TD error beyond which the loss grows linearly"""
    max_grad_norm: float = 10.0
    """clip the global gradient norm to this"""
    epsilon_start: float = 1.0
    """exploration rate at the start"""
    epsilon_end: float = 0.05
    """exploration rate after `exploration_steps`"""
    exploration_steps: int = 10_000
    """env steps over which epsilon decays linearly"""
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
    """normalize observations with running mean/std statistics (saved in checkpoints); the buffer keeps
    them raw, normalized with the statistics of the moment when sampled"""

    def __post_init__(self):
        check_policy(self.policy)
        if self.lr_end is not None and not 0 <= self.lr_end <= self.lr:
            raise ValueError(f"lr_end must be in [0, lr], got {self.lr_end}")
        if not 0 < self.tau <= 1:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        for name in ("n_step", "buffer_size", "batch_size", "train_freq", "gradient_steps", "target_update_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def td_targets(rewards: np.ndarray, terminated: np.ndarray, next_q_target: np.ndarray, gamma,
               next_q_online: np.ndarray | None = None) -> np.ndarray:
    """TD targets; `gamma` is a number or one discount per target (gamma^k for k-step
    transitions); `next_q_online` given: Double DQN's action choice.

        >>> td_targets(np.array([1.0, 1.0]), np.array([0.0, 1.0]), np.array([[2.0, 3.0], [2.0, 3.0]]), gamma=0.5)
        array([2.5, 1. ])
    """
    if next_q_online is None:
        next_values = next_q_target.max(axis=1)
    else:
        best = next_q_online.argmax(axis=1)
        next_values = next_q_target[np.arange(len(best)), best]
    return rewards + gamma * (1.0 - terminated) * next_values


def dqn_loss(q_values: Tensor, actions: np.ndarray, targets: np.ndarray, delta: float = 1.0) -> Tensor:
    """Huber loss between Q(s, a) of the taken actions and their targets.

        >>> from rl_scratch.nets import Tensor
        >>> float(dqn_loss(Tensor(np.array([[1.0, 2.0]])), np.array([1]), np.array([2.5])).data)  # 0.5 * 0.5 ** 2
        0.125
    """
    taken = q_values.gather(actions[:, None], axis=1)[:, 0]
    return F.huber_loss(taken, targets.astype(q_values.dtype, copy=False), delta=delta)


class DQN(Agent):
    """Deep Q-network with replay and a target network (see the module docstring).

        >>> import gymnasium as gym
        >>> env = gym.make("CartPole-v1")
        >>> agent = DQN(env.observation_space, env.action_space, DQN.Config(learning_starts=100), seed=0)
        >>> agent.learn(env, 300).updates  # a gradient step every 4 env steps from step 100
        51
    """

    name = "dqn"
    Config = DQNConfig
    saved = ("q_net", "target_net", "optimizer", "buffer", "normalizer", "steps", "episodes", "updates", "rng",
             "last_loss", "run")
    optional = ("buffer",)  # left out above MAX_SAVED_BUFFER_BYTES: a resumed run then refills it

    def __init__(self, observation_space, action_space, config: DQNConfig | None = None, seed: int = 0):
        self.config = c = config if config is not None else self.Config()
        self.observation_space, self.action_space = observation_space, action_space
        self.n_actions = require_discrete_actions(action_space, self.name)
        check_history(observation_space, c.history, self.name)
        self.encoder = ObsEncoder(observation_space, self.name, keep_shape=c.policy == "attention")
        self.rng = np.random.default_rng(seed)
        network = dict(policy=c.policy, obs_shape=self.encoder.shape, n_outputs=self.n_actions, hidden=c.hidden,
                       activation=c.activation, attention_dim=c.attention_dim, attention_heads=c.attention_heads,
                       attention_layers=c.attention_layers, causal=c.history > 1)
        self.q_net = build_network(rng=self.rng, **network)
        self.target_net = build_network(rng=self.rng, **network)
        copy_weights(self.q_net, self.target_net)
        self.optimizer = Adam(self.q_net.parameters(), lr=c.lr)
        self.buffer = ReplayBuffer(c.buffer_size, self.encoder.shape)
        self.normalizer = RunningMeanStd(self.encoder.shape) if c.normalize_obs else None
        self.epsilon_schedule = Schedule(c.epsilon_start, c.epsilon_end, c.exploration_steps)
        self.lr_schedule = Schedule(c.lr, c.lr if c.lr_end is None else c.lr_end, c.lr_decay_steps)
        self.steps = self.episodes = self.updates = 0
        self.last_loss = None
        self.run = Run()

    @property
    def epsilon(self) -> float:
        return self.epsilon_schedule(self.steps)

    def inputs(self, features: np.ndarray) -> np.ndarray:
        """Network inputs for encoded observations: normalized with normalize_obs."""
        return features if self.normalizer is None else self.normalizer.normalize(features)

    def q_values(self, features: np.ndarray) -> np.ndarray:
        return self.q_net.predict(self.inputs(features))

    def act(self, obs, deterministic: bool = False, rng: np.random.Generator | None = None) -> int:
        features = self.encoder.one(obs)
        rng = self.rng if rng is None else rng
        if not deterministic and rng.random() < self.epsilon:
            return int(rng.integers(self.n_actions))
        return int(self.q_values(features)[0].argmax())

    def attention_weights(self, observation) -> np.ndarray | None:
        return attention_weights(self.q_net, self.inputs(self.encoder.one(observation)))

    def action_values(self, observations) -> np.ndarray:
        return self.q_values(self.encoder.many(observations))

    def observe(self, features: np.ndarray) -> None:
        """Let the normalizer (with normalize_obs) see one encoded observation."""
        if self.normalizer is not None:
            self.normalizer.update(features[None])

    def update(self) -> float:
        """One gradient step on a replay batch; returns the loss."""
        c = self.config
        obs, actions, rewards, next_obs, terminated, horizons = self.buffer.sample(c.batch_size, self.rng)
        obs, next_obs = self.inputs(obs), self.inputs(next_obs)
        next_q_target = self.target_net.predict(next_obs)
        next_q_online = self.q_net.predict(next_obs) if c.double_dqn else None
        # One-step targets keep a scalar gamma: the same float32 arithmetic as before multi-step targets.
        discounts = c.gamma if c.n_step == 1 else c.gamma ** horizons
        targets = td_targets(rewards, terminated, next_q_target, discounts, next_q_online)
        self.optimizer.lr = self.lr_schedule(self.steps)
        loss = dqn_loss(self.q_net(Tensor(obs)), actions, targets, c.huber_delta)
        self.optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(self.optimizer.params, c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return float(loss.data)

    def learn(self, env, total_steps: int, callback=None, progress_bar: bool = False):
        """Run `total_steps` more env steps on `env` (an env, a function that makes one, or a
        SyncVectorEnv of one env); `callback(record)` after each episode, False stops.

            >>> import gymnasium as gym
            >>> env = gym.make("CartPole-v1")
            >>> agent = DQN(env.observation_space, env.action_space, DQN.Config(hidden=(8,), learning_starts=50))
            >>> agent.learn(env, 200).steps
            200
        """
        end = self.steps + check_total_steps(total_steps)
        callback = as_callback(callback, self, total_steps, progress_bar)
        c, encoder, run = self.config, self.encoder, self.run
        env, owned = open_env(env, self)
        features = None
        episode_return, episode_length, needs_reset = 0.0, 0, False
        window: list = []  # (features, action, reward) of the episode's steps not yet in the buffer (n_step > 1)

        def keep():  # the loop's variables, for checkpoints taken by the callback and the next learn
            run.vars = {"features": features, "return": episode_return, "length": episode_length,
                        "reset": needs_reset, "window": {
                            "obs": np.array([w[0] for w in window], dtype=np.float32).reshape(-1, *encoder.shape),
                            "actions": np.array([w[1] for w in window], dtype=np.int64),
                            "rewards": np.array([w[2] for w in window], dtype=np.float64)}}

        try:
            fresh = run.begin(env, self.rng)
            if fresh is not None:
                features = encoder.one(fresh[0])[0]
                self.observe(features)
            else:
                v = run.vars
                features, episode_return, episode_length, needs_reset = (
                    np.asarray(v["features"], dtype=np.float32), v["return"], v["length"], v["reset"])
                w = v.get("window")  # absent in checkpoints from before multi-step targets
                if w is not None:
                    window = [(np.asarray(o, dtype=np.float32), int(a), float(r))
                              for o, a, r in zip(w["obs"], w["actions"], w["rewards"])]
            if not run.deliver(callback):
                return self
            while self.steps < end:
                if needs_reset:
                    obs, _ = env.reset()
                    features = encoder.one(obs)[0]
                    self.observe(features)
                    episode_return, episode_length, needs_reset = 0.0, 0, False
                epsilon = self.epsilon_schedule(self.steps)
                if self.rng.random() < epsilon:
                    action = int(self.rng.integers(self.n_actions))
                else:
                    action = int(self.q_values(features[None])[0].argmax())
                next_obs, reward, terminated, truncated, _ = env.step(action)
                next_features = encoder.one(next_obs)[0]
                self.observe(next_features)
                window.append((features.copy(), action, reward))  # a copy: an env may reuse its obs array
                if terminated or truncated:  # the episode's last transitions, each bootstrapping from its end
                    while window:
                        self._store_oldest(window, next_features, terminated)
                elif len(window) == c.n_step:
                    self._store_oldest(window, next_features, False)
                self.steps += 1
                episode_return += reward
                episode_length += 1

                # Counted on env steps, outside the training branch (see PITFALLS).
                if self.steps % c.target_update_interval == 0:
                    copy_weights(self.q_net, self.target_net, c.tau)
                if (self.steps >= c.learning_starts and self.steps % c.train_freq == 0
                        and len(self.buffer) >= c.batch_size):
                    for _ in range(c.gradient_steps):
                        self.last_loss = self.update()
                features = next_features

                if terminated or truncated:
                    self.episodes += 1
                    run.pending.append({"step": self.steps, "episode": self.episodes,
                                        "return": float(episode_return), "length": episode_length,
                                        "epsilon": epsilon, "loss": self.last_loss, "lr": self.optimizer.lr})
                    needs_reset = True
                    keep()
                    if not run.deliver(callback):
                        break
        finally:
            keep()
            run.end()
            if owned:
                env.close()
        return self

    def _store_oldest(self, window: list, next_features: np.ndarray, terminated: bool) -> None:
        """Move the window's oldest step into the buffer as a len(window)-step transition to `next_features`."""
        reward = window[0][2]
        for k in range(1, len(window)):
            reward += self.config.gamma ** k * window[k][2]
        features, action, _ = window[0]
        self.buffer.add(features, action, reward, next_features, terminated, len(window))
        del window[0]

    # ------------------------------------------------------------ persistence
    def checkpoint_fields(self) -> tuple[str, ...]:
        if self.buffer.nbytes <= MAX_SAVED_BUFFER_BYTES:
            return self.saved
        return tuple(name for name in self.saved if name != "buffer")
