"""Argument checking shared by the ``hepsift`` commands: one-line usage errors (exit 2).

The ``type=`` functions below make argparse refuse a bad value before anything runs;
:class:`UsageError` is raised by a command for a bad combination found later (also exit 2);
:func:`check_root_input` opens each input with ROOT and finds the tree before an event loop
is booked, so that a wrong file or tree name is one line, not a C++ traceback.

Inputs: :func:`input_format` tells ROOT files from DarkMachines CSV files (refusing a mix and the
options of the other format), :func:`add_darkmachines_arguments` adds the options of the latter,
and :func:`darkmachines_dataset` reads them into a :class:`hepsift.data.Dataset`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from hepsift import errors

if TYPE_CHECKING:
    from hepsift.data import Dataset

__all__ = ["Parser", "UsageError", "int_at_least", "positive_float", "finite_float", "check_range",
           "check_root_input", "check_names", "drop_stderr_lines", "process_labels", "object_counts",
           "input_format", "add_darkmachines_arguments", "darkmachines_dataset"]


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


def _pairs(text: str, example: str) -> dict[str, str]:
    """``"a=1,b=2"`` -> ``{"a": "1", "b": "2"}``; an item without ``=``, an empty name or a name
    given twice is refused."""
    out: dict[str, str] = {}
    for item in (t.strip() for t in text.split(",")):
        name, sep, value = item.partition("=")
        if not item or not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,NAME=VALUE...] (e.g. {example}), got {text!r}")
        if name.strip() in out:
            raise argparse.ArgumentTypeError(f"{name.strip()!r} is given twice in {text!r}")
        out[name.strip()] = value.strip()
    return out


def _label(name: str, value: object) -> int:
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            pass
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise argparse.ArgumentTypeError(f"the label of process {name!r} must be an integer >= 0, got {value!r}")
    return value


def process_labels(text: str) -> dict[str, int]:
    """argparse ``type=``: DarkMachines process ID -> class label, from ``ttbar=0,wjets=0,sig=1``
    or from a JSON file holding ``{"ttbar": 0, "wjets": 0, "sig": 1}`` (text without ``=``)."""
    import json

    example = "ttbar=0,wjets=0,glgl1400_neutralino1100=1"
    if "=" in text:
        return {k: _label(k, v) for k, v in _pairs(text, example).items()}
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is neither NAME=LABEL,... (e.g. {example}) nor a JSON file")
    try:
        mapping = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"{text}: not a JSON file ({exc})") from None
    if not isinstance(mapping, dict) or not mapping:
        raise argparse.ArgumentTypeError(f"{text}: expected a JSON object process ID -> label, e.g. "
                                         '{"ttbar": 0, "glgl1400_neutralino1100": 1}')
    return {str(k): _label(str(k), v) for k, v in mapping.items()}


def object_counts(text: str) -> dict[str, int]:
    """argparse ``type=``: ``Jet=4,Muon=2``, collection -> number of leading objects (>= 1)."""
    from hepsift.data._darkmachines import OBJECT_FIELDS

    out = {}
    for name, value in _pairs(text, "Jet=4,Muon=2").items():
        if name not in OBJECT_FIELDS:
            raise argparse.ArgumentTypeError(f"unknown collection {name!r}; choose from {', '.join(OBJECT_FIELDS)}")
        try:
            out[name] = int_at_least(1)(value)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{name}: {exc}") from None
    return out


#: options that only DarkMachines input takes, and options that only ROOT input takes
_DARKMACHINES_ONLY = {"process_labels": "--process-labels", "objects": "--objects", "unit": "--unit"}
_ROOT_ONLY = {"tree": "--tree", "label_branch": "--label-branch", "limit_table": "--limit-table"}


def _is_darkmachines(path: Path) -> bool:
    """``.csv``/``.csv.gz`` by name; otherwise a file (not ROOT) whose first event parses as the
    DarkMachines format. Missing and other files count as ROOT (its checks then name the problem)."""
    if path.name.endswith((".csv", ".csv.gz")):
        return True
    try:
        with path.open("rb") as f:
            if f.read(4) == b"root":
                return False
    except OSError:
        return False
    from hepsift.io import read_darkmachines

    try:
        read_darkmachines(path, max_events=1, features=False)
    except errors.HepsiftError:
        return False
    return True


def input_format(files: Sequence[str], args: argparse.Namespace) -> str:
    """``"root"`` or ``"darkmachines"``: the format of every input file.

    Raises
    ------
    UsageError
        The files mix the two formats, or an option of the other format was given
        (``--process-labels``, ``--objects``, ``--unit`` for ROOT; ``--tree``, ``--label-branch``,
        ``--limit-table`` for DarkMachines).
    """
    dm = [f for f in files if _is_darkmachines(Path(f))]
    if dm and len(dm) != len(files):
        root = [f for f in files if f not in dm]
        raise UsageError(f"ROOT and DarkMachines CSV inputs cannot be mixed in one call (ROOT: {', '.join(root)}; "
                         f"DarkMachines: {', '.join(dm)}); give files of one format")
    kind = "darkmachines" if dm else "root"
    wrong = _ROOT_ONLY if dm else _DARKMACHINES_ONLY
    given = [flag for key, flag in wrong.items() if getattr(args, key, None)]
    if given:
        what = "ROOT" if dm else "DarkMachines CSV"
        raise UsageError(f"{', '.join(given)} applies to {what} input only; the inputs are "
                         f"{'DarkMachines CSV' if dm else 'ROOT'} files")
    return kind


def add_darkmachines_arguments(p: argparse.ArgumentParser, labels_help: str) -> None:
    """Add ``--process-labels``, ``--objects`` and ``--unit`` (DarkMachines CSV input only)."""
    g = p.add_argument_group("DarkMachines CSV input", "files in the DarkMachines challenge format (.csv, .csv.gz "
                             "or text whose first line is 'event ID;process ID;event weight;MET;METphi;"
                             "type,E,pT,eta,phi;...'), arXiv:2105.14027")
    g.add_argument("--process-labels", type=process_labels, default=None, metavar="ID=LABEL,...|JSON",
                   help=labels_help)
    g.add_argument("--objects", type=object_counts, default=None, metavar="COLL=N,...",
                   help="also the N leading objects of each collection (Jet, Electron, Muon, Photon) as padded "
                        "columns Jet1_pt, Jet1_eta, ... (-999 where absent), e.g. Jet=4,Muon=2")
    g.add_argument("--unit", choices=["MeV", "GeV"], default=None, help="energy unit of the files (default MeV)")


def darkmachines_dataset(files: Sequence[str], args: argparse.Namespace, features: str | Sequence[str], *,
                         background: bool = False, max_events: int | None = None, missing: str = "keep",
                         require: Sequence[str] = ()) -> Dataset:
    """The events of DarkMachines CSV files (:meth:`hepsift.data.Dataset.from_darkmachines`) with the
    command's ``--process-labels``, ``--objects``, ``--unit`` and ``--luminosity``.

    ``background=False``: ``--process-labels`` is required (supervised training). ``background=True``:
    every event, or with ``--process-labels`` the events labelled 0. ``max_events``: at most this
    many events in all (the first ones, file by file).

    Raises
    ------
    UsageError
        ``--process-labels`` is missing where required.
    hepsift.DataError
        A process ID without a label, a malformed file, or no background event.
    """
    import numpy as np

    from hepsift.data import Dataset

    labels = args.process_labels
    if labels is None and not background:
        raise UsageError("DarkMachines CSV input needs --process-labels (e.g. "
                         "ttbar=0,wjets=0,glgl1400_neutralino1100=1, or a JSON file)")
    ds = Dataset.from_darkmachines(files, process_labels=labels, features=features, objects=args.objects,
                                   luminosity=getattr(args, "luminosity", 1.0), unit=args.unit or "MeV",
                                   max_events=max_events, missing=missing, require=require)
    if background and labels is not None:
        ds = ds.subset(ds.y == 0)
        if not len(ds):
            raise errors.DataError(f"no event of {', '.join(files)} has label 0 in --process-labels; "
                                   "the detector trains on background (label 0)")
    if max_events is not None and len(ds) > max_events:
        ds = ds.subset(np.arange(max_events))
    return ds
