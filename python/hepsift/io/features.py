"""The event schema and the high-level flat features, defined once.

Every reader in :mod:`hepsift.io` and the generator in :mod:`hepsift.events` produce events
with the same names:

* **Object branches** (NanoAOD-like, jagged, sorted by decreasing p_T): ``nJet``,
  ``Jet_pt``/``Jet_eta``/``Jet_phi``/``Jet_mass`` (GeV), ``Jet_btag`` (bool),
  ``Jet_hadronFlavour`` (5 b, 4 c, 0 light; simulated samples only); ``FatJet_*`` (anti-kT
  R = 1.0); ``Electron_*`` and ``Muon_*`` (``pt``, ``eta``, ``phi``, ``mass``, ``charge``,
  ``relIso``); ``Photon_*`` (``pt``, ``eta``, ``phi``, ``relIso``); ``MET_pt``, ``MET_phi``,
  ``MET_sumEt`` (GeV).
* **Event branches**: ``weight`` (pb per event: cross-section / generated events, so that
  ``sum(weight) * L`` with L in pb^-1 is the expected count), ``process_id`` (see
  :data:`hepsift.events.PROCESSES`), ``signal_mass`` (GeV, 0 for backgrounds), ``event``,
  and generator information ``gen_mhat``, ``gen_pthat`` (GeV), ``gen_weight``, ``gen_slice``.
  The process name is stored once per file (TObjString ``process`` and the provenance
  record) rather than per event, so that RDataFrame reads every branch as a number; the
  DarkMachines reader returns its process-ID strings as a field ``process``.
* **Flat features** (:data:`FEATURES`), computed from the objects by :func:`compute_features`.
  Where an object a feature needs is absent the value is :data:`MISSING` (-999, the ATLAS
  HiggsML convention), never NaN.

The flat set contains the HEPMASS/HIGGS features of Baldi et al., "Parameterized neural
networks for high-energy physics", Eur. Phys. J. C 76 (2016) 235 [arXiv:1601.07913] and
"Searching for exotic particles in high-energy physics with deep learning", Nature Commun.
5 (2014) 4308 [arXiv:1402.4735]: the lepton, missing E_T and four leading jets, and the masses
of the semileptonic t tbar (or W W b b) hypothesis:

* the hadronic-W jets are the two of the four leading jets left after taking the two with the
  highest (b-tag, p_T) as b candidates (no W-mass constraint, so ``m_jj`` is an honest
  measurement of the W peak);
* the neutrino p_z solves m(l nu) = m_W = 80.4 GeV (the smaller |p_z| root, or the real part
  when the roots are complex);
* the two b candidates are assigned to the hadronic and leptonic top by minimising
  (m_jjj - m_t)^2 + (m_jlnu - m_t)^2 with m_t = 172.5 GeV.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hepsift._missing import MISSING

__all__ = ["FEATURES", "FEATURE_NAMES", "HEPMASS_FEATURES", "HIGGS_FEATURES", "MISSING", "compute_features"]

_W_MASS = 80.4  # GeV, PDG
_TOP_MASS = 172.5  # GeV, the Pythia 8 default m_t

#: Name -> description (with unit) of every flat feature, in the order they are written.
FEATURES: dict[str, str] = {
    "lep_pt": "p_T of the leading lepton (electron or muon) [GeV]",
    "lep_eta": "pseudorapidity of the leading lepton",
    "lep_phi": "azimuth of the leading lepton [rad]",
    "met_pt": "missing transverse momentum magnitude [GeV]",
    "met_phi": "missing transverse momentum azimuth [rad]",
    "n_jets": "number of anti-kT R=0.4 jets",
    "jet1_pt": "p_T of the leading jet [GeV]",
    "jet1_eta": "pseudorapidity of the leading jet",
    "jet1_phi": "azimuth of the leading jet [rad]",
    "jet1_btag": "b-tag of the leading jet (0 or 1)",
    "jet2_pt": "p_T of the second jet [GeV]",
    "jet2_eta": "pseudorapidity of the second jet",
    "jet2_phi": "azimuth of the second jet [rad]",
    "jet2_btag": "b-tag of the second jet (0 or 1)",
    "jet3_pt": "p_T of the third jet [GeV]",
    "jet3_eta": "pseudorapidity of the third jet",
    "jet3_phi": "azimuth of the third jet [rad]",
    "jet3_btag": "b-tag of the third jet (0 or 1)",
    "jet4_pt": "p_T of the fourth jet [GeV]",
    "jet4_eta": "pseudorapidity of the fourth jet",
    "jet4_phi": "azimuth of the fourth jet [rad]",
    "jet4_btag": "b-tag of the fourth jet (0 or 1)",
    "m_jj": "mass of the hadronic-W jet pair [GeV]",
    "m_jjj": "mass of the hadronic top (W jets + b) [GeV]",
    "m_lnu": "mass of lepton + neutrino (m_W when the p_z solution is real) [GeV]",
    "m_jlnu": "mass of the leptonic top (lepton + neutrino + b) [GeV]",
    "m_bb": "mass of the two b candidates [GeV]",
    "m_wbb": "mass of the hadronic W jets and both b candidates [GeV]",
    "m_wwbb": "mass of the whole t tbar system (4 jets + lepton + neutrino) [GeV]",
    "mt_lnu": "transverse mass of leading lepton and missing p_T [GeV]",
    "m_ll": "mass of the two leading leptons [GeV]",
    "ht": "scalar sum of jet p_T [GeV]",
    "n_bjets": "number of b-tagged jets",
    "n_leptons": "number of electrons and muons",
    "n_photons": "number of photons",
    "n_fatjets": "number of anti-kT R=1.0 jets",
    "fatjet1_pt": "p_T of the leading large-R jet [GeV]",
    "fatjet1_mass": "mass of the leading large-R jet [GeV]",
}

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)

#: The UCI HEPMASS feature order (22 low-level then 5 high-level), in hepsift names.
HEPMASS_FEATURES: tuple[str, ...] = (
    "lep_pt", "lep_eta", "lep_phi", "met_pt", "met_phi", "n_jets",
    *(f"jet{i}_{v}" for i in range(1, 5) for v in ("pt", "eta", "phi", "btag")),
    "m_jj", "m_jjj", "m_lnu", "m_jlnu", "m_wwbb",
)  # fmt: skip

#: The UCI HIGGS feature order (21 low-level then 7 high-level), in hepsift names.
HIGGS_FEATURES: tuple[str, ...] = (
    "lep_pt", "lep_eta", "lep_phi", "met_pt", "met_phi",
    *(f"jet{i}_{v}" for i in range(1, 5) for v in ("pt", "eta", "phi", "btag")),
    "m_jj", "m_jjj", "m_lnu", "m_jlnu", "m_bb", "m_wbb", "m_wwbb",
)  # fmt: skip


def _get(events: Any, name: str) -> Any:
    import awkward as ak

    try:
        return events[name]
    except (KeyError, ValueError, ak.errors.FieldNotFoundError):
        return None


def _padded(arr: Any, n: int, fill: float = np.nan) -> np.ndarray:
    """Jagged (n_events, var) -> dense float64 (n_events, n), padded with ``fill``."""
    import awkward as ak

    arr = ak.values_astype(arr, np.float64)
    return ak.to_numpy(ak.fill_none(ak.pad_none(arr, n, axis=1, clip=True), fill))


def _cartesian(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(pt, eta, phi, m) -> stacked (..., 4) array of (px, py, pz, E)."""
    px = pt * np.cos(phi)
    py = pt * np.sin(phi)
    pz = pt * np.sinh(eta)
    e = np.sqrt(np.maximum(px**2 + py**2 + pz**2 + m**2, 0.0))
    return np.stack([px, py, pz, e], axis=-1)


