"""The packed parameters of the augmentation kernels (shaders/augment/common.wgsl): what gpuml.augment's planner
writes and every backend's implementation (gpuml/impl/{webgpu,cpu,python}/augment.py) reads.

Per image and pass: GEO_SLOTS vec4 slots (matrix A: 2, matrix B: 2, elastic (alpha, spacing, seed): 1), then
OP_SLOTS slots (12 words, OP_FORMATS) per pixel op. Op codes are the kernels' too.
"""

from __future__ import annotations

GEO_SLOTS = 5  # A (2 slots), B (2), elastic (1)
OP_SLOTS = 3

MATRIX, CONTRAST, NOISE, CUTOUT, NORMALIZE = 0, 1, 2, 3, 4
# NORMALIZE: (v - mean) / std on channel group g (channels 4g .. 4g + 3): mean (4), std (4), g, then 3 unused.
# It never clips (its output is outside value_range by design).
OP_FORMATS = {MATRIX: "f" * 12, CONTRAST: "f" * 12, NOISE: "fI" + "f" * 10, CUTOUT: "f" * 12, NORMALIZE: "f" * 12}
OP_IDENTITY = {
    MATRIX: (1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    CONTRAST: (1.0,) + (0.0,) * 11,
    NOISE: (0.0, 0) + (0.0,) * 10,
    CUTOUT: (0.0,) * 12,
    NORMALIZE: (0.0,) * 4 + (1.0,) * 4 + (0.0,) * 4,
}
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, Pillow's "L": the grey level of Grayscale, Saturation and Contrast
