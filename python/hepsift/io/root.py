"""ROOT files: read any tree with uproot (one reader, :func:`read_tree`); write hepsift event
files atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError, MissingBranchError

__all__ = ["read_tree", "check_tree", "read_root", "read_provenance", "write_events", "PROVENANCE_KEY"]

#: Name of the TObjString holding the JSON provenance of a hepsift file.
PROVENANCE_KEY = "hepsift_provenance"


#: uproot classes that :func:`read_tree` reads as a tree.
_TREE_CLASSES = ("TTree", "TNtuple", "ROOT::RNTuple")


def _open(path: str | os.PathLike[str]) -> Any:
    import uproot

    p = Path(path)
    if not p.exists():
        raise DataError(f"'{p}': no such file")
    if p.is_dir():
        raise DataError(f"'{p}' is a folder, not a ROOT file")
    try:
        return uproot.open(p)
    except Exception as exc:  # uproot raises ValueError, OSError, struct.error, ... for non-ROOT files
        first = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
        raise DataError(f"'{p}' is not a readable ROOT file ({first})") from exc


def _find_tree(f: Any, path: Path, tree: str | None, note: str | None = None) -> tuple[Any, str, str]:
    """The tree ``tree`` of an open file (default ``Events``, else the only tree), its name and class."""
    try:
        classes = {k.rsplit(";", 1)[0]: v for k, v in f.classnames(recursive=True).items()}
    except Exception as exc:  # a damaged directory
        raise DataError(f"'{path}' is not a readable ROOT file ({type(exc).__name__}: {exc})") from exc
    trees = {k: v for k, v in classes.items() if v.startswith(_TREE_CLASSES)}
    if tree is None:
        if "Events" in trees:
            tree = "Events"
        elif len(trees) == 1:
            tree = next(iter(trees))
        elif not trees:
            raise DataError(f"'{path}' holds no tree")
        else:
            raise DataError(f"'{path}' holds several trees ({', '.join(trees)}); choose one"
                            + (f" ({note})" if note else " with tree="))
    if tree not in trees:
        raise MissingBranchError(tree, trees, f"'{path}'", what="tree", note=note)
    return f[tree], tree, trees[tree]


def check_tree(path: str | os.PathLike[str], tree: str | None = None, *, note: str | None = None) -> str:
    """Check that ``path`` is a readable ROOT file holding ``tree`` (a TTree or an RNTuple, also
    ``folder/name``; default ``Events`` or the only tree) without reading it; return the tree's
    class name (``"TTree"``, ``"ROOT::RNTuple"``, ...).

    Raises
    ------
    hepsift.DataError
        The file is missing, a folder, not a ROOT file, or holds no (or several) trees.
    hepsift.MissingBranchError
        It has no tree ``tree``; the message lists its trees, the nearest first, and ``note``.
    """
    p = Path(path)
    with _open(p) as f:
        return _find_tree(f, p, tree, note)[2]


def read_tree(
    files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    branches: Sequence[str] | None = None,
    *,
    tree: str | None = None,
    optional: Sequence[str] = (),
    selection: str | None = None,
    entry_start: int | None = None,
    entry_stop: int | None = None,
    library: str = "np",
) -> Any:
    """Read branches of a tree from one or more ROOT files: every hepsift reader comes here.

    Opens each file, finds the tree, checks that every name of ``branches`` is a branch (a
    :class:`~hepsift.MissingBranchError` names the nearest ones), applies ``selection`` and
    reads the arrays; several files are concatenated in order.

    Parameters
    ----------
    files : path or sequence of paths
        ROOT files with the same tree.
    branches : sequence of str, optional
        Branches that must exist, read in this order (default: every branch).
    tree : str, optional
        Tree name (also ``folder/name``); default ``Events`` if present, else the only tree.
    optional : sequence of str
        Branches read when present and skipped otherwise (after ``branches``, in this order).
    selection : str, optional
        Boolean NumPy expression over branches, e.g. ``"(n_jets >= 4) & (met_pt > 20)"``
        (evaluated with NumPy only, no builtins).
    entry_start, entry_stop : int, optional
        Entry range of each file, as in uproot.
    library : {"np", "ak"}
        ``"np"``: a dict name -> 1-D NumPy array (jagged branches give object arrays);
        ``"ak"``: an ``awkward.Array`` of records.

    Returns
    -------
    dict of str to numpy.ndarray, or awkward.Array
        ``n_events`` entries per branch, the ``branches`` first, then the present ``optional`` ones.

    Raises
    ------
    hepsift.DataError
        A file is missing, unreadable, or holds no (or several) trees; no file given.
    hepsift.MissingBranchError
        A tree or a branch of ``branches`` (or of ``selection``) does not exist.
    hepsift.ConfigurationError
        ``selection`` cannot be evaluated or is not one boolean per event; unknown ``library``.
    """
    if library not in ("np", "ak"):
        raise ConfigurationError(f"library must be 'np' or 'ak', got {library!r}")
    paths = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not paths:
        raise DataError("no input files")
    parts = []
    for path in paths:
        p = Path(path)
        with _open(p) as f:
            t, name, _ = _find_tree(f, p, tree)
            keys = list(t.keys())
            wanted = keys if branches is None else list(dict.fromkeys(branches))
            missing = [b for b in wanted if b not in keys]
            if missing:
                raise MissingBranchError(missing, keys, f"tree '{name}' of '{p}'")
            wanted += [b for b in optional if b in keys and b not in wanted]
            arrays = t.arrays(wanted, entry_start=entry_start, entry_stop=entry_stop, library=library)
            if selection:
                mask = _selection_mask(t, selection, keys, f"tree '{name}' of '{p}'", entry_start, entry_stop)
                arrays = arrays[mask] if library == "ak" else {k: v[mask] for k, v in arrays.items()}
        parts.append(arrays)
    if len(parts) == 1:
        return parts[0]
    if library == "ak":
        import awkward as ak

        return ak.concatenate(parts)
    names = list(parts[0])
    for p, part in zip(paths[1:], parts[1:]):
        if list(part) != names:
            raise DataError(f"'{p}' has other branches than '{paths[0]}': {sorted(set(part) ^ set(names))}")
    return {k: np.concatenate([part[k] for part in parts]) for k in names}


def _selection_mask(t: Any, selection: str, keys: list[str], where: str, entry_start: int | None,
                    entry_stop: int | None) -> np.ndarray:
    """One boolean per event from a NumPy expression over branches (as uproot's ``cut``)."""
    import re

    used = [k for k in keys if re.search(rf"\b{re.escape(k)}\b", selection)]
    if not used:
        words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", selection)
        raise MissingBranchError([w for w in dict.fromkeys(words) if w != "np"] or [selection], keys, where,
                                 note=f"the selection {selection!r} names no branch")
    cols = t.arrays(used, entry_start=entry_start, entry_stop=entry_stop, library="np")
    try:
        mask = np.asarray(eval(selection, {"np": np, "__builtins__": {}}, dict(cols)), dtype=bool)  # noqa: S307
    except Exception as exc:
        raise ConfigurationError(f"cannot evaluate the selection {selection!r}: {exc}") from exc
    if mask.shape != (len(next(iter(cols.values()))),):
        raise ConfigurationError(f"the selection {selection!r} does not give one boolean per event")
    return mask


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

    arrays = read_tree(path, branches, tree=tree, entry_start=entry_start, entry_stop=entry_stop, library="ak")
    if len(arrays) == 0 and entry_start is None and entry_stop is None:
        raise DataError(f"'{path}': the tree is empty (0 entries)")
    if features:
        from hepsift.io.features import compute_features

        source = arrays if branches is None else read_tree(path, tree=tree, entry_start=entry_start,
                                                           entry_stop=entry_stop, library="ak")
        try:
            feats = compute_features(source)
        except KeyError as exc:
            raise MissingBranchError(f"'{path}': cannot compute features, no branch {exc}") from exc
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

