"""ROOT files: read any TTree with uproot; write hepsift event files atomically."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError, MissingBranchError

__all__ = ["read_root", "read_provenance", "write_events", "PROVENANCE_KEY"]

#: Name of the TObjString holding the JSON provenance of a hepsift file.
PROVENANCE_KEY = "hepsift_provenance"


def _open(path: str | os.PathLike[str]) -> Any:
    import uproot

    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file")
    try:
        return uproot.open(p)
    except Exception as exc:  # uproot raises several kinds for non-ROOT files
        raise DataError(f"{p}: not a readable ROOT file ({exc})") from exc


def _pick_tree(f: Any, path: Path, tree: str | None) -> Any:
    trees = [k.split(";")[0] for k, v in f.classnames().items() if v == "TTree"]
    if tree is None:
        if "Events" in trees:
            tree = "Events"
        elif len(trees) == 1:
            tree = trees[0]
        elif not trees:
            raise DataError(f"{path}: the file holds no TTree")
        else:
            raise DataError(f"{path}: several trees ({', '.join(trees)}); choose one with tree=")
    if tree not in trees:
        close = difflib.get_close_matches(tree, trees, n=3, cutoff=0.3)
        raise MissingBranchError(
            f"{path}: no tree {tree!r}; nearest: {', '.join(close) or '(none)'}; trees: {', '.join(trees)}"
        )
    return f[tree]


def read_root(
    path: str | os.PathLike[str],
    branches: Sequence[str] | None = None,
    *,
    tree: str | None = None,
    entry_start: int | None = None,
    entry_stop: int | None = None,
    features: bool = False,
) -> Any:
    """Read a ROOT tree into an ``awkward.Array`` of records (one field per branch).

    Parameters
    ----------
    path
        ROOT file.
    branches
        Branch names to read (default: all).
    tree
        Tree name; default ``Events`` if present, else the only tree in the file.
    entry_start, entry_stop
        Entry range, as in uproot.
    features
        Also compute the flat features of :data:`hepsift.io.FEATURES` from the object
        branches (for NanoAOD-like trees that lack them); existing branches of the same name
        are kept.

    Returns
    -------
    awkward.Array
        ``n_entries`` records; jagged branches stay jagged.

    Raises
    ------
    DataError
        The file is missing or unreadable, or the tree is empty.
    MissingBranchError
        A requested branch (or tree) does not exist; the message lists the nearest names.
    """
    import awkward as ak

    p = Path(path)
    f = _open(p)
    t = _pick_tree(f, p, tree)
    names = list(t.keys())
    wanted = list(branches) if branches is not None else None
    if wanted is not None:
        missing = [b for b in wanted if b not in names]
        if missing:
            parts = []
            for b in missing:
                close = difflib.get_close_matches(b, names, n=3, cutoff=0.5)
                parts.append(f"{b!r} (nearest: {', '.join(close) if close else 'none'})")
            raise MissingBranchError(f"{p}:{t.name}: no branch {'; '.join(parts)}")
    if t.num_entries == 0:
        raise DataError(f"{p}:{t.name}: the tree is empty (0 entries)")
    arrays = t.arrays(wanted, entry_start=entry_start, entry_stop=entry_stop)
    if features:
        from hepsift.io.features import compute_features

        source = arrays if wanted is None else t.arrays(entry_start=entry_start, entry_stop=entry_stop)
        try:
            feats = compute_features(source)
        except KeyError as exc:
            raise MissingBranchError(f"{p}:{t.name}: cannot compute features, no branch {exc}") from exc
        for name, values in feats.items():
            if name not in arrays.fields:
                arrays = ak.with_field(arrays, values, name)
    return arrays


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance dictionary stored in a hepsift file (empty when there is none)."""
    f = _open(path)
    if PROVENANCE_KEY not in f:
        return {}
    try:
        return json.loads(str(f[PROVENANCE_KEY]))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: the provenance record is not valid JSON ({exc})") from exc


def _group(branches: Mapping[str, Any]) -> dict[str, Any]:
    """Flat NanoAOD names -> uproot tree data: jagged ``X_a``, ``X_b`` become one record ``X``."""
    import awkward as ak

    data: dict[str, Any] = {}
    collections: dict[str, dict[str, Any]] = {}
    for name, values in branches.items():
        if isinstance(values, ak.Array) and values.ndim == 2:
            prefix, _, field = name.partition("_")
            if not field:
                raise ConfigurationError(f"jagged branch {name!r} must be named Collection_field")
            collections.setdefault(prefix, {})[field] = values
        else:
            data[name] = np.asarray(values)
    for prefix, fields in collections.items():
        data[prefix] = ak.zip(fields)
    return data


def write_events(
    path: str | os.PathLike[str],
    branches: Mapping[str, Any],
    *,
    provenance: Mapping[str, Any] | None = None,
    tree: str = "Events",
    extra_strings: Mapping[str, str] | None = None,
) -> Path:
    """Write events to a ROOT file atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path
        Destination; its folder is created if needed.
    branches
        Name -> array: 1-D NumPy arrays become scalar branches; jagged ``awkward`` arrays named
        ``Collection_field`` become NanoAOD-style branches with a shared counter
        ``nCollection``.
    provenance
        JSON-serialisable dictionary stored as the TObjString :data:`PROVENANCE_KEY`.
    tree
        Tree name.
    extra_strings
        More TObjStrings to store (name -> text).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import uproot

    from hepsift._atomic import atomic_output

    dest = Path(path)
    data = _group(branches)
    with atomic_output(dest, overwrite=True, make_parents=True) as tmp:
        with uproot.recreate(tmp) as f:
            tt = f.mktree(
                tree,
                {k: (v.type.content if hasattr(v, "layout") else v.dtype) for k, v in data.items()},
                counter_name=lambda counted: "n" + counted,
                field_name=lambda outer, inner: inner if outer == "" else f"{outer}_{inner}",
            )
            tt.extend(data)
            if provenance is not None:
                f[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True)
            for key, text in (extra_strings or {}).items():
                f[key] = text
    return dest

