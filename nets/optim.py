"""Optimizers: SGD (momentum, weight decay), Adam and AdamW, and gradient-norm clipping.

The optimizer's flat vector. For speed an optimizer keeps its parameters in one
flat array (`self._flat`) and makes each `Parameter.data` a view of its slice, so
an update is a handful of vector ops however many layers the network has. That
vector belongs to the optimizer alone: layers, Tensor and functional never see it.
At each step the gradients are gathered into a second flat array with one
`np.concatenate`; `.grad` stays the array backward() made, which the user may keep.
If something replaces a parameter's array (e.g. `Module.to(dtype)`), the next step
notices and re-links.

As in torch.optim, a parameter whose `.grad` is None is skipped that step, and
each parameter keeps its own step count (`param_steps`): Adam's bias correction
and SGD's first momentum step follow the steps that parameter actually took.
"""

from __future__ import annotations

import math

import numpy as np


class Optimizer:
    """Base of the optimizers: holds the parameters in one flat buffer and counts steps per parameter.

    Subclasses define `_update`; a parameter with no gradient is skipped at that step (its
    step count stays, as in torch.optim).

        >>> from rl_scratch.nets import SGD, Parameter
        >>> a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
        >>> opt = SGD([a, b], lr=0.5)
        >>> a.grad = np.ones(2); opt.step()  # b got no gradient
        >>> a.data.tolist(), b.data.tolist(), opt.param_steps.tolist()
        ([0.5, 0.5], [1.0, 1.0, 1.0], [1, 0])
    """
    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = lr
        self.steps = 0
        self.param_steps = np.zeros(len(self.params), dtype=np.int64)  # updates each parameter received
        self._link()

    def _link(self) -> None:
        """Copy parameters into one flat buffer and make each `.data` a view of it."""
        dtype = np.result_type(*[p.data.dtype for p in self.params])
        self._flat = np.empty(sum(p.size for p in self.params), dtype=dtype)
        self._slices = []
        start = 0
        for p in self.params:
            stop = start + p.size
            self._flat[start:stop] = p.data.ravel()
            p.data = self._flat[start:stop].reshape(p.shape)
            self._slices.append(slice(start, stop))
            start = stop
        self._views = [p.data for p in self.params]
        self._grad = np.empty_like(self._flat)

    def _linked(self) -> bool:
        for p, view in zip(self.params, self._views):
            if p.data is not view:
                return False
        return True

    def zero_grad(self) -> None:
        """Forget the gradients of the parameters, before the next backward.

            >>> from rl_scratch.nets import SGD, Parameter
            >>> w = Parameter(np.ones(1)); w.grad = np.ones(1)
            >>> SGD([w]).zero_grad(); w.grad is None
            True
        """
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, once.

            >>> from rl_scratch.nets import SGD, Parameter
            >>> w = Parameter(np.array([2.0])); w.grad = np.array([1.0])
            >>> SGD([w], lr=0.5).step(); w.item()
            1.5
        """
        self.steps += 1
        if not self._linked():
            self._relink()
        grads = [p.grad for p in self.params]
        if all(grad is not None for grad in grads):
            self.param_steps += 1
            steps = self.param_steps
            if steps[0] == steps[-1] and (len(steps) < 3 or (steps == steps[0]).all()):
                flat_grad = np.concatenate(grads, axis=None, out=self._grad, casting="same_kind")  # axis=None: ravelled
                self._update(self._flat, flat_grad, None, int(steps[0]))
                return
        else:
            for i, grad in enumerate(grads):
                if grad is not None:
                    self.param_steps[i] += 1
        for i, (grad, where) in enumerate(zip(grads, self._slices)):
            if grad is not None:
                self._update(self._flat[where], grad.ravel().astype(self._flat.dtype, copy=False), where,
                             int(self.param_steps[i]))

    def _relink(self) -> None:
        state = self._state_arrays()
        self._link()
        for name, value in state.items():
            setattr(self, name, value.astype(self._flat.dtype))

    def _state_arrays(self) -> dict:
        return {}

    def _update(self, params: np.ndarray, grad: np.ndarray, where: slice | None, step: int) -> None:
        """Update `params`, the slice `where` of the flat parameters (None: all of them), from `grad`;
        `step` counts this update among those these parameters received (1 on the first)."""
        raise NotImplementedError

    # ----------------------------------------------------------- persistence
    def state_dict(self) -> dict:
        """Step counts, learning rate and moment buffers as plain arrays (for checkpoints).

            >>> from rl_scratch.nets import Adam, Parameter
            >>> sorted(Adam([Parameter(np.ones(2))]).state_dict())
            ['lr', 'm', 'param_steps', 'steps', 'v']
        """
        state = {"steps": np.array(self.steps), "param_steps": self.param_steps.copy(), "lr": np.array(self.lr)}
        state.update({k: v.copy() for k, v in self._state_arrays().items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore a state_dict(); one saved before per-parameter step counts existed gets `steps` for each.

            >>> from rl_scratch.nets import Adam, Parameter
            >>> w = Parameter(np.ones(2)); w.grad = np.ones(2)
            >>> opt = Adam([w]); opt.step()
            >>> again = Adam([Parameter(np.ones(2))]); again.load_state_dict(opt.state_dict())
            >>> again.steps, np.array_equal(again.m, opt.m)
            (1, True)
        """
        expected = set(self._state_arrays()) | {"steps", "param_steps", "lr"}
        if set(state) | {"param_steps"} != expected:
            raise ValueError(f"{type(self).__name__} state has keys {sorted(state)}, expected {sorted(expected)}")
        param_steps = np.asarray(state.get("param_steps", np.full(len(self.params), int(state["steps"]))))
        if param_steps.shape != self.param_steps.shape:
            raise ValueError(f"{type(self).__name__} state 'param_steps' has shape {param_steps.shape}, "
                             f"expected {self.param_steps.shape}: it belongs to a different network")
        for name, current in self._state_arrays().items():
            if state[name].shape != current.shape:
                raise ValueError(f"{type(self).__name__} state '{name}' has shape {state[name].shape}, "
                                 f"expected {current.shape}: it belongs to a different network")
            current[...] = state[name]
        self.steps = int(state["steps"])
        self.param_steps[...] = param_steps
        self.lr = float(state["lr"])


