"""Argument checking shared by the ``hepsift`` commands: one-line usage errors (exit 2).

The ``type=`` functions below make argparse refuse a bad value before anything runs;
:class:`UsageError` is raised by a command for a bad combination found later (also exit 2);
:func:`check_root_input` opens each input with ROOT and finds the tree before an event loop
is booked, so that a wrong file or tree name is one line, not a C++ traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

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
    """Raise :class:`hepsift.MissingBranchError` for the names of ``asked`` (given with the option
    ``what``) that are not in ``existing``; the message names the nearest ones."""
    missing = [n for n in asked if n not in existing]
    if missing:
        raise errors.MissingBranchError(missing, existing, where, note=f"check {what}")


def check_root_input(path: str, tree: str) -> str:
    """Check, before ROOT starts, that ``path`` is a ROOT file holding ``tree`` (a TTree or an
    RNTuple, also ``folder/name``); return its class name (:func:`hepsift.io.check_tree`).

    Raises
    ------
    hepsift.DataError
        The file is missing, a folder, not a ROOT file, or unreadable.
    hepsift.MissingBranchError
        It has no tree ``tree`` (the message lists the trees it has, the nearest first).
    """
    from hepsift.io.root import check_tree

    return check_tree(path, tree, note="choose one with -t/--tree")


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
