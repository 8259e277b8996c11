"""Parameter handling shared by hepsift's scikit-learn-like estimators.

The supervised models (:mod:`hepsift.models`) and the anomaly detectors and generative
models (:mod:`hepsift.anomaly`, :mod:`hepsift.generative`) keep their own configuration
classes; they share the scikit-learn parameter protocol (here) and the saved-estimator
format (:mod:`hepsift._saved`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from hepsift.errors import ConfigurationError

__all__ = ["Parameters"]

P = TypeVar("P", bound="Parameters")

_NO_DEFAULT = object()


class Parameters:
    """Mixin: ``get_params``, ``set_params`` and a ``repr`` listing the non-default parameters.

    Subclasses implement ``_param_names()`` (the constructor parameters, in order) and
    ``_param_defaults()`` (their default values; a name without a default always shows in
    the ``repr``). Parameters are stored unchanged as attributes of the same name.
    """

    #: Word that introduces the valid names in the error for an unknown parameter.
    _params_word: ClassVar[str] = "parameters"

    @classmethod
    def _param_names(cls) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def _param_defaults(cls) -> Mapping[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters as a dict (as scikit-learn's ``get_params``).

        Parameters
        ----------
        deep : bool
            Also list the parameters of sub-estimators (e.g. the ``estimator`` of
            :class:`hepsift.models.ParameterizedClassifier`) as ``<name>__<parameter>``.

        Returns
        -------
        dict
            Parameter name -> current value.
        """
        out = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(out.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return out

    def set_params(self: P, **params: Any) -> P:
        """Set constructor parameters; ``<name>__<parameter>`` sets a sub-estimator's.

        Returns
        -------
        self

        Raises
        ------
        hepsift.ConfigurationError
            A name that is not a parameter (the names before it are already set).
        """
        valid = set(self._param_names())
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            head, sep, rest = key.partition("__")
            if head not in valid:
                raise ConfigurationError(
                    f"{type(self).__name__} has no parameter {head!r}; {self._params_word}: {sorted(valid)}"
                )
            if sep:
                nested.setdefault(head, {})[rest] = value
            else:
                setattr(self, key, value)
        for head, sub in nested.items():
            inner = getattr(self, head)
            if not hasattr(inner, "set_params"):
                raise ConfigurationError(
                    f"{type(self).__name__}.{head} is {type(inner).__name__}, which has no parameters to set "
                    f"({', '.join(f'{head}__{k}' for k in sub)})"
                )
            inner.set_params(**sub)
        return self

    def __repr__(self) -> str:
        defaults = self._param_defaults()
        changed = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items() if defaults.get(k, _NO_DEFAULT) != v]
        return f"{type(self).__name__}({', '.join(changed)})"
