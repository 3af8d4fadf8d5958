"""``Sequential.summary()``: one row per layer (name, type, output shape, parameter count) and the totals, as
torchinfo / Keras print them. The numbers are attributes, so they can be checked as well as printed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerRow:
    index: int
    layer: str  # the layer's describe()
    output_shape: tuple  # with the batch axis as None (any batch size)
    params: int


@dataclass(frozen=True)
class Summary:
    input_shape: tuple
    rows: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    buffers: int  # non-trainable saved state (batch-norm running statistics), not counted in the parameters

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        def shape(s):
            return "(" + ", ".join("N" if d is None else str(d) for d in s) + ")"

        head = ("#", "Layer", "Output shape", "Params")
        body = [(str(r.index), r.layer, shape(r.output_shape), f"{r.params:,}") for r in self.rows]
        widths = [max(len(row[c]) for row in [head, *body]) for c in range(4)]

        def line(row):
            return (
                f"{row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]:>{widths[3]}}".rstrip()
            )

        rule = "=" * len(line(tuple("x" * w for w in widths)))
        lines = [f"Sequential, input {shape(self.input_shape)}", rule, line(head), rule]
        lines += [line(row) for row in body]
        lines += [
            rule,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
        ]
        if self.buffers:
            lines.append(f"Buffers (running statistics, saved with the model): {self.buffers:,}")
        lines.append(f"Parameter size: {self.total_params * 4 / 1024:,.1f} KiB (float32)")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython / Jupyter show the table
        printer.text(str(self))

    __repr__ = __str__


def summarize(model) -> Summary:
    """The :class:`Summary` of a built ``Sequential``."""
    if model.store is None:
        raise RuntimeError("call build(input_shape) first: summary() needs the input shape")
    rows = []
    for i, (layer, out) in enumerate(zip(model.layers, model.shapes, strict=True)):
        n = sum(p.size for p in getattr(layer, "params", {}).values())
        rows.append(LayerRow(i, layer.describe(), (None, *out), n))
    total = sum(r.params for r in rows)
    buffers = sum(t.size for layer in model.layers for t in layer.buffers().values())
    return Summary((None, *model.input_shape), tuple(rows), total, total, buffers)
