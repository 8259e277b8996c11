"""hepsift: machine learning for new-physics searches inside ROOT analyses.

Train classifiers, anomaly detectors and generative models in Python, export each to one
self-describing ONNX file, score it inside RDataFrame event loops from C++ or PyROOT
(:mod:`hepsift.rdf`), and turn the scores into physics.

Sub-packages are imported on demand (``import hepsift.rdf``) so that ``import hepsift`` stays
light: it loads neither ROOT nor ONNX Runtime nor PyTorch. :func:`hepsift.load` opens any saved
estimator (classifier, anomaly detector or generator) and imports what it needs when called.
"""

from __future__ import annotations

from typing import Any

from hepsift._version import __version__
from hepsift.errors import (
    ConfigurationError,
    DataError,
    DependencyError,
    EvaluationError,
    FitError,
    HepsiftError,
    InputMismatchError,
    MetadataError,
    MissingBranchError,
    ModelError,
    NonFiniteInputError,
    NotFittedError,
    OutputError,
    ProviderError,
    UnknownNameError,
    WorkerError,
)

from hepsift import errors as _errors  # noqa: E402

#: The version, every exception class of :mod:`hepsift.errors` and :func:`load`.
__all__ = ["__version__", *(n for n in _errors.__all__ if n.endswith("Error")), "load"]


def __getattr__(name: str) -> Any:
    # ``hepsift.load`` is hepsift._saved.load, imported on first use to keep ``import hepsift`` light
    if name == "load":
        from hepsift._saved import load

        return load
    raise AttributeError(f"module 'hepsift' has no attribute {name!r}")
