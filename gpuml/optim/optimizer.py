"""The optimizer base class: torch-style parameter groups resolved into flat segments the update kernels run on.

A *segment* is one :class:`~gpuml.nn.ParameterStore` (flat parameter and gradient buffers, every parameter padded
to 64 floats, weights first) plus the group whose hyper-parameters it takes; a step records one update dispatch
per segment. A store given whole (``model.parameters()``, or as a group's ``"params"``) is its own segment and
is updated in place. Parameters given one by one (a model's, or free-standing ones made outside any model) are
staged through a small store the optimizer owns, one per group: each step copies their values and gradients in
and the updated values back, on the device (copies, no readback), so every tensor the caller holds stays valid.
"""

from __future__ import annotations

import math

from ..nn.parameters import Init, Parameter, ParameterStore
from ..ops import add, copy_into, square, zeros
from ..ops import sum as _sum
from ..tensor import Tensor

PARAMS_HELP = (
    "optimizers take a built gpuml.nn.ParameterStore (model.parameters()), an iterable of gpuml.nn.Parameter "
    "(each with data and grad tensors), (name, Parameter) or (data, grad) tensor pairs, or a list of torch-style "
    'parameter groups ({"params": ..., "lr": ...})'
)


class _Segment:
    """One store the update kernel runs on, the group that gives its hyper-parameters and its own step count
    (bias corrections count the steps a parameter has taken, as torch's per-parameter ``state["step"]``)."""

    def __init__(self, group: dict, store: ParameterStore, staged: list[tuple[Parameter, Parameter]]):
        self.group, self.store, self.staged = group, store, staged
        self.steps = 0
        self.state: dict[str, Tensor] = {}

    def stage_in(self) -> None:
        for p, q in self.staged:
            copy_into(p.grad, q.grad)
            copy_into(p.data, q.data)

    def stage_out(self) -> None:
        for p, q in self.staged:
            copy_into(q.data, p.data)


def _entries(params) -> list:
    """A group's ``params`` as a list of ParameterStore and Parameter objects."""
    if isinstance(params, ParameterStore | Parameter):
        return [params]
    if isinstance(params, str | bytes | dict | Tensor) or not hasattr(params, "__iter__"):
        raise TypeError(f"{PARAMS_HELP}; got {type(params).__name__}")
    out = []
    for item in params:
        if isinstance(item, tuple) and len(item) == 2:
            a, b = item
            if isinstance(a, str) and isinstance(b, Parameter):  # named_parameters()
                item = b
            elif isinstance(a, Tensor) and isinstance(b, Tensor):  # (data, grad): a weight, penalties apply
                item = Parameter(f"param{len(out)}", a.shape, True, data=a, grad=b)
        if not isinstance(item, ParameterStore | Parameter):
            raise TypeError(f"{PARAMS_HELP}; got a {type(item).__name__} among the parameters")
        out.append(item)
    return out


def _check_parameter(p: Parameter) -> None:
    for what in ("data", "grad"):
        t = getattr(p, what)
        if not isinstance(t, Tensor):
            raise TypeError(f"parameter {p.name!r} has no {what} tensor (a Parameter needs data and grad tensors)")
        if t.dtype_name != "float32":
            raise TypeError(f"parameter {p.name!r}: {what} is {t.dtype_name}; optimizers update float32 tensors")
        t._check_alive()
    if p.data.size != p.grad.size:
        raise ValueError(f"parameter {p.name!r}: data has {p.data.size} values, grad {p.grad.size}")
    if p.data.device is not p.grad.device:
        raise ValueError(f"parameter {p.name!r}: data on {p.data.device.name}, grad on {p.grad.device.name}")


