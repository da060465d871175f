"""A2C: synchronous advantage actor-critic.

Reference: Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning"
(ICML 2016), in its synchronous form (OpenAI Baselines, Stable-Baselines3): short
n-step rollouts from several envs, GAE advantages, one gradient step per rollout.
Spaces: Discrete or Box observations, Discrete actions.

    pg_loss = -mean(log pi(a|s) * A)
    loss    = pg_loss - ent_coef * entropy + vf_coef * 0.5 * mean((V(s) - R)^2)

Adam (eps 1e-5) stands in for the RMSprop of the original: nets has no RMSprop.
Rollouts, GAE, truncation bootstrapping and checkpoints are shared with PPO (rollout.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_scratch.nets import Adam, Tensor, clip_grad_norm, no_grad

from .common import (ObsEncoder, categorical_log_prob, check_total_steps, finite_or_none, normalize,
                     require_discrete_actions, sample_categorical)
from .normalize import RunningMeanStd
from .policies import POLICIES
from .rollout import (ActorCritic, RolloutBuffer, VectorCollector, categorical_log_probs, explained_variance,
                      load_actor_critic, mean_entropy, save_actor_critic, value_loss)


@dataclass
class A2CConfig:
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 1.0
    """GAE lambda (1.0: plain n-step returns, as in the original A2C)"""
    lr: float = 7e-4
    """Adam learning rate (at the start, when annealed)"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 at total_steps"""
    n_envs: int = 8
    """parallel envs in the vector env"""
    n_steps: int = 5
    """steps per env per rollout; one gradient step per rollout"""
    ent_coef: float = 0.0
    """entropy bonus weight"""
    vf_coef: float = 0.5
    """value loss weight"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm to this"""
    normalize_advantages: bool = False
    """normalize advantages within each rollout"""
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
    async_envs: bool = False
    """step the envs in subprocesses (AsyncVectorEnv): worth it only for slow envs"""

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; choose one of {list(POLICIES)}")
        for name in ("n_envs", "n_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.gae_lambda <= 1 or not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma and gae_lambda must be in [0, 1], got {self.gamma} and {self.gae_lambda}")


class A2C:
    name = "a2c"
    Config = A2CConfig

    def __init__(self, observation_space, action_space, config: A2CConfig | None = None, seed: int = 0):
        self.config = c = config if config is not None else self.Config()
        self.observation_space, self.action_space = observation_space, action_space
        self.n_actions = require_discrete_actions(action_space, self.name)
        self.encoder = ObsEncoder(observation_space, self.name, keep_shape=c.policy == "attention")
        self.rng = np.random.default_rng(seed)
        self.net = ActorCritic(self.encoder.shape, self.n_actions, c.hidden, self.rng, activation=c.activation,
                               shared=c.shared, policy=c.policy, attention_dim=c.attention_dim,
                               attention_heads=c.attention_heads, attention_layers=c.attention_layers)
        self.optimizer = Adam(self.net.parameters(), lr=c.lr, eps=1e-5)
        self.normalizer = RunningMeanStd(self.encoder.shape) if c.normalize_obs else None
        self.steps = self.episodes = self.updates = 0
        self.last_stats: dict = {}

    # ------------------------------------------------------------- acting
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
        actions = sample_categorical(logits.data, self.rng)
        log_probs = categorical_log_probs(logits.data)[np.arange(len(actions)), actions]
        return actions, log_probs, values.data

    def value_of(self, features: np.ndarray) -> np.ndarray:
        with no_grad():
            return self.net(Tensor(features))[1].data

    def act(self, obs, deterministic: bool = False) -> int:
        features = self.encoder.one(obs)
        if self.normalizer is not None:
            features = self.normalizer.normalize(features)
        with no_grad():
            logits = self.net(Tensor(features))[0].data
        if deterministic:
            return int(logits[0].argmax())
        return int(sample_categorical(logits, self.rng)[0])

    # ----------------------------------------------------------- learning
    def update(self, buffer: RolloutBuffer) -> dict:
        """One gradient step on the whole rollout."""
        c = self.config
        data = buffer.flat()
        advantages = normalize(data["advantages"]) if c.normalize_advantages else data["advantages"]
        logits, values = self.net(Tensor(data["obs"]))
        log_probs = categorical_log_prob(logits, data["actions"])
        pg_loss = -(log_probs * advantages).mean()
        entropy = mean_entropy(logits)
        v_loss = value_loss(values, data["returns"])
        loss = pg_loss + c.vf_coef * v_loss
        if c.ent_coef:
            loss = loss - c.ent_coef * entropy
        self.optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(self.optimizer.params, c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return {"loss": float(loss.data), "pg_loss": float(pg_loss.data), "value_loss": float(v_loss.data),
                "entropy": float(entropy.data)}

    def learn(self, make_env, total_steps: int, callback=None):
        total_steps = check_total_steps(total_steps)
        if self.steps >= total_steps:
            return self
        c = self.config
        buffer = RolloutBuffer(c.n_steps, c.n_envs, self.encoder.shape)
        collector = VectorCollector(make_env, c.n_envs, self.rng, asynchronous=c.async_envs)
        try:
            while self.steps < total_steps:
                if c.anneal_lr:
                    self.optimizer.lr = c.lr * (1.0 - self.steps / total_steps)
                finished = collector.collect(buffer, self.featurize, self.policy_step, self.value_of, self.steps)
                self.steps += c.n_envs * c.n_steps
                stop = False
                for step, episode_return, length in finished:
                    self.episodes += 1
                    record = {"step": step, "episode": self.episodes, "return": episode_return, "length": length,
                              "lr": self.optimizer.lr, "loss": None, "entropy": None, **self.last_stats}
                    if callback is not None and callback(record) is False:
                        stop = True
                        break
                if stop:
                    break
                buffer.compute_advantages(c.gamma, c.gae_lambda)
                self.last_stats = self.update(buffer)
                self.last_stats["explained_variance"] = finite_or_none(
                    explained_variance(buffer.values.ravel(), buffer.returns.ravel()))
        finally:
            collector.close()
        return self

    # ------------------------------------------------------------ persistence
    def save(self, path) -> None:
        save_actor_critic(self, path)

    @classmethod
    def load(cls, path):
        return load_actor_critic(cls, path)
