"""Optimizers: SGD (momentum, weight decay), Adam and AdamW, and gradient-norm clipping.

For speed the optimizer keeps every parameter in one flat buffer and makes each
`Parameter.data` a view into it, so an update is a handful of vector ops however
many layers the network has. Gradients get the same treatment: each parameter's
`_grad_buffer` is a view of one flat gradient vector, which linear layers write
their gradients into, so a step copies nothing (other gradients are gathered
into it). If something replaces a parameter's array (e.g. `Module.to(dtype)`),
the next step notices and re-links.

A parameter whose `.grad` is None is skipped that step (as in PyTorch); the bias
correction of Adam uses the optimizer's step count.
"""

from __future__ import annotations

import math

import numpy as np

from .module import Parameter


class Optimizer:
    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = lr
        self.steps = 0
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
        self._grad_views = []
        for p, where in zip(self.params, self._slices):
            view = self._grad[where].reshape(p.shape)
            self._grad_views.append(view)
            if isinstance(p, Parameter):
                p._grad_buffer = view  # layers write their gradients here: no copy in step()

    def _linked(self) -> bool:
        for p, view in zip(self.params, self._views):
            if p.data is not view:
                return False
        return True

    def _flat_grad(self):
        """All gradients gathered into the flat gradient vector, or None when some parameter has none."""
        grads = [p.grad for p in self.params]
        if any(grad is None for grad in grads):
            return None
        return np.concatenate(grads, axis=None, out=self._grad, casting="same_kind")  # axis=None: ravelled

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.steps += 1
        for p, data, grad in zip(self.params, self._views, self._grad_views):
            if p.data is not data or p.grad is not grad:
                break
        else:  # the common case: every gradient was computed straight into the flat vector
            self._update(self._flat, self._grad, None)
            return
        if not self._linked():
            self._relink()
        grad = self._flat_grad()
        if grad is not None:
            self._update(self._flat, grad, None)
        else:
            for p, where in zip(self.params, self._slices):
                if p.grad is not None:
                    self._update(self._flat[where], p.grad.ravel().astype(self._flat.dtype, copy=False), where)

    def _relink(self) -> None:
        state = self._state_arrays()
        self._link()
        for name, value in state.items():
            setattr(self, name, value.astype(self._flat.dtype))

    def _state_arrays(self) -> dict:
        return {}

    def _update(self, params: np.ndarray, grad: np.ndarray, where: slice | None) -> None:
        """Update `params`, the slice `where` of the flat parameters (None: all of them), from `grad`."""
        raise NotImplementedError

    # ----------------------------------------------------------- persistence
    def state_dict(self) -> dict:
        state = {"steps": np.array(self.steps), "lr": np.array(self.lr)}
        state.update({k: v.copy() for k, v in self._state_arrays().items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        expected = set(self._state_arrays()) | {"steps", "lr"}
        if set(state) != expected:
            raise ValueError(f"{type(self).__name__} state has keys {sorted(state)}, expected {sorted(expected)}")
        for name, current in self._state_arrays().items():
            if state[name].shape != current.shape:
                raise ValueError(f"{type(self).__name__} state '{name}' has shape {state[name].shape}, "
                                 f"expected {current.shape}: it belongs to a different network")
            current[...] = state[name]
        self.steps = int(state["steps"])
        self.lr = float(state["lr"])


class SGD(Optimizer):
    """p -= lr * (g + wd * p), with heavy-ball momentum: b = mu * b + (g + wd * p); p -= lr * b."""

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

    def _update(self, params, grad, where):
        if self.weight_decay:
            grad = grad + self.weight_decay * params
        if self.momentum:
            velocity = self.velocity if where is None else self.velocity[where]
            if self.steps > 1:
                velocity *= self.momentum
                velocity += grad
            else:
                velocity[...] = grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        params -= self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr * m_hat / (sqrt(v_hat) + eps). `weight_decay` adds wd * p to g (L2, as torch.optim.Adam)."""

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

    def _update(self, params, grad, where):
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
        step_size = self.lr / (1 - b1 ** self.steps)
        denom = np.sqrt(v)
        denom *= 1 / math.sqrt(1 - b2 ** self.steps)
        denom += self.eps
        params -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p -= lr * wd * p before the Adam step."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale gradients so their global L2 norm is at most `max_norm`; returns the norm before clipping."""
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
