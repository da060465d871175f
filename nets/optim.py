"""Optimizers: SGD (momentum, weight decay), Adam and AdamW, and gradient-norm clipping.

As in torch.optim, a parameter whose `.grad` is None is skipped that step, and
each parameter keeps its own step count (`param_steps`): Adam's bias correction
and SGD's first momentum step follow the steps that parameter actually took.
An optimizer's parameters live in one `FlatParameters` vector (below), so a small
network's update is a dozen vector ops however many layers it has; a large one's
runs parameter by parameter, a cache-sized chunk at a time.
"""

from __future__ import annotations

import math

import numpy as np


class FlatParameters:
    """An optimizer's parameters as one flat array, each `Parameter.data` a view of its slice.

    The optimizer owns it (`optimizer.flat`); layers, Tensor and functional never see
    it. `data` is the flat vector: writing a parameter's `.data[...]` writes it, and an
    update of `data` moves every parameter at once. `gather_grads()` copies the
    parameters' `.grad` arrays into `grad`, a second flat array of its own, with one
    `np.concatenate`: `.grad` stays the array backward() made, which the user may keep.
    If something replaces a parameter's array (`Module.to(dtype)`, `p.data = ...`),
    `linked()` turns False and the optimizer calls `link()` again.

        >>> from rl_scratch.nets import FlatParameters, Parameter
        >>> a, b = Parameter(np.array([1.0, 2.0])), Parameter(np.array([[3.0]]))
        >>> flat = FlatParameters([a, b])
        >>> flat.data.tolist(), np.shares_memory(a.data, flat.data)
        ([1.0, 2.0, 3.0], True)
        >>> flat.data -= 1.0  # one update of the flat vector moves every parameter
        >>> a.data.tolist(), b.data.tolist()
        ([0.0, 1.0], [[2.0]])
    """

    def __init__(self, params: list):
        self.params = params
        self.link()

    def link(self) -> None:
        """Copy the parameters into a new flat vector and make each `.data` a view of its slice.

            >>> from rl_scratch.nets import FlatParameters, Parameter
            >>> p = Parameter(np.zeros(2)); flat = FlatParameters([p])
            >>> p.data = np.ones(2); flat.linked()  # replaced: no longer a view
            False
            >>> flat.link(); flat.linked(), flat.data.tolist()
            (True, [1.0, 1.0])
        """
        self.data = np.empty(sum(p.size for p in self.params), dtype=np.result_type(*[p.data.dtype for p in self.params]))
        self.slices = []
        start = 0
        for p in self.params:
            where = slice(start, start + p.size)
            self.data[where] = p.data.ravel()
            p.data = self.data[where].reshape(p.shape)
            self.slices.append(where)
            start = where.stop
        self._views = [p.data for p in self.params]
        self.grad = np.empty_like(self.data)

    def linked(self) -> bool:
        """Whether every parameter's `.data` is still its view of `data`.

            >>> from rl_scratch.nets import FlatParameters, Parameter
            >>> p = Parameter(np.zeros(3)); flat = FlatParameters([p])
            >>> p.data[0] = 5.0; flat.linked()  # writing into the view keeps the link
            True
        """
        for p, view in zip(self.params, self._views):
            if p.data is not view:
                return False
        return True

    def gather_grads(self) -> np.ndarray:
        """`grad`, filled with every parameter's `.grad` (none may be None), cast to `data`'s dtype.

            >>> from rl_scratch.nets import FlatParameters, Parameter
            >>> a, b = Parameter(np.zeros(2)), Parameter(np.zeros(1))
            >>> a.grad, b.grad = np.array([0.5, 1.5]), np.array([2.5])
            >>> FlatParameters([a, b]).gather_grads().tolist()
            [0.5, 1.5, 2.5]
        """
        return np.concatenate([p.grad for p in self.params], axis=None, out=self.grad, casting="same_kind")