def _mass(p: np.ndarray) -> np.ndarray:
    m2 = p[..., 3] ** 2 - p[..., 0] ** 2 - p[..., 1] ** 2 - p[..., 2] ** 2
    return np.sqrt(np.maximum(m2, 0.0))


def _neutrino(lep: np.ndarray, met_pt: np.ndarray, met_phi: np.ndarray) -> np.ndarray:
    """Neutrino four-momentum (n, 4) from the W-mass constraint on lepton + missing p_T."""
    nx, ny = met_pt * np.cos(met_phi), met_pt * np.sin(met_phi)
    lx, ly, lz, le = lep[:, 0], lep[:, 1], lep[:, 2], lep[:, 3]
    lpt2 = lx**2 + ly**2
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = 0.5 * _W_MASS**2 + lx * nx + ly * ny
        a = mu * lz / lpt2
        disc = a**2 - (le**2 * met_pt**2 - mu**2) / lpt2
        root = np.sqrt(np.maximum(disc, 0.0))
        nz = np.where(np.abs(a - root) < np.abs(a + root), a - root, a + root)
        nz = np.where(disc >= 0, nz, a)
    ne = np.sqrt(nx**2 + ny**2 + nz**2)
    return np.stack([nx, ny, nz, ne], axis=-1)


def compute_features(events: Mapping[str, Any] | Any) -> dict[str, np.ndarray]:
    """Compute the flat features of :data:`FEATURES` from object branches.

    Parameters
    ----------
    events
        An ``awkward.Array`` (or mapping of name -> array) with the object branches of the
        hepsift schema: ``Jet_pt``, ``Jet_eta``, ``Jet_phi``, ``Jet_mass`` (GeV), ``Jet_btag``,
        ``Electron_pt/eta/phi/mass``, ``Muon_pt/eta/phi/mass``, ``MET_pt``, ``MET_phi`` and
        optionally ``Photon_pt``, ``FatJet_pt``, ``FatJet_mass``. Collections missing from the
        input are treated as empty.

    Returns
    -------
    dict[str, numpy.ndarray]
        One float32 array of shape ``(n_events,)`` per name in :data:`FEATURES`, in that order;
        absent objects give :data:`MISSING`.
    """
    import awkward as ak

    met_pt = _get(events, "MET_pt")
    if met_pt is None:
        raise KeyError("MET_pt")
    met_pt = ak.to_numpy(met_pt).astype(np.float64)
    met_phi = ak.to_numpy(_get(events, "MET_phi")).astype(np.float64)
    n = len(met_pt)
    empty = ak.unflatten(np.zeros(0), np.zeros(n, dtype=np.int64))

    def coll(prefix: str, fields: tuple[str, ...]) -> dict[str, Any]:
        out = {}
        for f in fields:
            arr = _get(events, f"{prefix}_{f}")
            out[f] = empty if arr is None else arr
        return out

    jets = coll("Jet", ("pt", "eta", "phi", "mass", "btag"))
    # leptons: electrons and muons together, by decreasing pT
    ele = coll("Electron", ("pt", "eta", "phi", "mass"))
    muo = coll("Muon", ("pt", "eta", "phi", "mass"))
    lep = {k: ak.concatenate([ak.values_astype(ele[k], np.float64), ak.values_astype(muo[k], np.float64)], axis=1)
           for k in ele}  # fmt: skip
    order = ak.argsort(lep["pt"], axis=1, ascending=False)
    lep = {k: v[order] for k, v in lep.items()}
    jorder = ak.argsort(jets["pt"], axis=1, ascending=False)
    jets = {k: v[jorder] for k, v in jets.items()}

    out: dict[str, np.ndarray] = {}
    L = {k: _padded(v, 2) for k, v in lep.items()}
    out["lep_pt"], out["lep_eta"], out["lep_phi"] = L["pt"][:, 0], L["eta"][:, 0], L["phi"][:, 0]
    out["met_pt"], out["met_phi"] = met_pt, met_phi
    n_jets = ak.to_numpy(ak.num(jets["pt"], axis=1)).astype(np.float64)
    out["n_jets"] = n_jets
    J = {k: _padded(v, 4) for k, v in jets.items()}
    for i in range(4):
        for v, k in (("pt", "pt"), ("eta", "eta"), ("phi", "phi"), ("btag", "btag")):
            out[f"jet{i + 1}_{v}"] = J[k][:, i]

    # --- t tbar -> l nu b j j b reconstruction on the four leading jets ------------------
    p4j = _cartesian(J["pt"], J["eta"], J["phi"], np.nan_to_num(J["mass"]))  # (n, 4, 4)
    key = np.nan_to_num(J["btag"], nan=-1.0) * 1e7 + np.nan_to_num(J["pt"], nan=-1.0)
    rank = np.argsort(-key, axis=1, kind="stable")  # b candidates first
    p4s = np.take_along_axis(p4j, rank[:, :, None], axis=1)
    b1, b2, w1, w2 = p4s[:, 0], p4s[:, 1], p4s[:, 2], p4s[:, 3]
    has4 = n_jets >= 4
    lep4 = _cartesian(L["pt"][:, 0], L["eta"][:, 0], L["phi"][:, 0], np.nan_to_num(L["mass"][:, 0]))
    has_lep = np.isfinite(L["pt"][:, 0])
    nu = _neutrino(np.nan_to_num(lep4), met_pt, met_phi)
    wl = lep4 + nu
    wh = w1 + w2
    m_jjj_a, m_jlnu_a = _mass(wh + b1), _mass(wl + b2)
    m_jjj_b, m_jlnu_b = _mass(wh + b2), _mass(wl + b1)
    chi_a = (m_jjj_a - _TOP_MASS) ** 2 + (m_jlnu_a - _TOP_MASS) ** 2
    chi_b = (m_jjj_b - _TOP_MASS) ** 2 + (m_jlnu_b - _TOP_MASS) ** 2
    use_a = np.where(has_lep, chi_a <= chi_b, True)
    nan = np.full(n, np.nan)
    out["m_jj"] = np.where(has4, _mass(wh), nan)
    out["m_jjj"] = np.where(has4, np.where(use_a, m_jjj_a, m_jjj_b), nan)
    out["m_lnu"] = np.where(has_lep, _mass(wl), nan)
    out["m_jlnu"] = np.where(has4 & has_lep, np.where(use_a, m_jlnu_a, m_jlnu_b), nan)
    out["m_bb"] = np.where(has4, _mass(b1 + b2), nan)
    out["m_wbb"] = np.where(has4, _mass(wh + b1 + b2), nan)
    out["m_wwbb"] = np.where(has4 & has_lep, _mass(wh + wl + b1 + b2), nan)
    dphi = L["phi"][:, 0] - met_phi
    out["mt_lnu"] = np.sqrt(np.maximum(2 * L["pt"][:, 0] * met_pt * (1 - np.cos(dphi)), 0.0))
    l1 = lep4
    l2 = _cartesian(L["pt"][:, 1], L["eta"][:, 1], L["phi"][:, 1], np.nan_to_num(L["mass"][:, 1]))
    out["m_ll"] = np.where(np.isfinite(L["pt"][:, 1]), _mass(l1 + l2), nan)

    out["ht"] = ak.to_numpy(ak.sum(jets["pt"], axis=1)).astype(np.float64)
    out["n_bjets"] = ak.to_numpy(ak.sum(ak.values_astype(jets["btag"], np.int64), axis=1)).astype(np.float64)
    out["n_leptons"] = ak.to_numpy(ak.num(lep["pt"], axis=1)).astype(np.float64)
    photons = _get(events, "Photon_pt")
    out["n_photons"] = np.zeros(n) if photons is None else ak.to_numpy(ak.num(photons, axis=1)).astype(np.float64)
    fj = coll("FatJet", ("pt", "mass"))
    forder = ak.argsort(fj["pt"], axis=1, ascending=False)
    out["n_fatjets"] = ak.to_numpy(ak.num(fj["pt"], axis=1)).astype(np.float64)
    out["fatjet1_pt"] = _padded(fj["pt"][forder], 1)[:, 0]
    out["fatjet1_mass"] = _padded(fj["mass"][forder], 1)[:, 0]

    result = {}
    for name in FEATURES:
        v = np.asarray(out[name], dtype=np.float64)
        result[name] = np.where(np.isfinite(v), v, MISSING).astype(np.float32)
    return result
