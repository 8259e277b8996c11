"""Readers and writers of event data in the hepsift schema.

Every reader returns an ``awkward.Array`` of records whose field names are the branch names of
the hepsift ROOT files (see :mod:`hepsift.io.features`): object branches ``Jet_pt`` ...,
``MET_pt``, event branches ``weight``, ``label`` ..., and the flat features of
:data:`FEATURES` (absent objects give :data:`MISSING` = -999).

* :func:`read_tree`: the one ROOT reader (files, tree, branch check, selection; NumPy or
  awkward); :class:`hepsift.data.Dataset`, the ``hepsift`` commands and the demo read through it.
* :func:`read_root`: any ROOT tree as awkward records; ``features=True`` computes the flat
  features of NanoAOD-like trees.
* :func:`read_darkmachines`: the DarkMachines challenge CSV format; :func:`write_darkmachines`
  writes it (e.g. from the ROOT files of :mod:`hepsift.events`).
* :func:`read_uci` / :func:`read_hepmass` / :func:`read_higgs`: the UCI HEPMASS and HIGGS
  CSV layouts.
* :func:`read_higgsml`: the ATLAS Higgs Machine Learning Challenge 2014 CSV.
* :func:`read`: any of the above, chosen from the file.
* :func:`write_events`: atomic ROOT output with NanoAOD-style counters and a provenance record
  (:func:`read_provenance`).

Errors: a missing branch raises :class:`hepsift.errors.MissingBranchError` naming the nearest
branches; an empty tree or file, or a malformed line, raises :class:`hepsift.errors.DataError`
with the file (and line).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hepsift.errors import DataError
from hepsift.io.csv import read_darkmachines, read_hepmass, read_higgs, read_higgsml, read_uci, write_darkmachines
from hepsift.io.features import FEATURE_NAMES, FEATURES, HEPMASS_FEATURES, HIGGS_FEATURES, MISSING, compute_features
from hepsift.io.root import PROVENANCE_KEY, check_tree, read_provenance, read_root, read_tree, write_events

__all__ = [
    "read",
    "read_tree",
    "check_tree",
    "read_root",
    "read_darkmachines",
    "write_darkmachines",
    "read_uci",
    "read_hepmass",
    "read_higgs",
    "read_higgsml",
    "read_provenance",
    "write_events",
    "compute_features",
    "FEATURES",
    "FEATURE_NAMES",
    "HEPMASS_FEATURES",
    "HIGGS_FEATURES",
    "MISSING",
    "PROVENANCE_KEY",
]


def read(path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Read any supported file, choosing the reader from its content.

    ``.root`` files go to :func:`read_root`; CSV files (also gzip-compressed) whose first line holds ``;`` to
    :func:`read_darkmachines`, those starting with ``EventId`` to :func:`read_higgsml`, other
    comma-separated numeric files to :func:`read_uci`. Keyword arguments are passed on.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    with p.open("rb") as f:
        head = f.read(4)
        f.seek(0)
        first = f.readline().decode(errors="replace")
    if head == b"root":
        return read_root(p, **kwargs)
    if head[:2] == b"\x1f\x8b":  # gzip: the UCI files are distributed compressed, DarkMachines ones may be
        import gzip

        with gzip.open(p, "rb") as g:
            first = g.readline().decode(errors="replace")
        return read_darkmachines(p, **kwargs) if ";" in first else read_uci(p, **kwargs)
    if not first.strip():
        raise DataError(f"{p}: empty file")
    if ";" in first:
        return read_darkmachines(p, **kwargs)
    if first.startswith("EventId"):
        return read_higgsml(p, **kwargs)
    return read_uci(p, **kwargs)
