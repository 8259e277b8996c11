"""Argument checking shared by the ``hepsift`` subcommands: one-line usage errors (exit 2).

The ``type=`` functions below make argparse refuse a bad value before anything runs;
:class:`UsageError` is raised by a command for a bad combination found later (also exit 2);
:func:`check_root_input` opens each input with ROOT and finds the tree before an event loop
is booked, so that a wrong file or tree name is one line, not a C++ traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from hepsift import errors

__all__ = ["Parser", "UsageError", "int_at_least", "positive_float", "finite_float", "check_range",
           "check_root_input", "check_names", "drop_stderr_lines"]


class UsageError(errors.ConfigurationError):
    """A command-line argument is wrong or inconsistent (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``hepsift apply: error: argument --threads: ...``."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def int_at_least(low: int) -> Callable[[str], int]:
    """argparse ``type=``: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def finite_float(text: str) -> float:
    """argparse ``type=``: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse ``type=``: a finite number > 0."""
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def check_range(name: str, lo: float, hi: float) -> None:
    """Raise :class:`UsageError` unless ``lo < hi``."""
    if not lo < hi:
        raise UsageError(f"argument {name}: LO must be below HI, got {lo:g} {hi:g}")


def check_names(what: str, asked: Iterable[str], existing: Sequence[str], where: str) -> None:
    """Raise :class:`hepsift.MissingBranchError` for names not in ``existing``, with near names."""
    missing = [n for n in asked if n not in existing]
    if not missing:
        return
    parts = []
    for m in missing:
        near = difflib.get_close_matches(m, existing, n=3, cutoff=0.6)
        parts.append(f"'{m}'" + (f" (did you mean {', '.join(near)}?)" if near else ""))
    raise errors.MissingBranchError(f"{what} {', '.join(parts)} not in {where}")


def check_root_input(path: str, tree: str) -> str:
    """Check, without starting ROOT, that ``path`` is a ROOT file holding ``tree`` (a TTree or
    an RNTuple, also ``folder/name``); return its class name.

    Raises
    ------
    hepsift.DataError
        The file is missing, a folder, not a ROOT file, or unreadable.
    hepsift.MissingBranchError
        It has no tree ``tree`` (the message lists the trees it has and the nearest names).
    """
    import uproot

    if not os.path.exists(path):
        raise errors.DataError(f"input file '{path}' does not exist")
    if os.path.isdir(path):
        raise errors.DataError(f"input '{path}' is a folder, not a ROOT file")
    try:
        with uproot.open(path) as f:
            classes = {k.rsplit(";", 1)[0]: v for k, v in f.classnames(recursive=True).items()}
    except Exception as exc:  # uproot raises ValueError, OSError, struct.error, ... on a bad file
        raise errors.DataError(f"input '{path}' is not a readable ROOT file ({_short(exc)})") from exc
    trees = {k: v for k, v in classes.items() if v.startswith(("TTree", "TNtuple")) or "RNTuple" in v}
    if tree not in trees:
        near = difflib.get_close_matches(tree, sorted(trees), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise errors.MissingBranchError(
            f"input '{path}' has no tree '{tree}' (it has: {', '.join(sorted(trees)) or 'no trees'}{hint}); "
            "choose one with -t/--tree")
    return trees[tree]


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__


@contextmanager
def drop_stderr_lines(*starts: str) -> Iterator[None]:
    """Hold what C++ writes to stderr (file descriptor 2) during the block and pass it on
    afterwards without the lines that begin with one of ``starts`` (ROOT's own notes on an
    event loop that a hepsift error stopped, which the one-line error already explains)."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode(errors="replace")
            kept = [ln for ln in text.splitlines(keepends=True) if not ln.startswith(starts)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