class Optimizer:
    """Base class: ``params`` is a ParameterStore, an iterable of parameters, or a list of parameter groups
    (dicts with ``"params"`` and any hyper-parameter of the optimizer, which overrides the constructor's
    defaults for that group). ``param_groups`` holds the groups (their ``"params"`` as lists of Parameter),
    ``add_param_group`` adds one; ``max_grad_norm`` clips by the global norm over every group."""

    rule = ""  # the update rule the backends implement: sgd | adam | rmsprop
    state_names: tuple[str, ...] = ()
    decoupled = False  # weight_decay is a coupled L2 penalty (torch's SGD, Adam, RMSprop) unless True (AdamW)

    def __init__(self, params, defaults: dict, *, max_grad_norm=None):
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be positive, got {max_grad_norm}")
        self.defaults = dict(defaults)
        self.check_group(self.defaults)
        self.max_grad_norm = max_grad_norm
        self.steps = 0  # step() calls
        self.param_groups: list[dict] = []
        self.state: dict[str, Tensor] = {}  # name -> flat buffer over every segment (the store's layout)
        self.device = None
        self._segments: list[_Segment] = []
        self._zeros: Tensor | None = None
        if isinstance(params, ParameterStore | Parameter):
            groups = [{"params": params}]
        else:
            groups = list(params) if hasattr(params, "__iter__") and not isinstance(params, dict | str) else None
            if groups is None:
                raise TypeError(f"{PARAMS_HELP}; got {type(params).__name__}")
            if not groups:
                raise ValueError("optimizer got an empty parameter list")
            if any(isinstance(g, dict) for g in groups):
                if not all(isinstance(g, dict) for g in groups):
                    raise TypeError("give either parameters or parameter groups (dicts), not a mix")
            else:
                groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # --- groups -------------------------------------------------------------------------------------------
    def check_group(self, group: dict) -> None:
        """Validate one group's hyper-parameters (subclasses add their own checks)."""
        if group["lr"] <= 0:
            raise ValueError(f"learning rate must be positive, got {group['lr']}")
        if group["l1"] < 0 or group["l2"] < 0 or group["weight_decay"] < 0:
            raise ValueError(
                f"penalties must be >= 0, got l1={group['l1']}, l2={group['l2']}, weight_decay={group['weight_decay']}"
            )

    def add_param_group(self, group: dict) -> None:
        """Add a group (a dict with ``"params"``; missing hyper-parameters take the constructor's values), as
        torch.optim.Optimizer.add_param_group: e.g. layers unfrozen while fine-tuning."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError('a parameter group is a dict with a "params" entry')
        unknown = set(group) - set(self.defaults) - {"params", "name", "initial_lr"}
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no hyper-parameter {', '.join(sorted(unknown))}; "
                f"a group may set {', '.join(sorted(self.defaults))}"
            )
        entries = _entries(group["params"])
        if not entries:
            raise ValueError("optimizer got an empty parameter list")
        group = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        group = {k: self._normalise(k, v) for k, v in group.items()}
        self.check_group(group)
        group.setdefault("initial_lr", group["lr"])
        stores = [e for e in entries if isinstance(e, ParameterStore)]
        singles = [e for e in entries if isinstance(e, Parameter)]
        for store in stores:
            if store.data is None:
                raise TypeError(f"{PARAMS_HELP}; got a ParameterStore that is not built yet")
        for p in singles:
            _check_parameter(p)
        members = [p for s in stores for p in s] + singles
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in members}) != len(members) or any(id(p) in seen for p in members):
            raise ValueError("some parameters appear more than once (in one group or in several)")
        devices = {s.device for s in stores} | {p.data.device for p in singles}
        if self.device is not None:
            devices.add(self.device)
        if len(devices) > 1:
            raise ValueError(f"parameters on several devices: {sorted(d.name for d in devices)}")
        self.device = devices.pop()
        group["params"] = members
        segments = [_Segment(group, s, []) for s in stores]
        if singles:
            store = ParameterStore(self.device)
            for k, p in enumerate(singles):
                store.add(str(k), Init.full((p.data.size,), 0.0), p.decay)
            store.build()
            segments.append(_Segment(group, store, [(p, store[str(k)]) for k, p in enumerate(singles)]))
        self.param_groups.append(group)
        self._segments.extend(segments)
        self._allocate_state()

    @staticmethod
    def _normalise(key, value):
        if key == "betas":
            return (float(value[0]), float(value[1]))
        if key == "nesterov":
            return bool(value)
        if key in ("name", "initial_lr"):
            return value
        return float(value)

    def _allocate_state(self) -> None:
        """One flat buffer per state name over every segment (keeping what earlier segments hold)."""
        total = sum(seg.store.data.size for seg in self._segments)
        for name in self.state_names:
            old = self.state.get(name)
            flat = zeros((total,), "float32", self.device)
            if old is not None:
                copy_into(old, flat.view(0, (old.size,)))
            self.state[name] = flat
        offset = 0
        for seg in self._segments:
            n = seg.store.data.size
            seg.state = {k: t if n == t.size else t.view(offset, (n,)) for k, t in self.state.items()}
            offset += n

    # --- learning rate (schedules set each group's) -------------------------------------------------------
    @property
    def lr(self) -> float:
        """The first group's learning rate; assigning sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = float(value)

    @property
    def initial_lr(self) -> float:
        return self.param_groups[0]["initial_lr"]

    # --- the step -----------------------------------------------------------------------------------------
    def hyper(self, group: dict, steps: int) -> dict:
        """Rule-specific uniform fields for a segment of ``group`` at its step ``steps`` (counted from 1)."""
        raise NotImplementedError

    def step(self) -> None:
        """Update every parameter from its gradient (recorded on the device; no readback)."""
        self.steps += 1
        for seg in self._segments:
            seg.stage_in()
        clip = float(self.max_grad_norm or 0.0)
        norm_sq = None
        if clip > 0:  # the global norm over every group
            for seg in self._segments:
                s = _sum(square(seg.store.grad))
                norm_sq = s if norm_sq is None else add(norm_sq, s)
            norm_sq = norm_sq.reshape(1)
        for seg in self._segments:
            seg.steps += 1
            g, store = seg.group, seg.store
            coupled = 0.0 if self.decoupled else g["weight_decay"]
            uniform = {
                "n": store.data.size,
                "n_decay": store.n_decay,
                "lr": g["lr"],
                "l1": g["l1"],
                "l2": g["l2"] + coupled,
                "clip": clip,
                **self.hyper(g, seg.steps),
            }
            self.device.impl.optimizer_step(self.rule, store.data, store.grad, seg.state, norm_sq, uniform)
        for seg in self._segments:
            seg.stage_out()

    def zero_grad(self) -> None:
        """Set every gradient to zero (the layers' backward overwrites gradients, so training loops need not)."""
        for seg in self._segments:
            targets = [p.grad for p, _ in seg.staged] if seg.staged else [seg.store.grad]
            for t in targets:
                if self._zeros is None or self._zeros.size < t.size:
                    self._zeros = zeros((t.size,), "float32", self.device)
                copy_into(self._zeros.view(0, (t.size,)), t)

    # --- checkpoints --------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Step counts, the groups' hyper-parameters and the state buffers (numpy arrays), for exact resumption."""
        return {
            "type": type(self).__name__,
            "steps": self.steps,
            "lr": self.lr,
            "param_groups": [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups],
            "segment_steps": [seg.steps for seg in self._segments],
            **{f"state.{k}": t.numpy() for k, t in self.state.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("type", type(self).__name__) != type(self).__name__:
            raise ValueError(f"checkpoint holds {state['type']} state, this optimizer is {type(self).__name__}")
        groups = state.get("param_groups")
        if groups is not None and len(groups) != len(self.param_groups):
            have = len(self.param_groups)
            raise ValueError(f"checkpoint holds {len(groups)} parameter groups, this optimizer has {have}")
        seg_steps = state.get("segment_steps")
        if seg_steps is not None and len(seg_steps) != len(self._segments):
            raise ValueError("checkpoint's parameter groups do not match this optimizer's (number of stores)")
        for k, t in self.state.items():
            size = math.prod(getattr(state[f"state.{k}"], "shape", ()) or (1,))
            if size != t.size:
                raise ValueError(f"checkpoint's {k} holds {size} values, this optimizer's {t.size}")
        self.steps = int(state["steps"])
        if groups is None:  # a checkpoint from before parameter groups: one learning rate
            self.lr = float(state["lr"])
        else:
            for group, saved in zip(self.param_groups, groups, strict=True):
                group.update({k: self._normalise(k, v) for k, v in saved.items()})
        for seg, n in zip(self._segments, seg_steps or [self.steps] * len(self._segments), strict=True):
            seg.steps = int(n)
        for k, t in self.state.items():
            t.assign(state[f"state.{k}"])

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v}" for k, v in g.items() if k not in ("params", "initial_lr"))
            lines.append(f"  group {i}: {len(g['params'])} parameters, {hyper}")
        return "\n".join(lines) + ")"
