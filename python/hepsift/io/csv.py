"""Readers for public CSV formats, into the hepsift event schema.

* DarkMachines (Aarrestad et al., SciPost Phys. 12 (2022) 043 [arXiv:2105.14027]): one event a
  line, ``event ID;process ID;event weight;MET;METphi;obj1,E1,pt1,eta1,phi1;...`` with object
  types ``j`` (jet), ``b`` (b-tagged jet), ``e-``/``e+``, ``m-``/``m+``, ``g`` (photon);
  energies in MeV.
* UCI HEPMASS (Baldi et al., Eur. Phys. J. C 76 (2016) 235) and HIGGS (Baldi et al., Nature
  Commun. 5 (2014) 4308): ``label, features..., [mass]`` with the features already
  normalised (no units).
* ATLAS Higgs Machine Learning Challenge 2014 (``EventId, DER_*, PRI_*, Weight, Label``),
  missing values -999.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError
from hepsift.io.features import HEPMASS_FEATURES, HIGGS_FEATURES, MISSING, compute_features

__all__ = ["read_darkmachines", "write_darkmachines", "read_uci", "read_hepmass", "read_higgs", "read_higgsml"]

_DM_OBJECTS = {
    "j": ("Jet", 0, False),
    "b": ("Jet", 0, True),
    "e-": ("Electron", -1, False),
    "e+": ("Electron", +1, False),
    "m-": ("Muon", -1, False),
    "m+": ("Muon", +1, False),
    "g": ("Photon", 0, False),
}
_MASSES = {"Electron": 0.000511, "Muon": 0.10566}


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    return p


def read_darkmachines(
    path: str | os.PathLike[str],
    *,
    unit: str = "MeV",
    max_events: int | None = None,
    features: bool = True,
) -> Any:
    """Read a DarkMachines challenge CSV file.

    Parameters
    ----------
    path
        The ``.csv`` file (``;``-separated fields, ``,``-separated object attributes), or the
        same gzip-compressed (``.csv.gz``, recognised by its content).
    unit
        Energy unit of the file, ``"MeV"`` (the challenge's) or ``"GeV"``; output is in GeV.
    max_events
        Stop after this many events.
    features
        Also compute the flat features of :data:`hepsift.io.FEATURES`.

    Returns
    -------
    awkward.Array
        One record per event with ``event``, ``process`` (the process-ID string),
        ``weight``, ``MET_pt``, ``MET_phi`` and the object branches ``Jet_pt``/``eta``/
        ``phi``/``mass``/``btag``, ``Electron_*`` and ``Muon_*`` (with ``charge``),
        ``Photon_*``, sorted by decreasing p_T.

    Raises
    ------
    DataError
        Empty file, or a malformed line (the message names the file and line number).
    """
    import awkward as ak

    if unit not in ("MeV", "GeV"):
        raise ConfigurationError(f"unit must be 'MeV' or 'GeV', got {unit!r}")
    scale = 1e-3 if unit == "MeV" else 1.0
    p = _check_file(path)
    ids: list[int] = []
    procs: list[str] = []
    weights: list[float] = []
    met: list[float] = []
    metphi: list[float] = []
    colls: dict[str, dict[str, list[Any]]] = {
        name: {"evt": [], "pt": [], "eta": [], "phi": [], "mass": [], "charge": [], "btag": []}
        for name in ("Jet", "Electron", "Muon", "Photon")
    }
    n = 0
    with p.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    if gzipped:
        import gzip

        opened: Any = gzip.open(p, "rt")
    else:
        opened = p.open()
    try:
        with opened as f:
            for lineno, line in enumerate(f, start=1):
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                if max_events is not None and n >= max_events:
                    break
                fields = [x.strip() for x in text.split(";")]
                if fields and fields[-1] == "":
                    fields.pop()
                if len(fields) < 5:
                    raise DataError(f"{p}:{lineno}: expected at least 5 ';'-separated fields "
                                    f"(event ID; process ID; weight; MET; METphi), got {len(fields)}")  # fmt: skip
                try:
                    event_id = int(float(fields[0]))
                    weight = float(fields[2])
                    met_v = float(fields[3]) * scale
                    met_phi = float(fields[4])
                except ValueError as exc:
                    raise DataError(f"{p}:{lineno}: malformed event header {';'.join(fields[:5])!r} ({exc})") from exc
                for k, obj in enumerate(fields[5:], start=1):
                    parts = [x.strip() for x in obj.split(",")]
                    if len(parts) != 5 or parts[0] not in _DM_OBJECTS:
                        raise DataError(
                            f"{p}:{lineno}: object {k} {obj!r} is not 'type,E,pt,eta,phi' with type in "
                            f"{sorted(_DM_OBJECTS)}"
                        )
                    try:
                        e, pt, eta, phi = (float(x) for x in parts[1:])
                    except ValueError as exc:
                        raise DataError(f"{p}:{lineno}: object {k} {obj!r} has a non-numeric value") from exc
                    name, charge, btag = _DM_OBJECTS[parts[0]]
                    e, pt = e * scale, pt * scale
                    m2 = e * e - (pt * np.cosh(eta)) ** 2
                    c = colls[name]
                    c["evt"].append(n)
                    c["pt"].append(pt)
                    c["eta"].append(eta)
                    c["phi"].append(phi)
                    c["mass"].append(_MASSES.get(name, np.sqrt(max(m2, 0.0))) if name != "Photon" else 0.0)
                    c["charge"].append(charge)
                    c["btag"].append(btag)
                ids.append(event_id)
                procs.append(fields[1])
                weights.append(weight)
                met.append(met_v)
                metphi.append(met_phi)
                n += 1
    except (UnicodeDecodeError, OSError, EOFError) as exc:  # binary, or a damaged gzip stream
        raise DataError(f"{p}: not a DarkMachines CSV text file ({type(exc).__name__}: {exc})") from exc
    if n == 0:
        raise DataError(f"{p}: no events (empty file)")
    out: dict[str, Any] = {
        "event": np.asarray(ids, dtype=np.int64),
        "process": ak.Array(procs),
        "weight": np.asarray(weights, dtype=np.float64),
        "MET_pt": np.asarray(met, dtype=np.float32),
        "MET_phi": np.asarray(metphi, dtype=np.float32),
    }
    fields_of = {
        "Jet": ("pt", "eta", "phi", "mass", "btag"),
        "Electron": ("pt", "eta", "phi", "mass", "charge"),
        "Muon": ("pt", "eta", "phi", "mass", "charge"),
        "Photon": ("pt", "eta", "phi"),
    }
    for name, c in colls.items():
        evt = np.asarray(c["evt"], dtype=np.int64)
        pt = np.asarray(c["pt"], dtype=np.float64)
        order = np.lexsort((-pt, evt))
        counts = np.bincount(evt, minlength=n)
        out[f"n{name}"] = counts.astype(np.int32)
        for fld in fields_of[name]:
            dtype = np.bool_ if fld == "btag" else np.int32 if fld == "charge" else np.float32
            values = np.asarray(c[fld], dtype=dtype)[order] if len(evt) else np.zeros(0, dtype=dtype)
            out[f"{name}_{fld}"] = ak.unflatten(values, counts)
    if features:
        out.update(compute_features(out))
    return ak.Array(out)


def _dm_types(coll: str, events: Any, field_names: set[str], n_objects: int) -> np.ndarray:
    """The DarkMachines type of every object of one collection (flattened, in event order)."""
    import awkward as ak

    def flag(field: str) -> np.ndarray:
        return np.asarray(ak.to_numpy(ak.flatten(events[field])))

    if coll == "Jet":
        btag = flag("Jet_btag").astype(bool) if "Jet_btag" in field_names else np.zeros(n_objects, bool)
        return np.where(btag, "b", "j")
    if coll in ("Electron", "Muon"):
        if f"{coll}_charge" not in field_names:
            raise DataError(f"{coll} objects need {coll}_charge: the DarkMachines types are "
                            f"{'e-/e+' if coll == 'Electron' else 'm-/m+'}")  # fmt: skip
        letter = "e" if coll == "Electron" else "m"
        return np.where(flag(f"{coll}_charge") < 0, f"{letter}-", f"{letter}+")
    return np.full(n_objects, "g")


def write_darkmachines(
    path: str | os.PathLike[str],
    events: Any,
    *,
    process: str = "unknown",
    unit: str = "MeV",
    overwrite: bool = False,
) -> Path:
    """Write events as a DarkMachines challenge CSV file (the inverse of :func:`read_darkmachines`).

    Parameters
    ----------
    path
        Output ``.csv`` file, written atomically (:func:`hepsift._atomic.atomic_output`).
    events
        ``awkward.Array`` (or mapping of arrays) in GeV with ``MET_pt``, ``MET_phi`` and the
        object branches of :func:`read_darkmachines` or of the ROOT files of
        :mod:`hepsift.events`: ``Jet_pt``/``eta``/``phi``/``mass``/``btag`` (type ``b`` when
        b-tagged, else ``j``), ``Electron_*`` and ``Muon_*`` with ``charge`` (``e-``/``e+``,
        ``m-``/``m+``), ``Photon_*`` (``g``); a collection that is absent is skipped.
        Optional ``event`` (IDs; default 0, 1, ...), ``weight`` (default 1) and ``process``.
    process
        Process-ID string written for every event when ``events`` has no ``process`` field.
    unit
        Energy unit of the file: ``"MeV"`` (the challenge's) or ``"GeV"``.
    overwrite
        Replace an existing file.

    Returns
    -------
    pathlib.Path of the written file. Each object is ``type,E,pT,eta,phi`` with
    ``E = sqrt((pT cosh eta)^2 + m^2)`` (``m`` from ``{collection}_mass``, else the masses that
    :func:`read_darkmachines` assigns), objects by collection in the input order.
    """
    import awkward as ak

    from hepsift._atomic import atomic_output

    if unit not in ("MeV", "GeV"):
        raise ConfigurationError(f"unit must be 'MeV' or 'GeV', got {unit!r}")
    scale = 1e3 if unit == "MeV" else 1.0
    ev = ak.Array(events) if not isinstance(events, ak.Array) else events
    names = set(ev.fields)
    missing = [f for f in ("MET_pt", "MET_phi") if f not in names]
    if missing:
        raise DataError(f"events lack {', '.join(missing)}; they hold {sorted(names)}")
    n = len(ev)
    ids = np.asarray(ev["event"], dtype=np.int64) if "event" in names else np.arange(n)
    weights = np.asarray(ev["weight"], dtype=np.float64) if "weight" in names else np.ones(n)
    procs = [str(x) for x in ev["process"]] if "process" in names else [process] * n
    if any(";" in q or "," in q for q in procs):
        raise DataError("process IDs must not contain ';' or ','")
    per_event: list[list[str]] = [[] for _ in range(n)]
    for coll in ("Jet", "Electron", "Muon", "Photon"):
        if f"{coll}_pt" not in names:
            continue
        pt = ak.to_numpy(ak.flatten(ev[f"{coll}_pt"])).astype(np.float64)
        eta = ak.to_numpy(ak.flatten(ev[f"{coll}_eta"])).astype(np.float64)
        phi = ak.to_numpy(ak.flatten(ev[f"{coll}_phi"])).astype(np.float64)
        if f"{coll}_mass" in names:
            mass = ak.to_numpy(ak.flatten(ev[f"{coll}_mass"])).astype(np.float64)
        else:
            mass = np.full(len(pt), _MASSES.get(coll, 0.0))
        energy = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)
        letters = _dm_types(coll, ev, names, len(pt))
        counts = ak.to_numpy(ak.num(ev[f"{coll}_pt"]))
        owner = np.repeat(np.arange(n), counts)
        for k in range(len(pt)):
            per_event[owner[k]].append(f"{letters[k]},{energy[k] * scale:.10g},{pt[k] * scale:.10g},"
                                       f"{eta[k]:.10g},{phi[k]:.10g}")  # fmt: skip
    met = np.asarray(ev["MET_pt"], dtype=np.float64) * scale
    metphi = np.asarray(ev["MET_phi"], dtype=np.float64)
    p = Path(path)
    with atomic_output(p, overwrite=overwrite) as tmp, tmp.open("w") as f:
        for i in range(n):
            head = f"{ids[i]};{procs[i]};{weights[i]:.10g};{met[i]:.10g};{metphi[i]:.10g};"
            f.write(head + "".join(o + ";" for o in per_event[i]) + "\n")
    return p


def _load_numeric(p: Path, delimiter: str, skip_header: int, max_rows: int | None) -> np.ndarray:
    """Fast numeric CSV load; on failure, find the first bad line and name it."""
    try:
        data = np.loadtxt(p, delimiter=delimiter, skiprows=skip_header, max_rows=max_rows,
                          dtype=np.float64, ndmin=2)  # fmt: skip
    except ValueError:
        width = None
        with p.open() as f:
            for lineno, line in enumerate(f, start=1):
                if lineno <= skip_header or not line.strip():
                    continue
                cells = line.strip().split(delimiter)
                if width is None:
                    width = len(cells)
                if len(cells) != width:
                    raise DataError(f"{p}:{lineno}: expected {width} columns, got {len(cells)}") from None
                try:
                    [float(c) for c in cells]
                except ValueError:
                    bad = next(c for c in cells if not _is_float(c))
                    raise DataError(f"{p}:{lineno}: non-numeric value {bad.strip()!r}") from None
        raise DataError(f"{p}: could not be parsed as numeric CSV") from None
    if data.size == 0:
        raise DataError(f"{p}: no data rows (empty file)")
    return data


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_uci(
    path: str | os.PathLike[str],
    *,
    layout: str = "auto",
    max_events: int | None = None,
) -> Any:
    """Read a UCI HEPMASS or HIGGS CSV file into flat features.

    Parameters
    ----------
    path
        CSV file (optionally gzip-compressed, as NumPy reads it).
    layout
        ``"hepmass"`` (a header line ``# label, f0, ..., f26[, mass]``; 27 features),
        ``"higgs"`` (no header; label then 28 features) or ``"auto"`` (decided by the header
        and the number of columns).
    max_events
        Read at most this many rows.

    Returns
    -------
    awkward.Array
        Records with ``label`` (int32, 1 = signal), the features under their hepsift names
        (:data:`hepsift.io.features.HEPMASS_FEATURES` or ``HIGGS_FEATURES``; note that the
        UCI values are normalised, not in GeV), ``signal_mass`` (GeV, HEPMASS files with a
        mass column only) and ``weight`` (ones).
    """
    import awkward as ak

    p = _check_file(path)
    opener: Any = open
    if p.suffix == ".gz":
        import gzip

        opener = gzip.open
    with opener(p, "rt") as f:
        first = f.readline()
    if not first.strip():
        raise DataError(f"{p}: empty file")
    has_header = not _is_float(first.split(",")[0])
    ncol = len(first.split(","))
    if layout == "auto":
        layout = "hepmass" if has_header or ncol in (28,) else "higgs" if ncol == 29 else "unknown"
    if layout == "hepmass":
        names = list(HEPMASS_FEATURES)
        expected = (1 + len(names), 2 + len(names))
    elif layout == "higgs":
        names = list(HIGGS_FEATURES)
        expected = (1 + len(names),)
    else:
        raise ConfigurationError(
            f"{p}: cannot tell the layout from {ncol} columns; pass layout='hepmass' or 'higgs'"
        )
    if ncol not in expected:
        raise DataError(f"{p}:1: the {layout} layout has {' or '.join(map(str, expected))} columns, got {ncol}")
    data = _load_numeric(p, ",", 1 if has_header else 0, max_events)
    out: dict[str, Any] = {"label": data[:, 0].astype(np.int32)}
    for i, name in enumerate(names):
        out[name] = data[:, 1 + i].astype(np.float32)
    if data.shape[1] == len(names) + 2:
        out["signal_mass"] = data[:, -1].astype(np.float32)
    out["weight"] = np.ones(len(data))
    return ak.Array(out)


def read_hepmass(path: str | os.PathLike[str], *, max_events: int | None = None) -> Any:
    """Read a UCI HEPMASS CSV file (see :func:`read_uci`)."""
    return read_uci(path, layout="hepmass", max_events=max_events)


def read_higgs(path: str | os.PathLike[str], *, max_events: int | None = None) -> Any:
    """Read a UCI HIGGS CSV file (see :func:`read_uci`)."""
    return read_uci(path, layout="higgs", max_events=max_events)


#: ATLAS HiggsML primary columns -> hepsift names (the rest keep their own names).
HIGGSML_RENAME = {
    "PRI_lep_pt": "lep_pt",
    "PRI_lep_eta": "lep_eta",
    "PRI_lep_phi": "lep_phi",
    "PRI_met": "met_pt",
    "PRI_met_phi": "met_phi",
    "PRI_met_sumet": "met_sumet",
    "PRI_jet_num": "n_jets",
    "PRI_jet_leading_pt": "jet1_pt",
    "PRI_jet_leading_eta": "jet1_eta",
    "PRI_jet_leading_phi": "jet1_phi",
    "PRI_jet_subleading_pt": "jet2_pt",
    "PRI_jet_subleading_eta": "jet2_eta",
    "PRI_jet_subleading_phi": "jet2_phi",
    "PRI_jet_all_pt": "ht",
    "Weight": "weight",
    "EventId": "event",
}


def read_higgsml(path: str | os.PathLike[str], *, max_events: int | None = None) -> Any:
    """Read an ATLAS Higgs Machine Learning Challenge 2014 CSV file (H -> tau tau).

    Parameters
    ----------
    path
        CSV with a header: ``EventId``, ``DER_*``, ``PRI_*``, ``Weight``, ``Label`` (``s``/``b``)
        and optionally ``KaggleSet``, ``KaggleWeight``.
    max_events
        Read at most this many rows.

    Returns
    -------
    awkward.Array
        Records with ``label`` (1 for ``s``), ``weight``, the primary columns renamed to
        hepsift names where one exists (:data:`HIGGSML_RENAME`: ``lep_pt``, ``met_pt``,
        ``n_jets``, ``jet1_pt``, ``ht``, ...), the other numeric columns under their own names
        (float32; ``-999`` = :data:`hepsift.io.MISSING` kept as is).
    """
    import awkward as ak

    p = _check_file(path)
    with p.open() as f:
        header = f.readline().strip().split(",")
        if header == [""]:
            raise DataError(f"{p}: empty file")
        if "Label" not in header:
            raise DataError(f"{p}:1: no 'Label' column; is this an ATLAS HiggsML file? columns: {header[:5]}...")
        columns: list[list[str]] = [[] for _ in header]
        for lineno, line in enumerate(f, start=2):
            if max_events is not None and lineno - 1 > max_events:
                break
            if not line.strip():
                continue
            cells = line.strip().split(",")
            if len(cells) != len(header):
                raise DataError(f"{p}:{lineno}: expected {len(header)} columns, got {len(cells)}")
            for col, cell in zip(columns, cells, strict=True):
                col.append(cell)
    if not columns[0]:
        raise DataError(f"{p}: no events (header only)")
    out: dict[str, Any] = {}
    for name, col in zip(header, columns, strict=True):
        if name == "Label":
            bad = sorted(set(col) - {"s", "b"})
            if bad:
                line_no = col.index(bad[0]) + 2
                raise DataError(f"{p}:{line_no}: Label must be 's' or 'b', got {bad[0]!r}")
            out["label"] = np.array([c == "s" for c in col], dtype=np.int32)
            continue
        if name == "KaggleSet":
            out["kaggle_set"] = ak.Array(col)
            continue
        try:
            values = np.array(col, dtype=np.float64)
        except ValueError:
            line_no = next(i for i, c in enumerate(col) if not _is_float(c)) + 2
            raise DataError(f"{p}:{line_no}: column {name!r} has a non-numeric value") from None
        new = HIGGSML_RENAME.get(name, name)
        if new == "event":
            out[new] = values.astype(np.int64)
        elif new == "weight":
            out[new] = values
        else:
            out[new] = np.where(values == MISSING, MISSING, values).astype(np.float32)
    return ak.Array(out)
