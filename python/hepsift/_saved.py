"""The saved-estimator format shared by every hepsift estimator: data only, never code.

One file (extension :data:`EXTENSION`) is a zip archive holding

* ``manifest.json``: format name and version, the class name, the configuration, the learned
  state as a JSON tree, and (for people reading the file, not read back) provenance, feature
  names and thresholds;
* ``arrays.safetensors``: the numeric arrays of that tree (NumPy, safetensors);
* ``torch.safetensors``: the torch tensors of that tree, if any (safetensors);
* ``sklearn/<n>.skops``: scikit-learn estimators (skops, loaded with an explicit list of
  trusted types written below, never derived from the file).

Loading checks the format version before anything else, looks the class up by name in a
registry written in this module (no name read from a file is ever imported), and never
unpickles: old pickle files are refused with a message saying how to convert them.

Estimators take part through four hooks (see :class:`Saveable`): ``_saved_config_`` and
``_from_saved_config_`` (the configuration as a JSON dict) and ``_saved_state_`` /
``_restore_saved_state_`` (the learned state as a dict whose values are JSON values, NumPy
arrays and scalars, torch tensors, scikit-learn estimators, nested hepsift estimators and the
few value classes of :data:`_VALUE_CLASSES`, nested in dicts, lists and tuples).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from hepsift.errors import ModelError

__all__ = ["EXTENSION", "FORMAT", "FORMAT_VERSION", "Saveable", "load", "save", "estimator_classes"]

#: Value of ``format`` in ``manifest.json``.
FORMAT = "hepsift-estimator"
#: Version of the layout described above. Version 1 was a pickle (never read any more).
FORMAT_VERSION = 2
#: Extension that hepsift's command line gives saved estimators.
EXTENSION = ".hsm"

MANIFEST = "manifest.json"
ARRAYS = "arrays.safetensors"
TENSORS = "torch.safetensors"
SKLEARN_DIR = "sklearn/"
_MAX_MANIFEST_BYTES = 256 * 1024 * 1024

#: Every hepsift class a saved file may name: class name -> module that defines it (in code).
_ESTIMATOR_CLASSES: dict[str, str] = {
    "MLPClassifier": "hepsift.models.mlp",
    "BDTClassifier": "hepsift.models.trees",
    "RandomForestClassifier": "hepsift.models.trees",
    "ParameterizedClassifier": "hepsift.models.parameterized",
    "DeepSetsClassifier": "hepsift.models.sets",
    "JetTagger": "hepsift.models.sets",
    "CNNClassifier": "hepsift.models.images",
    "LCNNClassifier": "hepsift.models.images",
    "AutoEncoder": "hepsift.anomaly._neural",
    "DeepSVDD": "hepsift.anomaly._neural",
    "IsolationForest": "hepsift.anomaly._forest",
    "HBOS": "hepsift.anomaly._hbos",
    "AlphaVAE": "hepsift.generative._models",
    "BetaVAE": "hepsift.generative._models",
    "ObjectListGenerator": "hepsift.generative._objects",
    "NormalizingFlow": "hepsift.generative._models",
    "NPLM": "hepsift.nplm._model",
}

#: Plain value classes that may appear inside a learned state (restored by ``__setstate__``
#: from a dict of the same kinds of values).
_VALUE_CLASSES: dict[str, str] = {
    "ImputingScaler": "hepsift._missing",
}

#: The only non-default types skops may build (tree structures of the ensembles hepsift wraps).
TRUSTED_SKOPS_TYPES: tuple[str, ...] = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def _trusted_sklearn_classes() -> tuple[type, ...]:
    """The scikit-learn estimators a saved file may hold (those hepsift's estimators wrap)."""
    from sklearn import ensemble, tree

    return (
        ensemble.HistGradientBoostingClassifier, ensemble.HistGradientBoostingRegressor,
        ensemble.GradientBoostingClassifier, ensemble.GradientBoostingRegressor,
        ensemble.AdaBoostClassifier, ensemble.AdaBoostRegressor,
        ensemble.RandomForestClassifier, ensemble.RandomForestRegressor,
        ensemble.IsolationForest,
        tree.DecisionTreeClassifier, tree.DecisionTreeRegressor,
    )  # fmt: skip


#: NumPy dtypes stored in ``arrays.safetensors`` (and allowed for NumPy scalars).
_NUMERIC_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                   "float16", "float32", "float64")

S = TypeVar("S", bound="Saveable")