class Optimizer:
    """Base of the optimizers: holds the parameters in a `FlatParameters` vector and counts steps per parameter.

    Subclasses define `_update`; a parameter with no gradient is skipped at that step (its
    step count stays, as in torch.optim).

        >>> from rl_scratch.nets import SGD, Parameter
        >>> a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
        >>> opt = SGD([a, b], lr=0.5)
        >>> a.grad = np.ones(2); opt.step()  # b got no gradient
        >>> a.data.tolist(), b.data.tolist(), opt.param_steps.tolist()
        ([0.5, 0.5], [1.0, 1.0, 1.0], [1, 0])
    """

    # Updates run over pieces of this many elements (0.5 MiB of float32 per array): an update is a
    # dozen vector passes, and over a piece the five arrays it touches stay in cache between passes
    # instead of streaming a million-parameter network through memory twelve times.
    CHUNK = 1 << 17

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = lr
        self.steps = 0
        self.param_steps = np.zeros(len(self.params), dtype=np.int64)  # updates each parameter received
        self.flat = FlatParameters(self.params)
        self._scratch = np.empty(min(self.flat.data.size, self.CHUNK), dtype=self.flat.data.dtype)

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
        if not self.flat.linked():
            self._relink()
        grads = [p.grad for p in self.params]
        if all(grad is not None for grad in grads):
            self.param_steps += 1
            steps = self.param_steps
            if self.flat.data.size <= self.CHUNK and (steps == steps[0]).all():
                # A small network: gathered into one flat gradient, its update is a dozen vector ops
                # in all, where one update per parameter would pay Python's overhead per parameter.
                self._update(slice(0, self.flat.data.size), self.flat.gather_grads(), int(steps[0]), self._scratch)
                return
        else:
            for i, grad in enumerate(grads):
                if grad is not None:
                    self.param_steps[i] += 1
        for i, (grad, where) in enumerate(zip(grads, self.flat.slices)):
            if grad is not None:  # straight from `.grad`: a large network's gradients are not copied
                self._update_range(where, grad.ravel().astype(self.flat.data.dtype, copy=False), int(self.param_steps[i]))

    def _update_range(self, where: slice, grad: np.ndarray, step: int) -> None:
        """Update the flat parameters `where` from `grad` (one parameter's gradient, flat), CHUNK elements at a time."""
        for start in range(where.start, where.stop, self.CHUNK):
            stop = min(start + self.CHUNK, where.stop)
            self._update(slice(start, stop), grad[start - where.start:stop - where.start], step,
                         self._scratch[:stop - start])

    def _relink(self) -> None:
        state = self._state_arrays()
        self.flat.link()
        self._scratch = self._scratch.astype(self.flat.data.dtype)
        for name, value in state.items():
            setattr(self, name, value.astype(self.flat.data.dtype))

    def _state_arrays(self) -> dict:
        return {}

    def _update(self, where: slice, grad: np.ndarray, step: int, scratch: np.ndarray) -> None:
        """Update the flat parameters `where` (and the state arrays' same slice) from `grad`; `step`
        counts this update among those these parameters received (1 on the first); `scratch` is
        free memory of the slice's size."""
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
        self.velocity = np.zeros_like(self.flat.data)

    def _state_arrays(self) -> dict:
        return {"velocity": self.velocity}

    def _update(self, where, grad, step, scratch):
        params = self.flat.data[where]
        if self.weight_decay:
            grad = np.add(grad, self.weight_decay * params, out=scratch)
        if self.momentum:
            velocity = self.velocity[where]
            if step > 1:
                velocity *= self.momentum
                velocity += grad
            else:
                velocity[...] = grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        params -= np.multiply(grad, self.lr, out=scratch)


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
        self.m = np.zeros_like(self.flat.data)
        self.v = np.zeros_like(self.flat.data)

    def _state_arrays(self) -> dict:
        return {"m": self.m, "v": self.v}

    def _update(self, where, grad, step, scratch):
        b1, b2 = self.betas
        params, m, v = self.flat.data[where], self.m[where], self.v[where]
        if self.weight_decay:
            if self.decoupled:
                params *= 1 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * params  # a new array: `grad` may be the caller's
        m *= b1
        m += np.multiply(grad, 1 - b1, out=scratch)
        v *= b2
        v += np.multiply(np.multiply(grad, grad, out=scratch), 1 - b2, out=scratch)
        # p -= lr m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t),
        # as p -= m / d with d = (sqrt(v) / sqrt(1 - b2^t) + eps) / step_size: one pass fewer.
        step_size = self.lr / (1 - b1 ** step)
        d = np.sqrt(v, out=scratch)
        d *= 1 / (math.sqrt(1 - b2 ** step) * step_size)
        d += self.eps / step_size
        params -= np.divide(m, d, out=d)


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
