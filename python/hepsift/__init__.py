"""hepsift: machine learning for new-physics searches inside ROOT analyses.

Train classifiers, anomaly detectors and generative models in Python, export each to one
self-describing ONNX file, score it inside RDataFrame event loops from C++ or PyROOT
(:mod:`hepsift.rdf`), and turn the scores into physics.

Sub-packages are imported on demand (``import hepsift.rdf``) so that ``import hepsift`` stays
light: it loads neither ROOT nor ONNX Runtime nor PyTorch.
"""

from __future__ import annotations

from hepsift._version import __version__
from hepsift.errors import (
    ConfigurationError,
    DataError,
    DependencyError,
    EvaluationError,
    FitError,
    HepsiftError,
    InputMismatchError,
    MissingBranchError,
    ModelError,
    NonFiniteInputError,
    NotFittedError,
    ProviderError,
)

__all__ = [
    "__version__",
    "HepsiftError",
    "ConfigurationError",
    "ModelError",
    "InputMismatchError",
    "ProviderError",
    "EvaluationError",
    "NonFiniteInputError",
    "FitError",
    "DataError",
    "MissingBranchError",
    "NotFittedError",
    "DependencyError",
]
