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

from rl_scratch.nets import Categorical, Tensor, clip_grad_norm

from .common import normalize
from .rollout import ActorCriticAgent, ActorCriticConfig, RolloutBuffer, value_loss


@dataclass
class A2CConfig(ActorCriticConfig):
    """The settings of A2C, one documented field each; an invalid value raises ValueError at once.

        >>> A2CConfig(n_envs=4).n_steps
        5
    """

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
    normalize_advantages: bool = False
    """normalize advantages within each rollout"""

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_envs", "n_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"gae_lambda must be in [0, 1], got {self.gae_lambda}")


class A2C(ActorCriticAgent):
    """Synchronous advantage actor-critic (see the module docstring).

        >>> import gymnasium as gym
        >>> env = gym.make("CartPole-v1")
        >>> agent = A2C(env.observation_space, env.action_space, A2C.Config(n_envs=2), seed=0).learn(env, 100)
        >>> agent.steps, agent.updates
        (100, 10)
    """

    name = "a2c"
    Config = A2CConfig

    # ----------------------------------------------------------- learning
    def update(self, buffer: RolloutBuffer) -> dict:
        """One gradient step on the whole rollout."""
        c = self.config
        data = buffer.flat()
        advantages = normalize(data["advantages"]) if c.normalize_advantages else data["advantages"]
        logits, values = self.net(Tensor(data["obs"]))
        policy = Categorical(logits)
        pg_loss = -(policy.log_prob(data["actions"]) * advantages).mean()
        entropy = policy.entropy().mean()
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

    def learn_rollout(self, buffer: RolloutBuffer, progress_remaining: float) -> dict:
        return self.update(buffer)
