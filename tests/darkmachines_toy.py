"""Toy DarkMachines-like events with known multiplicity distributions (for the tests).

Per event: untagged jets ~ Poisson(JET_MEAN), b-tagged jets ~ Binomial(2, B_PROB), one electron
with probability ELECTRON_PROB, one muon with probability MUON_PROB, no photons; p_T = threshold
+ exponential, |eta| < 2.5, uniform phi; missing E_T = 20 GeV + exponential. Energies in GeV
(the records of ``hepsift.io.read_darkmachines``); ``write_toy`` writes them in MeV.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np

JET_MEAN = 2.5
B_PROB = 0.3
ELECTRON_PROB = 0.12
MUON_PROB = 0.08


def _objects(rng: np.random.Generator, counts: np.ndarray, pt0: float, slope: float) -> dict[str, ak.Array]:
    total = int(counts.sum())
    pt = pt0 + rng.exponential(slope, total)
    out = {
        "pt": pt,
        "eta": np.clip(rng.normal(0.0, 1.2, total), -2.5, 2.5),
        "phi": rng.uniform(-np.pi, np.pi, total),
    }
    # decreasing p_T inside each event, as read_darkmachines returns them
    owner = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((-pt, owner))
    return {k: ak.unflatten(v[order].astype(np.float32), counts) for k, v in out.items()}


def toy_events(n: int, seed: int) -> ak.Array:
    """``n`` toy events (GeV) in the schema of :func:`hepsift.io.read_darkmachines`."""
    rng = np.random.default_rng(seed)
    n_light = rng.poisson(JET_MEAN, n)
    n_b = rng.binomial(2, B_PROB, n)
    n_jet = n_light + n_b
    jets = _objects(rng, n_jet, 25.0, 40.0)
    jet_mass = ak.unflatten((4.0 + rng.exponential(8.0, int(n_jet.sum()))).astype(np.float32), n_jet)
    # the b-tag flags of each event's jets: n_b of them, at random positions
    flags = np.concatenate([rng.permutation(np.r_[np.ones(b, bool), np.zeros(k - b, bool)])
                            for k, b in zip(n_jet, n_b)]) if n else np.zeros(0, bool)  # fmt: skip
    out: dict[str, object] = {
        "event": np.arange(n), "process": ["toy"] * n, "weight": np.ones(n),
        "MET_pt": (20.0 + rng.exponential(35.0, n)).astype(np.float32),
        "MET_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "Jet_pt": jets["pt"], "Jet_eta": jets["eta"], "Jet_phi": jets["phi"], "Jet_mass": jet_mass,
        "Jet_btag": ak.unflatten(flags, n_jet),
    }  # fmt: skip
    for coll, prob, pt0 in (("Electron", ELECTRON_PROB, 15.0), ("Muon", MUON_PROB, 12.0)):
        k = (rng.random(n) < prob).astype(np.int64)
        objs = _objects(rng, k, pt0, 30.0)
        for f, v in objs.items():
            out[f"{coll}_{f}"] = v
        out[f"{coll}_charge"] = ak.unflatten(rng.choice([-1, 1], int(k.sum())).astype(np.int32), k)
    return ak.Array(out)


def write_toy(path: Path, n: int, seed: int) -> Path:
    """Write :func:`toy_events` as a DarkMachines CSV file (MeV)."""
    from hepsift.io import write_darkmachines

    return write_darkmachines(path, toy_events(n, seed), process="toy")
