"""The scikit-learn estimator protocol for gpuml.cluster's estimators.

With scikit-learn importable (a runtime dependency), the estimators derive ``sklearn.base.BaseEstimator``,
``ClusterMixin``, ``TransformerMixin`` and ``ClassNamePrefixFeaturesOutMixin``: ``get_params``/``set_params``,
``clone``, the repr, tags, ``set_output``, Pipeline and GridSearchCV all come from scikit-learn, and
:class:`NotFittedError` subclasses ``sklearn.exceptions.NotFittedError``. Without it (the page's Pyodide has neither
scikit-learn nor numpy) a minimal local base offers the same ``get_params``/``set_params``/repr.
"""

from __future__ import annotations

import inspect
import math

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

try:
    from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
    from sklearn.base import clone as _sk_clone
    from sklearn.exceptions import NotFittedError as _NotFittedBase
except ImportError:  # Pyodide: no scikit-learn
    _sk_clone = None

    class _NotFittedBase(ValueError, AttributeError):
        pass

    class BaseEstimator:
        """get_params/set_params/repr from the ``__init__`` signature (scikit-learn's protocol, without it)."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            params = inspect.signature(cls.__init__).parameters.values()
            return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep: bool = True) -> dict:
            out = {}
            for name in self._get_param_names():
                value = getattr(self, name)
                if deep and hasattr(value, "get_params") and not isinstance(value, type):
                    out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
                out[name] = value
            return out

        def set_params(self, **params):
            valid = self.get_params(deep=True)
            nested = {}
            for key, value in params.items():
                name, _, sub = key.partition("__")
                if name not in valid:
                    raise ValueError(
                        f"Invalid parameter {name!r} for estimator {self}. Valid parameters are: {sorted(valid)!r}."
                    )
                if sub:
                    nested.setdefault(name, {})[sub] = value
                else:
                    setattr(self, name, value)
                    valid[name] = value
            for name, sub_params in nested.items():
                valid[name].set_params(**sub_params)
            return self

        def __repr__(self) -> str:
            defaults = inspect.signature(type(self).__init__).parameters
            changed = []
            for name in self._get_param_names():
                value, default = getattr(self, name), defaults[name].default
                if value is not default and not (type(value) is type(default) and value == default):
                    changed.append(f"{name}={value!r}")
            return f"{type(self).__name__}({', '.join(changed)})"

    class ClusterMixin:
        pass

    class TransformerMixin:
        pass

    class ClassNamePrefixFeaturesOutMixin:
        def get_feature_names_out(self, input_features=None):
            self._check_fitted()
            prefix = type(self).__name__.lower()
            return [f"{prefix}{i}" for i in range(self._n_features_out)]


__all__ = ["ClusterEstimator", "NotFittedError", "check_sample_weight"]


class NotFittedError(_NotFittedBase):
    """Raised when predict/transform/score is called before fit: ``sklearn.exceptions.NotFittedError`` (a
    ValueError and an AttributeError) where scikit-learn is installed."""


def _is_device(value) -> bool:
    return hasattr(value, "impl") and hasattr(value, "caps")  # a gpuml Device (a process-wide handle)


class ClusterEstimator(ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """The protocol shared by KMeans and MiniBatchKMeans: ``__init__`` stores its keyword arguments only
    (validated in ``fit``); fitted attributes end in ``_``."""

    def __sklearn_clone__(self):
        # a device passed as ``device=`` is shared by the clone, not deep-copied (it owns GPU objects)
        params = self.get_params(deep=False)
        for name, value in params.items():
            if not _is_device(value) and _sk_clone is not None:
                params[name] = _sk_clone(value, safe=False)
        return type(self)(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # transform computes and returns float32 (the device's precision), whatever X's float dtype
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @property
    def _n_features_out(self) -> int:
        return self.n_clusters

    def _check_fitted(self) -> None:
        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments "
                "before using this estimator."
            )

    def _set_feature_names(self, X) -> None:
        names = _column_names(X)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object) if np is not None else names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_feature_names(self, X) -> None:
        names = _column_names(X)
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and list(names) != list(fitted):
            raise ValueError(
                f"The feature names should match those that were passed during fit: got {list(names)}, "
                f"expected {list(fitted)}"
            )


def _column_names(X):
    """The column names of a DataFrame whose names are all strings (scikit-learn's rule), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, type):
        return None
    names = list(columns)
    return names if names and all(isinstance(c, str) for c in names) else None


def check_sample_weight(sample_weight, n: int):
    """None where every weight is 1 (the unweighted path: identical results), else the n weights as float64 (a
    numpy array, or a list without numpy). A scalar applies to every sample. Weights must be finite, non-negative
    and not all zero."""
    if sample_weight is None:
        return None
    if np is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(n, float(w))
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)")
        values = w
        ok, negative, total = bool(np.isfinite(w).all()), bool((w < 0).any()), float(w.sum()) if n else 0.0
        ones = bool((w == 1).all())
    else:
        if isinstance(sample_weight, int | float):
            values = [float(sample_weight)] * n
        else:
            values = [float(v) for v in sample_weight]
        if len(values) != n:
            raise ValueError(f"sample_weight has {len(values)} values, expected {n}")
        ok = all(math.isfinite(v) for v in values)
        negative, total, ones = any(v < 0 for v in values), math.fsum(values), all(v == 1 for v in values)
    if not ok:
        raise ValueError("sample_weight contains NaN or infinity")
    if negative:
        raise ValueError("sample_weight must be non-negative")
    if total <= 0:
        raise ValueError("Sample weights must contain at least one non-zero number (all weights are zero)")
    return None if ones else values
