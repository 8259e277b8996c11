"""The hepsift exception hierarchy.

Every error that hepsift raises on purpose derives from :class:`HepsiftError`, so that
``except hepsift.HepsiftError`` catches all of them. The C++ library mirrors it:
``hepsift::Error`` (configuration problems: ``hepsift::ConfigurationError``; problems met
while evaluating events: ``hepsift::EvaluationError``) and :mod:`hepsift.rdf` turns those
into the Python classes below with the same message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
    "UnknownNameError",
    "NotFittedError",
    "DependencyError",
    "OutputError",
    "WorkerError",
    "near_names",
    "NEAR_CUTOFF",
]

#: Smallest similarity (difflib's ratio of the lower-cased names, 0 to 1) of a near name.
NEAR_CUTOFF = 0.6
#: Most names that a lookup error lists (the count is always given).
_LISTED = 12


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


def near_names(key: str, available: Iterable[str], n: int = 3) -> list[str]:
    """The names in ``available`` nearest to ``key``, best first (at most ``n``).

    Near means a similarity of at least :data:`NEAR_CUTOFF` between the lower-cased names
    (:class:`difflib.SequenceMatcher` ratio); a name that differs from ``key`` only in case
    comes first. Every "did you mean" of hepsift comes from here.

    >>> near_names("Jet_ptt", ["Jet_eta", "Jet_pt", "MET_pt", "weight"])
    ['Jet_pt', 'MET_pt', 'Jet_eta']
    """
    import difflib

    key = str(key)
    names = list(dict.fromkeys(str(a) for a in available))

    def similarity(name: str) -> tuple[float, float]:
        # lower-cased similarity first; among equals, the one closer in spelling (case included)
        return (difflib.SequenceMatcher(None, key.lower(), name.lower()).ratio(),
                difflib.SequenceMatcher(None, key, name).ratio())

    scored = sorted(((similarity(name), i, name) for i, name in enumerate(names)), key=lambda t: (-t[0][0], -t[0][1], t[1]))
    return [name for (ratio, _), _, name in scored if ratio >= NEAR_CUTOFF][:n]


def _plural(word: str) -> str:
    return word + ("es" if word.endswith(("s", "sh", "ch", "x")) else "s")


class _LookupFailure(HepsiftError):
    """A name that is not among the available ones: one wording for every lookup.

    ``Error(key, available, where)`` builds ``no branch 'Jet_ptt' in tree 'Events' of 'f.root';
    did you mean 'Jet_pt'? (12 branches: ...)``; ``Error(message)`` keeps a message as given.
    """

    what = "name"

    def __init__(self, key: str | Sequence[str], available: Iterable[str] | None = None,
                 where: str | None = None, *, what: str | None = None, note: str | None = None) -> None:
        self.what = what or type(self).what
        if available is None:  # a finished message (also how a pickled error is rebuilt)
            self.keys: list[str] = []
            self.available: list[str] = []
            self.where = where
            self.near: dict[str, list[str]] = {}
            super().__init__(str(key) if isinstance(key, str) else ", ".join(map(str, key)))
            return
        self.keys = [key] if isinstance(key, str) else [str(k) for k in key]
        self.available = list(dict.fromkeys(str(a) for a in available))
        self.where = where
        self.near = {k: near_names(k, self.available) for k in self.keys}
        super().__init__(self._message(note))

    @property
    def key(self) -> str | None:
        """The (first) name that was not found."""
        return self.keys[0] if self.keys else None

    def _message(self, note: str | None) -> str:
        word = self.what if len(self.keys) == 1 else _plural(self.what)
        text = f"no {word} {', '.join(repr(k) for k in self.keys)}" + (f" in {self.where}" if self.where else "")
        hints = [(k, v) for k, v in self.near.items() if v]
        if hints:
            def options(names: list[str]) -> str:
                quoted = [repr(n) for n in names]
                return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"

            text += "; did you mean " + ("; ".join(
                options(v) if len(self.keys) == 1 else f"{options(v)} for {k!r}" for k, v in hints)) + "?"
        n = len(self.available)
        shown = ", ".join(self.available[:_LISTED]) + (", ..." if n > _LISTED else "")
        text += f" ({n} {self.what if n == 1 else _plural(self.what)}{': ' + shown if n else ''})"
        return text + (f"; {note}" if note else "")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingBranchError(_LookupFailure, DataError, KeyError):
    """Raised when a requested branch, tree or column does not exist; names the nearest ones.

    ``MissingBranchError(key, available, where)`` writes the message itself (see
    :func:`near_names`): ``no branch 'Jet_ptt' in tree 'Events' of 'f.root'; did you mean
    'Jet_pt'? (12 branches: ...)``; ``what="tree"`` (or ``"column"``, ``"feature"``) names the
    kind of thing. ``key`` may be a list of names; ``note`` adds what to do.
    """

    what = "branch"


class UnknownNameError(_LookupFailure, ConfigurationError, KeyError):
    """Raised when a name chosen by the caller (a process, a preset, a detector) is not one of
    the known ones; the same wording and near names as :class:`MissingBranchError`."""


class NotFittedError(HepsiftError, AttributeError):
    """Raised when an estimator is used before ``fit``."""


class DependencyError(HepsiftError, ImportError):
    """Raised when an optional dependency is missing; says what to install."""


class OutputError(ConfigurationError):
    """Raised when an output cannot be written: it is an input, exists without ``overwrite``, is a
    folder, or lies in a missing or read-only folder. Nothing was written."""


class WorkerError(HepsiftError, RuntimeError):
    """Raised when a worker process of a parallel loop dies, cannot start or cannot reply."""
