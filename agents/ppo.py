"""PPO: proximal policy optimization with a clipped surrogate objective.

References: Schulman et al., "Proximal Policy Optimization Algorithms" (2017);
Huang et al., "The 37 Implementation Details of Proximal Policy Optimization"
(ICLR blog track 2022), whose checklist this follows: vector envs, GAE with
correct truncation bootstrapping, minibatch epochs, per-minibatch advantage
normalization, clipped surrogate, optional value clipping, entropy bonus, global
gradient clipping, Adam eps 1e-5, learning-rate annealing, orthogonal init,
optional observation normalization and target-KL early stop.
Spaces: Discrete or Box observations, Discrete actions.

    ratio   = exp(log pi(a|s) - log pi_old(a|s))
    pg_loss = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))
    loss    = pg_loss - ent_coef * entropy + vf_coef * value_loss
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_scratch.nets import Categorical, Tensor, clip_grad_norm, where

from .common import normalize
from .rollout import ActorCriticAgent, ActorCriticConfig, RolloutBuffer, mean_entropy, value_loss


@dataclass
class PPOConfig(ActorCriticConfig):
    """The settings of PPO, one documented field each; an invalid value raises ValueError at once.

        >>> PPOConfig(n_steps=64, batch_size=64).clip_range
        0.2
    """

    gae_lambda: float = 0.95
    """GAE lambda: 0 is one-step TD advantages, 1 is Monte Carlo returns minus the value"""
    lr: float = 3e-4
    """Adam learning rate (at the start, when annealed)"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 at total_steps"""
    n_envs: int = 4
    """parallel envs in the vector env"""
    n_steps: int = 128
    """steps per env per rollout (a rollout holds n_envs * n_steps transitions)"""
    batch_size: int = 128
    """minibatch size of the gradient steps"""
    n_epochs: int = 4
    """passes over each rollout"""
    clip_range: float = 0.2
    """surrogate clip: the ratio is kept within [1 - clip_range, 1 + clip_range]"""
    anneal_clip: bool = False
    """decay clip_range linearly to 0 at total_steps (rl-zoo's 'lin_0.2')"""
    clip_value: float = 0.0
    """> 0: clip value updates to this distance from the rollout's values; 0: no value clipping"""
    target_kl: float = 0.0
    """> 0: stop the update epochs once the approximate KL to the rollout policy exceeds 1.5 * target_kl"""
    normalize_advantages: bool = True
    """normalize advantages within each minibatch"""

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_envs", "n_steps", "batch_size", "n_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size > self.n_envs * self.n_steps:
            raise ValueError(f"batch_size {self.batch_size} is larger than a rollout (n_envs * n_steps = "
                             f"{self.n_envs * self.n_steps}): lower batch_size or raise n_steps")
        if not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        if self.clip_range <= 0:
            raise ValueError(f"clip_range must be > 0, got {self.clip_range}")


def clipped_surrogate_loss(logits: Tensor, actions: np.ndarray, old_log_probs: np.ndarray,
                           advantages: np.ndarray, clip_range: float) -> tuple[Tensor, dict]:
    """PPO's clipped policy loss, plus (approx_kl, clip_fraction) of the minibatch.

    approx_kl is the low-variance estimator mean((ratio - 1) - log ratio) (Schulman's blog).

        >>> logits = Tensor(np.zeros((2, 2)))
        >>> old_log_probs, advantages = np.log([0.5, 0.5]), np.array([1.0, 3.0])
        >>> loss, stats = clipped_surrogate_loss(logits, np.array([0, 1]), old_log_probs, advantages, 0.2)
        >>> float(loss.data), stats["clip_fraction"]  # ratio 1 everywhere: -mean(A), nothing clipped
        (-2.0, 0.0)
    """
    log_ratio = Categorical(logits).log_prob(actions) - old_log_probs
    ratio = log_ratio.exp()
    advantages = advantages.astype(logits.dtype, copy=False)
    pg_loss1 = ratio * -advantages
    pg_loss2 = ratio.clip(1.0 - clip_range, 1.0 + clip_range) * -advantages
    pg_loss = where(pg_loss1 >= pg_loss2, pg_loss1, pg_loss2).mean()  # the pessimistic (larger) loss
    r, lr = ratio.data, log_ratio.data
    stats = {"approx_kl": float(np.mean(r - 1.0 - lr)), "clip_fraction": float(np.mean(np.abs(r - 1.0) > clip_range))}
    return pg_loss, stats


class PPO(ActorCriticAgent):
    """Proximal policy optimization (see the module docstring).

        >>> import gymnasium as gym
        >>> env = gym.make("CartPole-v1")
        >>> agent = PPO(env.observation_space, env.action_space, PPO.Config(n_steps=32, batch_size=64), seed=0)
        >>> agent.learn(env, 256).updates  # 2 rollouts x 4 epochs x 2 minibatches
        16
    """

    name = "ppo"
    Config = PPOConfig

    # ----------------------------------------------------------- learning
    def update(self, buffer: RolloutBuffer, clip_range: float) -> dict:
        """n_epochs passes of minibatch gradient steps over one rollout; returns the losses of the last one."""
        c = self.config
        data = buffer.flat()
        size = data["actions"].shape[0]
        stats: dict = {}
        for _ in range(c.n_epochs):
            order = self.rng.permutation(size)
            for start in range(0, size, c.batch_size):
                index = order[start:start + c.batch_size]
                advantages = data["advantages"][index]
                if c.normalize_advantages:
                    advantages = normalize(advantages)
                logits, values = self.net(Tensor(data["obs"][index]))
                pg_loss, stats = clipped_surrogate_loss(logits, data["actions"][index], data["log_probs"][index],
                                                        advantages, clip_range)
                if c.target_kl > 0 and stats["approx_kl"] > 1.5 * c.target_kl:
                    stats["early_stop"] = True
                    return stats
                entropy = mean_entropy(logits)
                v_loss = value_loss(values, data["returns"][index], data["values"][index], c.clip_value)
                loss = pg_loss + c.vf_coef * v_loss
                if c.ent_coef:
                    loss = loss - c.ent_coef * entropy
                self.optimizer.zero_grad()
                loss.backward()
                clip_grad_norm(self.optimizer.params, c.max_grad_norm)
                self.optimizer.step()
                self.updates += 1
                stats.update(loss=float(loss.data), pg_loss=float(pg_loss.data), value_loss=float(v_loss.data),
                             entropy=float(entropy.data))
        return stats

    def learn_rollout(self, buffer: RolloutBuffer, progress_remaining: float) -> dict:
        c = self.config
        clip_range = c.clip_range * progress_remaining if c.anneal_clip else c.clip_range
        return self.update(buffer, max(clip_range, 1e-8))
