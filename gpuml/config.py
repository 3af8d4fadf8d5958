"""Every ``GPUML_*`` environment setting, read here and nowhere else (README "Settings" lists the same table).

``setting(name)`` returns the value (or the default) of a known setting; an unknown name is a programming error.
This module imports nothing of gpuml: every layer may read settings.
"""

from __future__ import annotations

import os

VERSION = "0.1.0"

# name -> (default, what it does)
SETTINGS: dict[str, tuple[str, str]] = {
    "GPUML_BACKEND": ("", "force a backend: native | browser | cpu | python (default: the best available)"),
    "GPUML_ADAPTER": ("", "pick the native adapter whose description contains this substring"),
    "GPUML_EXPECT_GPU": ("0", "1: a missing WebGPU adapter is an error instead of a fallback to numpy (CI sets it)"),
    "GPUML_QUIET": ("0", "1: no notices on stderr (backend fallback)"),
    "GPUML_GEMM": ("", "force a GEMM kernel: subgroup | register | tiled"),
    "GPUML_KMEANS": ("", "force a k-means assignment kernel: tile | subgroup | portable"),
    "GPUML_RESAMPLE": ("", "force the augmentation passes' quads per invocation: quads8 | quads1"),
    "GPUML_TUNE": ("1", "0: kernel variants by the static default order, no timing (see gpuml info --kernels)"),
    "GPUML_TUNE_AFTER": ("2", "time a shape class's kernel variants at its Nth use in a process (1: the first)"),
    "GPUML_TUNE_CACHE": ("", "file of measured variant choices (default ~/.cache/gpuml/tune.json; 'off': memory)"),
    "GPUML_CONV_AUTOTUNE": ("", "1 / 0: conv2d's 'auto' tuned / static, whatever GPUML_TUNE says (conv_autotune())"),
    "GPUML_CPU_MALLOPT": ("1", "0: leave glibc malloc's settings alone on the cpu backend"),
    "GPUML_CPU_THREADS": ("", "threads for the cpu backend's ops (default: numpy's OpenBLAS threads, else CPU count)"),
    "GPUML_CPU_HALVES": ("1", "0: no two-halves batches on the cpu backend (gpuml.nn.data_parallel)"),
    "GPUML_WEB_BROTLI": ("11", "brotli quality of the page's precompressed assets, 0..11 (0: gzip only)"),
    "GPUML_DATA": ("", "where datasets are cached (default ~/.cache/gpuml)"),
    "GPUML_DEBUG": ("0", "1: the gpuml command shows the traceback of an error instead of one line"),
}


def setting(name: str) -> str:
    """The value of setting ``name`` from the environment, else its default."""
    default, _ = SETTINGS[name]
    return os.environ.get(name, default).strip()


def flag(name: str) -> bool:
    """A 0/1 setting as a bool."""
    return setting(name) == "1"
