"""Where the k-means engines were: they are each backend's implementation now (gpuml/impl/*/kmeans.py, reached as
``device.impl.kmeans_engine``). Kept so callers of ``gpuml.cluster._engine.make_engine`` keep working; new code
uses :func:`gpuml.cluster.kmeans.make_engine`."""

from __future__ import annotations

from .kmeans import make_engine

__all__ = ["make_engine"]
