"""DarkMachines challenge CSV files to the columns of a :class:`hepsift.data.Dataset`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError, MissingBranchError

__all__ = ["OBJECT_FIELDS", "darkmachines_columns"]

#: Per-object fields that ``objects=`` turns into padded flat columns, per collection.
OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "Jet": ("pt", "eta", "phi", "mass", "btag"),
    "Electron": ("pt", "eta", "phi", "charge"),
    "Muon": ("pt", "eta", "phi", "charge"),
    "Photon": ("pt", "eta", "phi"),
}


def _flat(events: Any, name: str) -> np.ndarray:
    return np.asarray(events[name], dtype=np.float32)


def _padded(events: Any, collection: str, n: int, missing: float) -> tuple[list[str], list[np.ndarray]]:
    """The first ``n`` objects of a collection (sorted by decreasing p_T) as flat columns, -999 where absent."""
    import awkward as ak

    names, cols = [], []
    for fld in OBJECT_FIELDS[collection]:
        padded = ak.fill_none(ak.pad_none(events[f"{collection}_{fld}"], n, clip=True), missing)
        values = ak.to_numpy(padded).astype(np.float32)
        for i in range(n):
            names.append(f"{collection}{i + 1}_{fld}")
            cols.append(values[:, i])
    return names, cols


def darkmachines_columns(
    paths: Sequence[str | os.PathLike[str]],
    *,
    process_labels: Mapping[str, int] | None,
    features: str | Sequence[str],
    objects: Mapping[str, int] | None,
    unit: str,
    max_events: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Read DarkMachines files and return ``X, y, weight, process, feature_names``.

    ``features``: ``"full"``/``"sanitised"`` (every flat feature of
    :data:`hepsift.io.FEATURE_NAMES`), or names of flat fields of
    :func:`hepsift.io.read_darkmachines` (its features, ``MET_pt``, ``nJet``, ...). ``objects``:
    collection -> n, adds ``{collection}{i}_{field}`` for the n leading objects (:data:`OBJECT_FIELDS`;
    -999 for absent ones). Labels from ``process_labels`` (process ID -> class; None: every event
    0, background-only input); weights are the files' event-weight column.
    """
    from hepsift._missing import MISSING
    from hepsift.io import read_darkmachines
    from hepsift.io.features import FEATURE_NAMES

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise DataError("no input files")
    if process_labels is not None and not process_labels:
        raise ConfigurationError("process_labels is empty: map every process ID to a class label, "
                                 "e.g. {'ttbar': 0, 'glgl1400_neutralino1100': 1}")
    for coll, n in (objects or {}).items():
        if coll not in OBJECT_FIELDS:
            raise ConfigurationError(f"unknown object collection {coll!r} in objects; choose from {sorted(OBJECT_FIELDS)}")
        if int(n) != n or n < 1:
            raise ConfigurationError(f"objects[{coll!r}] must be an integer >= 1; got {n!r}")
    parts: dict[str, list[np.ndarray]] = {"X": [], "y": [], "w": [], "p": []}
    names: list[str] | None = None
    for path in paths:
        p = Path(path)
        events = read_darkmachines(p, unit=unit, max_events=max_events, features=True)
        keys = [f for f in events.fields if events[f].ndim == 1 and f != "process"]
        if names is None:
            names = [f for f in FEATURE_NAMES if f in keys] if isinstance(features, str) else [str(f) for f in features]
            if not names:
                raise ConfigurationError("no features: pass features='full' or a non-empty list of names")
        missing = [f for f in names if f not in keys]
        if missing:
            raise MissingBranchError(missing, keys, f"DarkMachines file '{p}'", what="feature")
        cols = [_flat(events, f) for f in names]
        all_names = list(names)
        for coll, n in (objects or {}).items():
            extra_names, extra = _padded(events, coll, int(n), MISSING)
            all_names += extra_names
            cols += extra
        proc = np.asarray([str(v) for v in events["process"]])
        if process_labels is None:
            labels = np.zeros(len(proc), dtype=np.int64)
        else:
            unknown = sorted({str(q) for q in proc} - set(process_labels))
            if unknown:
                raise DataError(f"{p}: process ID(s) {unknown} have no entry in process_labels {dict(process_labels)}")
            labels = np.array([process_labels[q] for q in proc], dtype=np.int64)
        parts["X"].append(np.stack(cols, axis=1))
        parts["y"].append(labels)
        parts["w"].append(np.asarray(events["weight"], dtype=np.float64))
        parts["p"].append(proc)
    return (np.concatenate(parts["X"]), np.concatenate(parts["y"]), np.concatenate(parts["w"]),
            np.concatenate(parts["p"]), all_names)
