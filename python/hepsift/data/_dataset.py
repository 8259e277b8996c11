"""The training set: features, labels, weights, process names and an optional mass parameter."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepsift._missing import FEATURE_SETS, MISSING, check_finite, missing_mask, sanitised_features  # noqa: F401
from hepsift.errors import ConfigurationError, DataError, MissingBranchError

#: What to do with :data:`MISSING` entries: keep them, or drop every event that holds one (dropping
#: the features that hold one is the "sanitised" feature set, ``features="sanitised"``).
MISSING_POLICIES = ("keep", "drop_events")



@dataclass
class Dataset:
    """Events ready for training.

    Attributes
    ----------
    X : ndarray, float32, shape (n_events, n_features)
        Features; absent objects hold :data:`MISSING` (-999) unless a policy removed them.
    y : ndarray, int64, shape (n_events,)
        Class labels (1 signal, 0 background for binary sets).
    weight : ndarray, float64, shape (n_events,)
        Expected events per event: the ntuple's ``weight`` (pb per event) times the luminosity
        (pb^-1), so that ``weight[y == c].sum()`` is the expected yield of class c.
    process : ndarray of str, shape (n_events,)
        Process name of every event.
    feature_names : list of str, length n_features
    mass : ndarray, float32, shape (n_events,), or None
        The signal-mass parameter [GeV] (0 for backgrounds in hepsift ntuples).
    class_names : list of str
        Name of each class label (index = label).
    luminosity : float
        Luminosity [pb^-1] used for ``weight``.
    """

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    process: np.ndarray
    feature_names: list[str]
    mass: np.ndarray | None = None
    class_names: list[str] = field(default_factory=lambda: ["background", "signal"])
    luminosity: float = 1.0

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        if self.X.ndim != 2:
            raise DataError(f"X must have shape (n_events, n_features); got {self.X.shape}")
        n = len(self.X)
        self.y = np.asarray(self.y).astype(np.int64).ravel()
        self.weight = np.asarray(self.weight, dtype=np.float64).ravel()
        self.process = np.asarray(self.process).astype(str).ravel()
        self.feature_names = [str(f) for f in self.feature_names]
        for name, arr in (("y", self.y), ("weight", self.weight), ("process", self.process)):
            if len(arr) != n:
                raise DataError(f"{name} has {len(arr)} entries for {n} events")
        if self.mass is not None:
            self.mass = np.asarray(self.mass, dtype=np.float32).ravel()
            if len(self.mass) != n:
                raise DataError(f"mass has {len(self.mass)} entries for {n} events")
        if len(self.feature_names) != self.X.shape[1]:
            raise DataError(f"{len(self.feature_names)} feature names for {self.X.shape[1]} columns")
        if len(set(self.feature_names)) != len(self.feature_names):
            raise DataError(f"feature names are not unique: {self.feature_names}")
        check_finite(self.X, self.feature_names, what="Dataset")

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_arrays(cls, X: Any, y: Any, weight: Any = None, *, process: Any = None,
                    feature_names: Sequence[str] | None = None, mass: Any = None,
                    class_names: Sequence[str] | None = None, luminosity: float = 1.0) -> Dataset:
        """A dataset from in-memory arrays (weights default to 1, process to the class name)."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y).astype(np.int64)
        n_classes = int(y.max()) + 1 if len(y) else 2
        names = list(class_names) if class_names is not None else (
            ["background", "signal"] if n_classes <= 2 else [f"class{k}" for k in range(n_classes)])
        if process is None:
            process = np.array([names[k] if 0 <= k < len(names) else str(k) for k in y])
        if feature_names is None:
            feature_names = [f"f{i}" for i in range(X.shape[1] if X.ndim == 2 else 0)]
        w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64) * luminosity
        return cls(X, y, w, process, list(feature_names), mass, names, float(luminosity))

    @classmethod
    def from_root(
        cls,
        files: Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]] | str | os.PathLike[str],
        features: str | Sequence[str] = "full",
        *,
        tree: str | None = None,
        luminosity: float = 1.0,
        labels: Mapping[str, int] | str | None = None,
        class_names: Sequence[str] | None = None,
        weight_branch: str | None = "weight",
        process_branch: str | None = "process",
        mass_branch: str | None = "signal_mass",
        missing: str = "keep",
        require: Sequence[str] = (),
        selection: str | None = None,
    ) -> Dataset:
        """Read events from ROOT files (any TTree; hepsift ntuples by default) with uproot.

        Parameters
        ----------
        files : path, sequence of paths, or mapping process name -> path
            A mapping names the process of every file (used when the tree has no
            ``process_branch``).
        features : ``"full"``, ``"sanitised"`` or a list of branch names
            ``full``: every flat feature of :data:`hepsift.io.FEATURE_NAMES` present in the
            files. ``sanitised``: the features without holes: events lacking a feature named in
            ``require`` are dropped first, then every column that still holds :data:`MISSING`
            is removed (see :func:`sanitise`). A list picks branches by name.
        tree : tree name (default ``Events`` or the only tree)
        luminosity : float, pb^-1; ``weight = weight_branch * luminosity`` (expected events)
        labels : how to label events
            None: 1 where ``mass_branch > 0`` (hepsift signals), else 0 (if the tree has no
            mass branch: error). A str: a branch holding integer labels. A mapping process
            name -> class label (multi-class, e.g. ``{"ttbar": 0, "wjets": 1, "zprime": 2}``);
            processes not named raise an error.
        class_names : names of the labels (index = label)
        weight_branch, process_branch, mass_branch : branch names (None: not read)
        missing : {"keep", "drop_events"}
            The missing-value policy for :data:`MISSING` entries: keep them (trees split on
            them; hepsift's MLP imputes them inside its graph) or drop every event holding one.
            (Dropping every column that holds one is ``features="sanitised"``.)
        require : feature names whose absence removes the event (e.g. ``["fatjet1_pt"]``: require a
            large-R jet)
        selection : optional boolean NumPy expression over branches (e.g. ``"(n_jets >= 4) & (met_pt > 20)"``)

        Returns
        -------
        Dataset

        Raises
        ------
        hepsift.DataError, hepsift.MissingBranchError
        """
        from hepsift.io.features import FEATURE_NAMES
        from hepsift.io.root import read_tree

        if missing not in MISSING_POLICIES:
            raise ConfigurationError(f"unknown missing-value policy {missing!r}; choose one of {', '.join(MISSING_POLICIES)}")
        if isinstance(files, (str, os.PathLike)):
            files = [files]
        items = list(files.items()) if isinstance(files, Mapping) else [(None, f) for f in files]
        if not items:
            raise DataError("no input files")
        feature_set: str | None = features if isinstance(features, str) else None
        if feature_set is not None and feature_set not in FEATURE_SETS:
            raise ConfigurationError(f"unknown feature set {feature_set!r}; choose {FEATURE_SETS} or pass a list of branches")
        if feature_set is None and not list(features):
            raise ConfigurationError("the feature list is empty")

        parts: dict[str, list[np.ndarray]] = {"X": [], "y": [], "w": [], "p": [], "m": []}
        names: list[str] | None = None if feature_set is not None else [str(f) for f in features]
        extra = [b for b in (weight_branch, process_branch, mass_branch) if b is not None]
        for proc_name, path in items:
            p = Path(path)
            if names is None:  # a feature set: hepsift's flat features that the first file has
                arrays = read_tree(p, [labels] if isinstance(labels, str) else [], tree=tree,
                                   optional=[*FEATURE_NAMES, *extra], selection=selection)
                names = [b for b in FEATURE_NAMES if b in arrays]
                if not names:
                    raise MissingBranchError(f"'{p}': none of hepsift's flat features is a branch; pass "
                                             "features=[...] (a list of branch names)")
            else:
                arrays = read_tree(p, [*names, *([labels] if isinstance(labels, str) else [])], tree=tree,
                                   optional=extra, selection=selection)
            n = len(arrays[names[0]])
            if n == 0:
                continue
            X = np.stack([np.asarray(arrays[b], dtype=np.float32) for b in names], axis=1)
            if proc_name is not None:
                proc = np.full(n, proc_name, dtype=object)
            elif process_branch is not None and process_branch in arrays:
                proc = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in arrays[process_branch]])
            else:
                proc = np.full(n, p.stem, dtype=object)
            w = np.asarray(arrays[weight_branch], dtype=np.float64) if weight_branch in arrays else np.ones(n)
            m = np.asarray(arrays[mass_branch], dtype=np.float32) if mass_branch in arrays else None
            if labels is None:
                if m is None:
                    raise MissingBranchError(f"{p}: no mass branch {mass_branch!r} to label signal events; "
                                             "pass labels= (a branch name or a process -> label mapping)")
                y = (m > 0).astype(np.int64)
            elif isinstance(labels, str):
                y = np.asarray(arrays[labels]).astype(np.int64)
            else:
                unknown = sorted(set(map(str, proc)) - set(labels))
                if unknown:
                    raise DataError(f"{p}: process(es) {unknown} have no entry in labels {dict(labels)}")
                y = np.array([labels[str(q)] for q in proc], dtype=np.int64)
            parts["X"].append(X)
            parts["y"].append(y)
            parts["w"].append(w * luminosity)
            parts["p"].append(np.asarray(proc).astype(str))
            parts["m"].append(m if m is not None else np.full(n, np.nan, np.float32))
        if not parts["X"]:
            raise DataError("no events passed the selection in any input file")
        assert names is not None
        mass = np.concatenate(parts["m"])
        mass_out = None if np.isnan(mass).all() else np.nan_to_num(mass, nan=0.0)
        y = np.concatenate(parts["y"])
        if class_names is None:
            if isinstance(labels, Mapping):
                inv: dict[int, list[str]] = {}
                for proc_name_, lab in labels.items():
                    inv.setdefault(int(lab), []).append(proc_name_)
                class_names = ["+".join(inv.get(k, [str(k)])) for k in range(int(y.max()) + 1)]
            else:
                class_names = ["background", "signal"] if y.max() <= 1 else [f"class{k}" for k in range(y.max() + 1)]
        ds = cls(np.concatenate(parts["X"]), y, np.concatenate(parts["w"]), np.concatenate(parts["p"]), names,
                 mass_out, list(class_names), float(luminosity))
        if require:
            ds = ds.require(require)
        if feature_set == "sanitised":
            ds = ds.sanitise()
        return ds.apply_missing_policy(missing)

    @classmethod
    def from_higgsml(cls, folder: str | os.PathLike[str], features: str | Sequence[str] = "full",
                     missing: str = "keep") -> Dataset:
        """The ATLAS Higgs ML challenge CSV sample (``train_sml_sig.csv``, ``train_sml_bg.csv``).

        Weights are the challenge's ``Weight`` column (expected events at its luminosity);
        features all ``DER_*`` and ``PRI_*`` columns (``full``) or those without -999 entries
        (``sanitised``); ``process`` is ``"H->tautau"`` or ``"background"``.
        """
        folder = Path(folder)
        parts = []
        for name, label in (("train_sml_bg.csv", 0), ("train_sml_sig.csv", 1)):
            p = folder / name
            if not p.is_file():
                raise DataError(f"{p}: no such file (the HiggsML sample needs {name})")
            with open(p) as fh:
                header = fh.readline().strip().split(",")
            cols = [i for i, h in enumerate(header) if h.startswith(("DER_", "PRI_")) or h == "Weight"]
            data = np.loadtxt(p, delimiter=",", skiprows=1, usecols=cols, dtype=np.float64, ndmin=2)
            parts.append((data, [header[i] for i in cols], label))
        feat = [h for h in parts[0][1] if h != "Weight"]
        wi = parts[0][1].index("Weight")
        fi = [parts[0][1].index(h) for h in feat]
        X = np.concatenate([d[:, fi] for d, _, _ in parts]).astype(np.float32)
        w = np.concatenate([d[:, wi] for d, _, _ in parts])
        y = np.concatenate([np.full(len(d), lab) for d, _, lab in parts])
        proc = np.where(y == 1, "H->tautau", "background")
        ds = cls(X, y, w, proc, feat)
        if not isinstance(features, str):
            ds = ds.select(features)
        elif features == "sanitised":
            ds = ds.sanitise()
        elif features != "full":
            raise ConfigurationError(f"unknown feature set {features!r}; choose {FEATURE_SETS} or pass a list")
        return ds.apply_missing_policy(missing)

    # ---- selections ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1

    def subset(self, index: Any) -> Dataset:
        """Events selected by a boolean mask or an index array."""
        idx = np.asarray(index)
        return Dataset(self.X[idx], self.y[idx], self.weight[idx], self.process[idx], list(self.feature_names),
                       None if self.mass is None else self.mass[idx], list(self.class_names), self.luminosity)

    def select(self, features: Sequence[str]) -> Dataset:
        """Only the named features, in that order."""
        features = list(features)
        missing = [f for f in features if f not in self.feature_names]
        if missing:
            raise MissingBranchError(missing, self.feature_names, "the data set", what="feature")
        idx = [self.feature_names.index(f) for f in features]
        return Dataset(self.X[:, idx], self.y, self.weight, self.process, features, self.mass, list(self.class_names),
                       self.luminosity)

    def missing_fraction(self) -> dict[str, float]:
        """Fraction of events with :data:`MISSING` in each feature."""
        frac = missing_mask(self.X).mean(axis=0)
        return {f: float(v) for f, v in zip(self.feature_names, frac)}

    def require(self, features: Sequence[str]) -> Dataset:
        """Drop the events in which any of ``features`` is :data:`MISSING` (e.g. require a large-R jet)."""
        idx = [self.feature_names.index(f) for f in self.select(features).feature_names]
        keep = ~missing_mask(self.X[:, idx]).any(axis=1)
        if not keep.any():
            raise DataError(f"no event has all of {list(features)}")
        return self.subset(keep)

    def sanitise(self) -> Dataset:
        """The "sanitised" feature set: drop every column that holds :data:`MISSING` in these events.

        What is left has no discontinuities from absent objects (event-level quantities, and the
        object features that the event selection guarantees: combine with :meth:`require`, e.g.
        ``ds.require(["lep_pt", "jet1_pt"]).sanitise()`` keeps the leading lepton and jet). The
        rule is :func:`hepsift._missing.sanitised_features`, the one the anomaly detectors use.

        Raises
        ------
        hepsift.DataError
            Every feature holds the sentinel (nothing would be left).
        """
        return self.select(sanitised_features(self.X, self.feature_names))

    def apply_missing_policy(self, policy: str) -> Dataset:
        """Apply a policy of :data:`MISSING_POLICIES` to :data:`MISSING` entries."""
        if policy == "keep":
            return self
        if policy == "drop_events":
            keep = ~missing_mask(self.X).any(axis=1)
            if not keep.any():
                raise DataError("every event holds a missing value; drop_events would leave nothing")
            return self.subset(keep)
        raise ConfigurationError(f"unknown missing-value policy {policy!r}; choose one of {', '.join(MISSING_POLICIES)}")

    # ---- splits and weights -------------------------------------------------------
    def split(self, test_size: float = 0.25, *, validation_size: float = 0.0, seed: int = 0,
              stratify: bool = True, reweight: bool = True) -> tuple[Dataset, ...]:
        """Random split into (train, test) or (train, validation, test), seeded and stratified.

        With ``reweight`` the weights of every part are scaled by 1/fraction per class, so that
        each part still sums to the expected yields of the whole sample.
        """
        from sklearn.model_selection import train_test_split

        if not 0 < test_size < 1 or not 0 <= validation_size < 1 or test_size + validation_size >= 1:
            raise ConfigurationError(f"test_size={test_size} and validation_size={validation_size} must be fractions "
                                     "with a sum below 1")
        idx = np.arange(len(self))
        strat = self.y if stratify else None
        try:
            rest, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=strat)
            parts = [rest, test]
            if validation_size > 0:
                rel = validation_size / (1 - test_size)
                train, val = train_test_split(rest, test_size=rel, random_state=seed + 1,
                                              stratify=None if strat is None else self.y[rest])
                parts = [train, val, test]
        except ValueError as exc:
            raise DataError(f"cannot split {len(self)} events: {exc}") from exc
        out = []
        for part in parts:
            ds = self.subset(np.sort(part))
            if reweight:
                for c in np.unique(self.y):
                    tot, sub = self.weight[self.y == c].sum(), ds.weight[ds.y == c].sum()
                    if sub != 0:
                        ds.weight[ds.y == c] *= tot / sub
            out.append(ds)
        return tuple(out)

    def class_weights(self) -> dict[int, float]:
        """Per-class factors that give every class the same total weight (mean event weight 1)."""
        totals = {int(c): float(self.weight[self.y == c].sum()) for c in np.unique(self.y)}
        n = len(self)
        return {c: n / (len(totals) * t) if t > 0 else 0.0 for c, t in totals.items()}

    def balanced_weights(self) -> np.ndarray:
        """Event weights multiplied by :meth:`class_weights` (float64, shape (n_events,))."""
        cw = self.class_weights()
        return self.weight * np.array([cw[int(c)] for c in self.y])

    def yields(self) -> dict[str, float]:
        """Expected events per process (sum of weights)."""
        return {p: float(self.weight[self.process == p].sum()) for p in np.unique(self.process)}

    def smote(self, *, seed: int = 0, sampling_strategy: Any = "auto", k_neighbors: int = 5) -> Dataset:
        """Oversample minority classes with SMOTE (Chawla et al., JAIR 16 (2002) 321; imbalanced-learn).

        Synthetic events interpolate between a minority event and one of its ``k_neighbors``
        nearest neighbours of the same class. They get the class's mean weight, process name
        ``"smote:<class name>"`` and, if the set has a mass, the mass of their seed event's
        nearest original. The weights of each class are then rescaled to keep its expected yield.
        """
        from hepsift._deps import optional_import

        SMOTE = optional_import("imblearn.over_sampling", "SMOTE").SMOTE
        counts = np.bincount(self.y)
        if np.min(counts[counts > 0]) <= k_neighbors:
            raise DataError(f"SMOTE with k_neighbors={k_neighbors} needs more than {k_neighbors} events in every "
                            f"class; class counts {counts.tolist()}")
        sm = SMOTE(sampling_strategy=sampling_strategy, k_neighbors=k_neighbors, random_state=seed)
        cols = self.X if self.mass is None else np.column_stack([self.X, self.mass])
        Xr, yr = sm.fit_resample(cols, self.y)
        n = len(self)
        new_y = yr[n:]
        w = np.concatenate([self.weight, np.zeros(len(new_y))])
        for c in np.unique(self.y):
            m = self.y == c
            w[n:][new_y == c] = self.weight[m].mean()
            tot = self.weight[m].sum()
            sel = np.r_[m, new_y == c]
            if w[sel].sum() != 0:
                w[sel] *= tot / w[sel].sum()
        names = self.class_names
        proc = np.concatenate([self.process, np.array([f"smote:{names[c] if c < len(names) else c}" for c in new_y])])
        X = Xr[:, : self.n_features].astype(np.float32)
        mass = None if self.mass is None else Xr[:, -1].astype(np.float32)
        return Dataset(X, yr, w, proc, list(self.feature_names), mass, list(self.class_names), self.luminosity)

    def with_mass_feature(self, name: str = "mass", *, seed: int | None = None) -> Dataset:
        """The mass as the last feature (for :class:`hepsift.models.ParameterizedClassifier`).

        With ``seed``, background events get masses drawn from the signal masses now
        (:func:`hepsift.data.assign_background_masses`); otherwise the classifier does it at fit.
        """
        if self.mass is None:
            raise DataError("this dataset has no mass parameter")
        mass = self.mass
        if seed is not None:
            from hepsift.data._masses import assign_background_masses

            mass = assign_background_masses(mass, self.y, seed)
        return Dataset(np.column_stack([self.X, mass]), self.y, self.weight, self.process,
                       [*self.feature_names, name], self.mass, list(self.class_names), self.luminosity)

    def summary(self) -> str:
        """Events, weighted yields and missing fractions as text."""
        lines = [f"{len(self)} events, {self.n_features} features, luminosity {self.luminosity:g} pb^-1"]
        for c in np.unique(self.y):
            m = self.y == c
            name = self.class_names[c] if c < len(self.class_names) else str(c)
            lines.append(f"  class {c} ({name}): {int(m.sum())} events, expected {self.weight[m].sum():.4g}")
        holes = {k: v for k, v in self.missing_fraction().items() if v > 0}
        if holes:
            lines.append("  missing: " + ", ".join(f"{k} {v:.0%}" for k, v in holes.items()))
        return "\n".join(lines)

    @classmethod
    def from_darkmachines(
        cls,
        paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        *,
        process_labels: Mapping[str, int] | None,
        features: str | Sequence[str] = "full",
        objects: Mapping[str, int] | None = None,
        class_names: Sequence[str] | None = None,
        luminosity: float = 1.0,
        unit: str = "MeV",
        max_events: int | None = None,
        missing: str = "keep",
        require: Sequence[str] = (),
    ) -> Dataset:
        """Events of DarkMachines challenge CSV files (Aarrestad et al., arXiv:2105.14027).

        Parameters
        ----------
        paths : path or sequence of paths
            Files in the challenge format (one event a line: ``event ID;process ID;event weight;
            MET;METphi;type,E,pT,eta,phi;...``, energies in ``unit``), read by
            :func:`hepsift.io.read_darkmachines`.
        process_labels : mapping process ID -> class label, or None
            E.g. ``{"ttbar": 0, "wjets": 0, "glgl1400_neutralino1100": 1}``; a process ID that is
            not named raises an error. None: every event has label 0 (background-only input, as
            an anomaly detector's training set).
        features : ``"full"``, ``"sanitised"`` or a list of names
            ``full``: every flat feature of :data:`hepsift.io.FEATURE_NAMES` (computed from the
            objects, GeV); ``sanitised``: those without holes (as :meth:`from_root`). A list picks
            flat fields of the reader (its features, ``MET_pt``, ``MET_phi``, ``nJet``, ...).
        objects : mapping collection -> n, optional
            Adds the n leading objects of ``Jet``, ``Electron``, ``Muon`` or ``Photon`` as flat
            columns ``Jet1_pt, Jet2_pt, ..., Jet1_eta, ...`` (GeV, rad; -999 where absent).
        class_names : names of the labels (default: the process IDs of each label joined by ``+``)
        luminosity : float
            ``weight`` = the event-weight column times ``luminosity`` (1: the column as written).
        unit : {"MeV", "GeV"}
            Energy unit of the files.
        max_events : int, optional
            Events read per file.
        missing, require : as for :meth:`from_root`

        Returns
        -------
        Dataset
            ``process`` holds the process IDs; ``mass`` is None.

        Raises
        ------
        hepsift.DataError, hepsift.MissingBranchError, hepsift.ConfigurationError
        """
        from hepsift.data._darkmachines import darkmachines_columns

        if missing not in MISSING_POLICIES:
            raise ConfigurationError(f"unknown missing-value policy {missing!r}; choose one of {', '.join(MISSING_POLICIES)}")
        if isinstance(features, str) and features not in FEATURE_SETS:
            raise ConfigurationError(f"unknown feature set {features!r}; choose {FEATURE_SETS} or pass a list of names")
        X, y, w, proc, names = darkmachines_columns(
            [paths] if isinstance(paths, (str, os.PathLike)) else list(paths), process_labels=process_labels,
            features=features, objects=objects, unit=unit, max_events=max_events)
        if class_names is None:
            inv: dict[int, list[str]] = {}
            named = process_labels.items() if process_labels is not None else ((q, 0) for q in dict.fromkeys(proc))
            for name, lab in named:
                inv.setdefault(int(lab), []).append(name)
            class_names = ["+".join(inv.get(k, [str(k)])) for k in range(int(y.max()) + 1)]
        ds = cls(X, y, w * luminosity, proc, names, None, list(class_names), float(luminosity))
        if require:
            ds = ds.require(require)
        if features == "sanitised":
            ds = ds.sanitise()
        return ds.apply_missing_policy(missing)