def estimator_classes() -> dict[str, type]:
    """Every hepsift estimator class that can be saved and loaded, by name (imports them)."""
    return {name: _lookup(name, _ESTIMATOR_CLASSES, "estimator") for name in _ESTIMATOR_CLASSES}


def _lookup(name: Any, registry: Mapping[str, str], what: str) -> type:
    if not isinstance(name, str) or name not in registry:
        raise ModelError(f"unknown hepsift {what} class {name!r}; this hepsift knows {', '.join(sorted(registry))}")
    return getattr(importlib.import_module(registry[name]), name)  # type: ignore[no-any-return]


class Saveable:
    """Mixin: ``save`` and ``load`` in the format of this module.

    Subclasses provide the four hooks below; everything else (containers, arrays, atomic
    writing, checks) is done here, once for every estimator family.
    """

    def _saved_config_(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """The constructor parameters as a JSON-able dict."""
        raise NotImplementedError

    @classmethod
    def _from_saved_config_(cls: type[S], config: Mapping[str, Any]) -> S:  # pragma: no cover - abstract
        """An unfitted estimator built from :meth:`_saved_config_`'s dict."""
        raise NotImplementedError

    def _saved_state_(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """The learned state (see the module documentation for the value kinds)."""
        raise NotImplementedError

    def _restore_saved_state_(self, state: dict[str, Any]) -> None:  # pragma: no cover - abstract
        """Set the learned state returned by :meth:`_saved_state_` on an unfitted estimator."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the estimator (configuration, learned state, provenance) to one file.

        The file holds data only (JSON, safetensors, skops); loading it runs no code from it.
        It is written atomically: a temporary file in the same folder, renamed when complete.

        Parameters
        ----------
        path : output file (hepsift's command line uses the extension ``.hsm``)
        overwrite : replace an existing file (default False: refuse it with :class:`hepsift.OutputError`)

        Returns
        -------
        pathlib.Path of the written file

        Raises
        ------
        hepsift.ModelError
            The learned state holds a value this format does not store (names the attribute).
        hepsift.NotFittedError
            For estimator families that save fitted estimators only.
        """
        return save(self, path, overwrite=overwrite)

    @classmethod
    def load(cls: type[S], path: str | os.PathLike[str]) -> S:
        """Read a file written by :meth:`save`; refuses a file that holds another class.

        Raises
        ------
        hepsift.ModelError
            Missing, damaged or truncated file, an old pickle file, an unknown format version,
            or an estimator that is not a ``cls``.
        """
        return load(path, expected=cls)  # type: ignore[return-value]


# ---- writing ---------------------------------------------------------------------------------
class _Writer:
    """Turns a learned state into a JSON tree plus the binary members that it refers to."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.tensors: dict[str, Any] = {}
        self.sklearn: dict[str, bytes] = {}

    def estimator(self, est: Saveable, where: str) -> dict[str, Any]:
        name = type(est).__name__
        if _ESTIMATOR_CLASSES.get(name) is None or _lookup(name, _ESTIMATOR_CLASSES, "estimator") is not type(est):
            raise ModelError(f"{where}: {type(est).__module__}.{type(est).__qualname__} is not a registered "
                             f"hepsift estimator class; add it to hepsift._saved._ESTIMATOR_CLASSES")
        config = est._saved_config_()
        try:
            json.dumps(config, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{where}: the configuration of {name} is not plain JSON ({exc})") from exc
        state = est._saved_state_()
        return {"class": name, "config": config,
                "state": {str(k): self.value(v, f"{where}/{k}") for k, v in state.items()}}

    def value(self, v: Any, where: str) -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and type(v) is int:
            return v
        if type(v) is float:
            return v if math.isfinite(v) else {"$float": repr(v)}
        if isinstance(v, np.ndarray):
            return self.array(v, where)
        if isinstance(v, np.generic):
            dtype = np.dtype(type(v)).name
            if dtype not in _NUMERIC_DTYPES:
                raise ModelError(f"cannot save {where}: NumPy scalar of dtype {dtype}")
            item = v.item()
            return {"$scalar": dtype, "value": item if not isinstance(item, float) or math.isfinite(item)
                    else {"$float": repr(item)}}
        if isinstance(v, list):
            return [self.value(x, f"{where}/{i}") for i, x in enumerate(v)]
        if isinstance(v, tuple):
            return {"$tuple": [self.value(x, f"{where}/{i}") for i, x in enumerate(v)]}
        if isinstance(v, Mapping):
            if all(isinstance(k, str) and not k.startswith("$") for k in v):
                return {k: self.value(x, f"{where}/{k}") for k, x in v.items()}
            return {"$dict": [[self.value(k, f"{where}/key{i}"), self.value(x, f"{where}/{k}")]
                              for i, (k, x) in enumerate(v.items())]}
        if isinstance(v, Saveable):
            return {"$estimator": self.estimator(v, where)}
        name = type(v).__name__
        if name in _VALUE_CLASSES and _lookup(name, _VALUE_CLASSES, "value") is type(v):
            return {"$object": name, "state": self.value(dict(v.__getstate__()), f"{where}/{name}")}
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(v, torch.Tensor):
            key = _unique(where, self.tensors)
            self.tensors[key] = v.detach().cpu().contiguous().clone()
            return {"$tensor": key}
        sklearn_base = sys.modules.get("sklearn.base")
        if sklearn_base is not None and isinstance(v, sklearn_base.BaseEstimator):
            return {"$sklearn": self.skops(v, where)}
        raise ModelError(f"cannot save {where}: values of type {type(v).__module__}.{type(v).__qualname__} are not "
                         "part of the hepsift saved-estimator format (JSON values, numeric arrays, torch tensors, "
                         "scikit-learn tree ensembles, hepsift estimators)")

    def array(self, a: np.ndarray, where: str) -> dict[str, Any]:
        if a.dtype.kind == "U":
            return {"$strings": a.tolist(), "shape": list(a.shape)}
        if a.dtype.name not in _NUMERIC_DTYPES:
            raise ModelError(f"cannot save {where}: array of dtype {a.dtype} (numeric and string arrays only)")
        key = _unique(where, self.arrays)
        self.arrays[key] = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("="), copy=False))
        return {"$array": key}

    def skops(self, est: Any, where: str) -> str:
        import skops.io as sio

        if not isinstance(est, _trusted_sklearn_classes()):
            raise ModelError(f"cannot save {where}: scikit-learn {type(est).__name__} is not among the estimators "
                             "this format loads (hepsift._saved._trusted_sklearn_classes)")
        data = sio.dumps(est)
        untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_SKOPS_TYPES))
        if untrusted:
            raise ModelError(f"cannot save {where}: its {type(est).__name__} holds types {untrusted} that loading "
                             "does not trust; the file could not be read back")
        member = f"{SKLEARN_DIR}{len(self.sklearn)}.skops"
        self.sklearn[member] = data
        return member


def _unique(name: str, taken: Mapping[str, Any]) -> str:
    """``name``, or ``name#2``, ``name#3``, ... when a key with a "/" made it collide with another path."""
    key, n = name, 1
    while key in taken:
        n += 1
        key = f"{name}#{n}"
    return key


def _info(value: Any) -> Any:
    """A JSON-able copy for the informative fields of the manifest (never read back)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=lambda x: x.tolist() if hasattr(x, "tolist") else str(x)))


def save(est: Saveable, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``est`` to ``path`` atomically (see :meth:`Saveable.save`)."""
    from hepsift._version import __version__

    from hepsift._atomic import check_output

    path = check_output(path, overwrite=overwrite, make_parents=True, what="saved estimator")
    writer = _Writer()
    tree = writer.estimator(est, "state")
    thresholds = getattr(est, "threshold_", None)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": tree["class"],
        "hepsift_version": __version__,
        "config": tree["config"],
        "state": tree["state"],
        "provenance": _info(getattr(est, "provenance_", None)),
        "feature_names": _info(getattr(est, "feature_names_in_", None)),
        "thresholds": _info(thresholds),
    }
    members: dict[str, bytes] = {}
    if writer.arrays:
        from safetensors.numpy import save as save_arrays

        members[ARRAYS] = save_arrays(writer.arrays)
    if writer.tensors:
        from safetensors.torch import save as save_tensors

        members[TENSORS] = save_tensors(writer.tensors)
    members.update(writer.sklearn)
    manifest["members"] = sorted(members)
    text = json.dumps(manifest, indent=1, sort_keys=False, allow_nan=False)
    from hepsift._atomic import atomic_output

    with atomic_output(path, overwrite=overwrite, make_parents=True, what="saved estimator") as tmp, open(tmp, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, text)
            for name, data in members.items():
                zf.writestr(name, data)
        f.flush()
        os.fsync(f.fileno())
    return path


# ---- reading ---------------------------------------------------------------------------------
def _legacy_message(path: Path) -> str:
    return (f"{path} is a Python pickle, the saved-estimator format of older hepsift versions "
            "('hepsift-estimator/1' or 'hepsift-estimator-1'). hepsift no longer opens pickles: unpickling runs "
            "code from the file. If you trust where it came from, convert it once, in a trusted environment: "
            "unpickle it there with the hepsift version that wrote it (or this one: the classes are the same) and "
            "save it again with this version (recipe in the README, 'Saving and loading estimators'); otherwise "
            "retrain the model")


class _Reader:
    """Resolves the JSON tree of a manifest against the binary members."""

    def __init__(self, arrays: Mapping[str, np.ndarray], tensors: Mapping[str, Any], sklearn: Mapping[str, Any]):
        self.arrays, self.tensors, self.sklearn = arrays, tensors, sklearn

    def estimator(self, node: Any, expected: type | None, where: str) -> Any:
        if not isinstance(node, Mapping) or set(node) != {"class", "config", "state"}:
            raise ModelError(f"{where}: malformed estimator entry")
        cls = _lookup(node["class"], _ESTIMATOR_CLASSES, "estimator")
        if expected is not None and not issubclass(cls, expected):
            raise ModelError(f"{where} holds a {node['class']}, not a {expected.__name__}")
        if not isinstance(node["config"], Mapping) or not isinstance(node["state"], Mapping):
            raise ModelError(f"{where}: configuration and state must be JSON objects")
        est = cls._from_saved_config_(dict(node["config"]))
        est._restore_saved_state_({k: self.value(v, f"{where}/{k}") for k, v in node["state"].items()})
        return est

    def value(self, v: Any, where: str) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x, f"{where}/{i}") for i, x in enumerate(v)]
        if not isinstance(v, dict):
            raise ModelError(f"{where}: unexpected JSON value")
        tags = [k for k in v if k.startswith("$")]
        if not tags:
            return {k: self.value(x, f"{where}/{k}") for k, x in v.items()}
        tag = tags[0]
        if tag == "$float" and v[tag] in ("nan", "inf", "-inf"):
            return float(v[tag])
        if tag == "$tuple" and isinstance(v[tag], list):
            return tuple(self.value(x, f"{where}/{i}") for i, x in enumerate(v[tag]))
        if tag == "$dict" and isinstance(v[tag], list):
            out = {}
            for item in v[tag]:
                if not (isinstance(item, list) and len(item) == 2):
                    raise ModelError(f"{where}: malformed dict entry")
                key = self.value(item[0], f"{where}/key")
                out[key if not isinstance(key, list) else tuple(key)] = self.value(item[1], f"{where}/{key}")
            return out
        if tag == "$scalar" and v[tag] in _NUMERIC_DTYPES:
            return np.dtype(v[tag]).type(self.value(v.get("value"), where))
        if tag == "$strings" and isinstance(v[tag], list):
            return np.array(v[tag], dtype=str).reshape([int(n) for n in v.get("shape", [-1])])
        if tag == "$array":
            if v[tag] not in self.arrays:
                raise ModelError(f"{where}: array {v[tag]!r} is missing from {ARRAYS}")
            return self.arrays[v[tag]]
        if tag == "$tensor":
            if v[tag] not in self.tensors:
                raise ModelError(f"{where}: tensor {v[tag]!r} is missing from {TENSORS}")
            return self.tensors[v[tag]]
        if tag == "$sklearn":
            if v[tag] not in self.sklearn:
                raise ModelError(f"{where}: member {v[tag]!r} is missing")
            return self.sklearn[v[tag]]
        if tag == "$estimator":
            return self.estimator(v[tag], None, where)
        if tag == "$object":
            cls = _lookup(v[tag], _VALUE_CLASSES, "value")
            state = self.value(v.get("state"), where)
            if not isinstance(state, dict):
                raise ModelError(f"{where}: the state of a {v[tag]} must be a JSON object")
            obj = cls.__new__(cls)
            obj.__setstate__(state)
            return obj
        raise ModelError(f"{where}: unknown entry {tag!r}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def load(path: str | os.PathLike[str], expected: type | None = None) -> Any:
    """Load any hepsift estimator written by ``save``: the class named in the file.

    Parameters
    ----------
    path : a file written by ``save`` (any hepsift estimator)
    expected : class, optional
        Refuse a file that holds an estimator of another class (subclasses pass).

    Returns
    -------
    The estimator, of the class it was saved from (a classifier of :mod:`hepsift.models`, an
    anomaly detector of :mod:`hepsift.anomaly` or a generator of :mod:`hepsift.generative`).

    Raises
    ------
    hepsift.ModelError
        Missing, damaged or truncated file; an old pickle file (refused without unpickling);
        an unknown format version; a class or member this hepsift does not know; a scikit-learn
        member with an untrusted type; an estimator that is not an ``expected``.

    Notes
    -----
    The format version is checked first; nothing in the file is imported or executed: classes
    are looked up by name in a registry in hepsift's code, arrays are read with safetensors,
    scikit-learn estimators with skops and an explicit list of trusted types.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: no such saved-estimator file")
    with open(p, "rb") as f:
        head = f.read(4)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise ModelError(_legacy_message(p))
    if head != b"PK\x03\x04":
        raise ModelError(f"{p} is not a hepsift estimator file (expected a zip archive written by save(); "
                         f"it starts with {head!r})")
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelError(f"{p} is damaged or truncated: not a complete hepsift estimator file ({exc})") from exc
    with zf:
        try:
            info = zf.getinfo(MANIFEST)
        except KeyError:
            raise ModelError(f"{p} is not a hepsift estimator file: it has no {MANIFEST}") from None
        if info.file_size > _MAX_MANIFEST_BYTES:
            raise ModelError(f"{p}: {MANIFEST} is implausibly large ({info.file_size} bytes)")
        try:
            manifest = json.loads(zf.read(info).decode("utf-8"), parse_constant=_no_constants)
        except Exception as exc:
            raise ModelError(f"{p} is damaged or not a hepsift estimator file: unreadable {MANIFEST} ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            fmt = manifest.get("format") if isinstance(manifest, dict) else None
            raise ModelError(f"{p} is not a hepsift estimator file (format {fmt!r}, expected {FORMAT!r})")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION or type(version) is not int:
            newer = isinstance(version, int) and version > FORMAT_VERSION
            raise ModelError(f"{p} has saved-estimator format version {version!r}; this hepsift reads version "
                             f"{FORMAT_VERSION}" + ("; it was written by a newer hepsift: upgrade hepsift to read it"
                                                    if newer else ""))
        try:
            return _read(p, zf, manifest, expected)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"{p} is damaged or not a valid hepsift estimator file "
                             f"({type(exc).__name__}: {exc})") from exc


def _read(p: Path, zf: zipfile.ZipFile, manifest: dict[str, Any], expected: type | None) -> Any:
    cls = _lookup(manifest.get("class"), _ESTIMATOR_CLASSES, "estimator")
    if expected is not None and not issubclass(cls, expected):
        raise ModelError(f"{p} holds a {manifest.get('class')}, not a {expected.__name__}; "
                         "use hepsift.load to open any saved estimator")
    listed = manifest.get("members")
    if not isinstance(listed, list) or not all(isinstance(m, str) for m in listed):
        raise ModelError(f"{p}: malformed member list in {MANIFEST}")
    names = set(zf.namelist())
    if names != {MANIFEST, *listed}:
        raise ModelError(f"{p}: members {sorted(names - {MANIFEST})} differ from those listed in {MANIFEST} "
                         f"({sorted(listed)})")
    arrays: dict[str, np.ndarray] = {}
    tensors: dict[str, Any] = {}
    sklearn: dict[str, Any] = {}
    for name in listed:
        data = zf.read(name)
        if name == ARRAYS:
            from safetensors.numpy import load as load_arrays

            arrays = {k: np.array(a) for k, a in load_arrays(data).items()}
        elif name == TENSORS:
            from safetensors.torch import load as load_tensors

            tensors = load_tensors(data)
        elif name.startswith(SKLEARN_DIR) and name.endswith(".skops"):
            sklearn[name] = _load_skops(p, name, data)
        else:
            raise ModelError(f"{p}: unknown member {name!r}")
    node = {"class": manifest["class"], "config": manifest.get("config"), "state": manifest.get("state")}
    return _Reader(arrays, tensors, sklearn).estimator(node, expected, str(p))


def _load_skops(p: Path, name: str, data: bytes) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise ModelError(f"{p}: member {name} is not a readable skops file ({exc})") from exc
    refused = sorted(set(untrusted) - set(TRUSTED_SKOPS_TYPES))
    if refused:
        raise ModelError(f"{p}: member {name} holds types hepsift does not trust: {', '.join(refused)}")
    try:
        est = sio.loads(data, trusted=list(TRUSTED_SKOPS_TYPES))
    except Exception as exc:
        raise ModelError(f"{p}: member {name} could not be read safely ({type(exc).__name__}: {exc})") from exc
    if not isinstance(est, _trusted_sklearn_classes()):
        raise ModelError(f"{p}: member {name} holds a {type(est).__name__}, not a scikit-learn estimator "
                         "hepsift wraps")
    return est