class SGD(Optimizer):
    """p -= lr * (g + wd * p), with heavy-ball momentum: b = mu * b + (g + wd * p); p -= lr * b.

        >>> from rl_scratch.nets import SGD, Parameter
        >>> w = Parameter(np.array([1.0]))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()  # d(w^2)/dw = 2w
        >>> round(w.item(), 4)  # 1 - 0.2 = 0.8, then 0.8 - 0.1 * (0.9 * 2 + 1.6)
        0.46
    """

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov momentum needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        self.velocity = np.zeros_like(self._flat)

    def _state_arrays(self) -> dict:
        return {"velocity": self.velocity}

    def _update(self, params, grad, where, step):
        if self.weight_decay:
            grad = grad + self.weight_decay * params
        if self.momentum:
            velocity = self.velocity if where is None else self.velocity[where]
            if step > 1:
                velocity *= self.momentum
                velocity += grad
            else:
                velocity[...] = grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        params -= self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr * m_hat / (sqrt(v_hat) + eps). `weight_decay` adds wd * p to g (L2, as torch.optim.Adam).

        >>> from rl_scratch.nets import F, MLP, Adam, Tensor
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 3, size=32)
        >>> net = MLP([4, 16, 3], rng=rng)
        >>> opt = Adam(net.parameters(), lr=1e-2)
        >>> losses = []
        >>> for _ in range(50):
        ...     loss = F.cross_entropy(net(Tensor(x)), y)
        ...     opt.zero_grad(); loss.backward(); opt.step()
        ...     losses.append(loss.item())
        >>> losses[-1] < 0.5 * losses[0]  # it fits the batch
        True
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Adam betas must be in [0, 1), got {betas}")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        self.m = np.zeros_like(self._flat)
        self.v = np.zeros_like(self._flat)

    def _state_arrays(self) -> dict:
        return {"m": self.m, "v": self.v}

    def _update(self, params, grad, where, step):
        b1, b2 = self.betas
        if self.weight_decay:
            if self.decoupled:
                params *= 1 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * params
        m, v = (self.m, self.v) if where is None else (self.m[where], self.v[where])
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * (grad * grad)
        step_size = self.lr / (1 - b1 ** step)
        denom = np.sqrt(v)
        denom *= 1 / math.sqrt(1 - b2 ** step)
        denom += self.eps
        params -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p -= lr * wd * p before the Adam step.

        >>> from rl_scratch.nets import AdamW, Parameter
        >>> w = Parameter(np.array([1.0]))
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = np.zeros(1); opt.step()  # no gradient: only the decay acts
        >>> w.item()
        0.95
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale gradients so their global L2 norm is at most `max_norm`; returns the norm before clipping.

        >>> from rl_scratch.nets import Parameter, clip_grad_norm
        >>> w = Parameter(np.zeros(2))
        >>> w.grad = np.array([3.0, 4.0])
        >>> clip_grad_norm([w], max_norm=1.0), w.grad.round(3).tolist()
        (5.0, [0.6, 0.8])
    """
    params = list(params)  # read twice below: a generator would be spent after the norm
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if not math.isfinite(total):
        raise FloatingPointError(f"gradient norm is {total}: the loss or a gradient is NaN/inf "
                                 "(lower the learning rate or check the inputs)")
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * scale  # a new array: gradients may be shared between tensors
    return total
