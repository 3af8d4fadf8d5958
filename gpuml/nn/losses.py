"""Loss objects in the style of torch.nn: ``loss = criterion(output, target)`` gives the loss (a tensor on the
device; ``loss.item()`` reads it) and ``criterion.backward()`` its gradient with respect to ``output``, computed by the
same kernel as the value, ready for ``model.backward``::

    criterion = nn.MSELoss()
    loss = criterion(model(x), y)
    model.backward(criterion.backward())
    optimizer.step()

``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-element loss; the gradient is then that of
their sum), as in PyTorch.
"""

from __future__ import annotations

from .. import ops
from ..tensor import Tensor
from . import functional as F


class _Loss:
    def __init__(self, reduction: str = "mean"):
        if reduction not in F.REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction
        self.grad: Tensor | None = None

    def _compute(self, output, target) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, output, target) -> Tensor:
        loss, self.grad = self._compute(output, target)
        return loss

    __call__ = forward

    def backward(self) -> Tensor:
        """d loss / d output of the last call."""
        if self.grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward() before a forward call")
        return self.grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSELoss(_Loss):
    """Mean squared error, as torch.nn.MSELoss (shaders/nn/mse_loss.wgsl)."""

    def _compute(self, output, target):
        return F.mse_loss(output, target, self.reduction, return_grad=True)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (stable form), as torch.nn.BCEWithLogitsLoss; float targets in [0, 1]
    (shaders/nn/bce_with_logits.wgsl)."""

    def _compute(self, output, target):
        return F.binary_cross_entropy_with_logits(output, target, self.reduction, return_grad=True)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy over (N, K) logits and (N,) int32 class labels, as torch.nn.CrossEntropyLoss
    (the fused shaders/nn/softmax_xent.wgsl)."""

    def _compute(self, output, target):
        row_loss, _, grad = F.softmax_cross_entropy(output, target, mean=self.reduction == "mean")
        if self.reduction == "none":
            return row_loss, grad
        return (ops.mean(row_loss) if self.reduction == "mean" else ops.sum(row_loss)), grad
