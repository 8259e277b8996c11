"""The hepsift exception hierarchy.

Every error that hepsift raises on purpose derives from :class:`HepsiftError`, so that
``except hepsift.HepsiftError`` catches all of them. The C++ library mirrors it:
``hepsift::Error`` (configuration problems: ``hepsift::ConfigurationError``; problems met
while evaluating events: ``hepsift::EvaluationError``) and :mod:`hepsift.rdf` turns those
into the Python classes below with the same message.
"""

from __future__ import annotations

__all__ = [
    "HepsiftError",
    "ConfigurationError",
    "ModelError",
    "MetadataError",
    "InputMismatchError",
    "EvaluationError",
    "NonFiniteInputError",
    "FitError",
    "ProviderError",
    "DataError",
    "MissingBranchError",
    "NotFittedError",
    "DependencyError",
    "OutputError",
    "WorkerError",
]


class HepsiftError(Exception):
    """Base class of every error hepsift raises on purpose."""


class ConfigurationError(HepsiftError, ValueError):
    """Raised when arguments or a configuration are inconsistent before any event is read."""


class ModelError(ConfigurationError):
    """Raised when a model file is missing, unreadable, not ONNX, or of an unsupported form."""


class MetadataError(ModelError):
    """Raised when a model file's metadata is malformed, or names something hepsift will not
    bind: names stored in a model are data, bound only to existing columns, never compiled."""


class InputMismatchError(ConfigurationError):
    """Raised when the model's inputs do not match the columns or features it is given."""


class ProviderError(ConfigurationError):
    """Raised when an execution provider (e.g. CUDA) was required but is not usable."""


class EvaluationError(HepsiftError, RuntimeError):
    """Raised while events are being evaluated (inside an event loop or a batch)."""


class NonFiniteInputError(EvaluationError):
    """Raised when an input feature is NaN or infinite; the message names column and entry."""


class FitError(EvaluationError):
    """Raised when a likelihood fit behind a statistical result did not converge, or the result
    fails its own check (e.g. CLs at a returned limit differs from 1 - CL); names the fit, the
    value of the parameter of interest and the parameters or bins involved."""


class DataError(HepsiftError, ValueError):
    """Raised when input data (files, trees, arrays) are empty, malformed or inconsistent."""


class MissingBranchError(DataError, KeyError):
    """Raised when a requested branch or column does not exist; lists the nearest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotFittedError(HepsiftError, AttributeError):
    """Raised when an estimator is used before ``fit``."""


class DependencyError(HepsiftError, ImportError):
    """Raised when an optional dependency is missing; says what to install."""


class OutputError(ConfigurationError):
    """Raised when an output cannot be written: it is an input, exists without ``overwrite``, is a
    folder, or lies in a missing or read-only folder. Nothing was written."""


class WorkerError(HepsiftError, RuntimeError):
    """Raised when a worker process of a parallel loop dies, cannot start or cannot reply."""
