"""Loading hepsift's C++ library into ROOT (once per process) and mapping its exceptions."""

from __future__ import annotations

import re
import threading
import warnings
from typing import Any

from hepsift import _paths, errors
from hepsift._deps import install_hint

__all__ = ["load_library"]

_LOCK = threading.RLock()
_LOADED = False

# C++ class -> Python class. Patched so that exceptions cppyy raises for the C++ classes are
# instances of the Python ones (``except hepsift.HepsiftError`` catches them).
_EXCEPTIONS = [
    ("Error", errors.HepsiftError),
    ("ConfigurationError", errors.ConfigurationError),
    ("ModelError", errors.ModelError),
    ("InputMismatchError", errors.InputMismatchError),
    ("ProviderError", errors.ProviderError),
    ("EvaluationError", errors.EvaluationError),
    ("NonFiniteInputError", errors.NonFiniteInputError),
]


def _root() -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
        try:
            import ROOT
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise errors.DependencyError(install_hint("ROOT", "hepsift.rdf")) from exc
    return ROOT


def load_library() -> Any:
    """Load ``libhepsift`` into ROOT and declare its headers to cling (once per process).

    Returns the ``ROOT`` module. Called by every function of this module; users need not.
    """
    global _LOADED
    with _LOCK:
        ROOT = _root()
        if _LOADED:
            return ROOT
        lib = _paths.library_path()
        include = _paths.include_dir()
        if ROOT.gSystem.Load(str(lib)) < 0:
            raise errors.ConfigurationError(f"ROOT could not load hepsift's library {lib}")
        ROOT.gInterpreter.AddIncludePath(str(include))
        if not ROOT.gInterpreter.Declare('#include "hepsift/PyROOT.hxx"'):
            raise errors.ConfigurationError(f"cling could not compile hepsift's headers from {include}")
        ROOT.hepsift.setOnnxRuntimeLibrary(str(_paths.onnxruntime_library()))
        for cpp_name, py_class in _EXCEPTIONS:
            proxy = getattr(ROOT.hepsift, cpp_name)
            if py_class not in proxy.__mro__:
                proxy.__bases__ = (*proxy.__bases__, py_class)
        _LOADED = True
        return ROOT


_OTHER_OVERLOADS = re.compile(r"\n\s*(?:none of the \d+ overloaded methods succeeded|[^\n]*\) =>\s*\n)")


def _message(exc: BaseException) -> str:
    """The C++ what() of an exception raised through cppyy, without cppyy's call prefix.

    cppyy formats it as ``<C++ signature> =>\n    <Class>: <what()>``, followed by the same for
    every other overload or template instantiation it tried; the first is kept.
    """
    text = str(exc)
    if "=>" in text:
        text = text.split("=>", 1)[1].strip()
        text = _OTHER_OVERLOADS.split(text, 1)[0]
        head, sep, rest = text.partition(": ")
        if sep and head.isidentifier():
            text = rest
    return text


def _reraise(exc: BaseException) -> None:
    """Re-raise a cppyy exception of a hepsift C++ class as the plain Python class."""
    for _, py_class in reversed(_EXCEPTIONS):
        if isinstance(exc, py_class):
            raise py_class(_message(exc)) from None
    raise exc


