"""The scikit-learn estimator protocol for gpuml.cluster's estimators, without importing scikit-learn first.

Importing scikit-learn costs 0.8 s on a calm machine (several seconds on a loaded one; benchmarks/RESULTS.md),
which a fresh process's first ``KMeans.fit`` paid although fitting never uses it. So:

- Until scikit-learn is loaded, :class:`_Protocol` gives the estimators scikit-learn's protocol from the
  ``__init__`` signature: ``get_params``/``set_params``/repr, ``set_output``, ``get_feature_names_out``. This is also
  all the page's Pyodide (no scikit-learn, no numpy) ever uses.
- Once ``sklearn.base`` is loaded (by the user, or because scikit-learn calls in: ``get_tags``, ``clone``),
  :func:`adopt_sklearn` puts ``ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator``
  in front of :class:`_Protocol` in ``ClusterEstimator.__bases__`` and runs their ``__init_subclass__`` on the
  estimator classes, as if they had been defined on them: from then on the estimators ARE scikit-learn estimators
  (``isinstance(km, ClusterMixin)`` gates scikit-learn's clustering checks; the repr, ``set_output`` wrapping,
  ``set_fit_request`` and the HTML repr are scikit-learn's own). Estimators created after scikit-learn was imported
  adopt it in ``__new__``; one created before gets it at scikit-learn's first call.
- :class:`NotFittedError` subclasses ``sklearn.exceptions.NotFittedError`` (a ValueError and an AttributeError), so
  its class is created on first use (``gpuml.cluster.NotFittedError`` or the first raise).
"""

from __future__ import annotations

import copy
import inspect
import math
import sys
import threading

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

__all__ = ["ClusterEstimator", "adopt_sklearn", "check_sample_weight", "not_fitted_error"]  # + NotFittedError

_NOT_FITTED = []  # the NotFittedError class, created once per process on first use
_ADOPTED = []  # [True] once ClusterEstimator derives scikit-learn's classes
_LOCK = threading.Lock()


def not_fitted_error() -> type:
    """The NotFittedError class: a subclass of scikit-learn's where it is installed, else of ValueError and
    AttributeError (the same bases)."""
    with _LOCK:
        if not _NOT_FITTED:
            try:
                from sklearn.exceptions import NotFittedError as base

                bases = (base,)
            except ImportError:  # Pyodide: no scikit-learn
                bases = (ValueError, AttributeError)
            doc = "Raised when predict/transform/score is called before fit."
            _NOT_FITTED.append(type("NotFittedError", bases, {"__module__": "gpuml.cluster", "__doc__": doc}))
    return _NOT_FITTED[0]


def __getattr__(name: str):
    if name == "NotFittedError":
        return not_fitted_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sklearn_loaded() -> bool:
    return sys.modules.get("sklearn.base") is not None


def adopt_sklearn(load: bool = True) -> bool:
    """Make the estimator classes scikit-learn estimators (see the module docstring); with ``load=False`` only if
    ``sklearn.base`` is already imported. True when they are."""
    if _ADOPTED:
        return True
    if not load and not sklearn_loaded():
        return False
    try:
        from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
    except ImportError:  # Pyodide, or scikit-learn not installed
        return False
    with _LOCK:
        if _ADOPTED:
            return True
        ClusterEstimator.__bases__ = (
            ClassNamePrefixFeaturesOutMixin,
            ClusterMixin,
            TransformerMixin,
            BaseEstimator,
            _Protocol,
        )
        # what defining the classes on those bases would have done (wrap transform/fit_transform for set_output,
        # generate set_fit_request/set_score_request), parents before children
        todo, seen = [ClusterEstimator], set()
        while todo:
            cls = todo.pop(0)
            if cls in seen:
                continue
            seen.add(cls)
            super(cls, cls).__init_subclass__()
            todo.extend(cls.__subclasses__())
        _ADOPTED.append(True)
    return True


def _is_device(value) -> bool:
    return hasattr(value, "impl") and hasattr(value, "caps")  # a gpuml Device (a process-wide handle)


class _Protocol:
    """scikit-learn's BaseEstimator/ClassNamePrefixFeaturesOutMixin/set_output rules without scikit-learn; after
    :func:`adopt_sklearn` scikit-learn's own classes come first in the MRO and these are not used."""

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
                    f"Invalid parameter {name!r} for estimator {self}. Valid parameters are: "
                    f"{self._get_param_names()!r}."
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

    def set_output(self, *, transform=None):
        """Output container of ``transform``/``fit_transform``: "default", "pandas" or "polars" (the last two
        need scikit-learn)."""
        if transform is not None:
            self.__dict__.setdefault("_sklearn_output_config", {})["transform"] = transform
        return self

    def get_feature_names_out(self, input_features=None):
        """``kmeans0``, ``kmeans1``, ... (one per cluster)."""
        self._check_fitted()
        prefix = type(self).__name__.lower()
        names = [f"{prefix}{i}" for i in range(self._n_features_out)]
        return np.asarray(names, dtype=object) if np is not None else names


class ClusterEstimator(_Protocol):
    """The protocol shared by KMeans and MiniBatchKMeans: ``__init__`` stores its keyword arguments only
    (validated in ``fit``); fitted attributes end in ``_``."""

    def __new__(cls, *args, **kwargs):
        if not _ADOPTED and sklearn_loaded():  # a dict lookup: free for every estimator created
            adopt_sklearn()
        return object.__new__(cls)

    def __sklearn_clone__(self):
        # a device passed as ``device=`` is shared by the clone, not deep-copied (it owns GPU objects)
        adopt_sklearn()
        from sklearn.base import clone

        params = self.get_params(deep=False)
        for name, value in params.items():
            if not _is_device(value):
                params[name] = clone(value, safe=False)
        twin = type(self)(**params)
        if hasattr(self, "_sklearn_output_config"):
            twin._sklearn_output_config = copy.deepcopy(self._sklearn_output_config)
        return twin

    def __sklearn_tags__(self):
        adopt_sklearn()  # scikit-learn is asking: it is loaded
        tags = super().__sklearn_tags__()
        # transform computes and returns float32 (the device's precision), whatever X's float dtype
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _more_tags(self) -> dict:  # scikit-learn < 1.6
        return {"preserves_dtype": [np.float32] if np is not None else []}

    def _wrap_output(self, out, X):
        """``out`` in the container ``set_output`` asks for. Once scikit-learn is adopted, its wrapper around
        ``transform`` does this; before, only a non-default ``set_output`` needs it (and loads scikit-learn)."""
        if _ADOPTED or getattr(self, "_sklearn_output_config", {}).get("transform", "default") == "default":
            return out
        adopt_sklearn()
        from sklearn.utils._set_output import _wrap_data_with_container

        return _wrap_data_with_container("transform", out, X, self)

    @property
    def _n_features_out(self) -> int:
        return self.n_clusters

    def _check_fitted(self) -> None:
        if not hasattr(self, "cluster_centers_"):
            raise not_fitted_error()(
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
