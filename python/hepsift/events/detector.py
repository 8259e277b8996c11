"""A small parametric detector model: generator particles -> reconstructed objects.

Every number is a field of :class:`DetectorConfig` with a typical value from the ATLAS or
CMS performance papers cited next to it. The model is deliberately simple (no pile-up, no
material, no fakes from hadrons, no tau identification); it stands in for Delphes in the
MadGraph -> Pythia -> Delphes chain.

Steps, applied to the stable particles of each event:

1. **Visible particles**: stable, not neutrinos (nor other invisible BSM states), inside the
   calorimeter |eta| < ``calo_eta_max``; muons count as visible only inside their own
   acceptance.
2. **Electrons, muons, photons**: generator particles above a threshold, kept with an
   efficiency; energy (electrons, photons) or p_T (muons) smeared with a Gaussian
   resolution; isolated when the p_T sum of the other visible particles (p_T >
   ``isolation_particle_pt_min``) in a cone of ``iso_cone`` is below ``iso_max`` times their
   own p_T (``relIso``).
3. **Jets**: anti-kT (fastjet) on the visible particles except muons and the reconstructed
   isolated electrons and photons; p_T smeared with the jet energy resolution
   sigma/p_T = N/p_T (+) S/sqrt(p_T) (+) C; large-R jets (R = 1.0) get the same p_T
   smearing plus a relative mass resolution.
4. **b-tagging**: a jet's flavour is 5 if a b hadron with p_T > ``hadron_pt_min`` lies within
   ``match_dr`` of its axis, else 4 for a c hadron, else 0 (the ATLAS labelling); a jet in
   the tracker is tagged with probability ``eff_b``, ``eff_c`` or ``eff_light``.
5. **Missing E_T**: minus the vector sum of the visible particles, corrected for the smearing
   of the reconstructed objects, plus a Gaussian soft-term resolution
   sigma(E_x,y) = ``soft_resolution`` * sqrt(sum E_T of the unclustered particles).
6. **Large-R jet labels** (``FatJet_truth``, from the generator record; see
   :func:`_fatjet_truth`): 1 top (t -> b q q' all within R of the axis), 2 W, 3 Z (both
   decay quarks within R), 4 quark, 5 gluon (an outgoing parton of the hard scattering within
   R), 0 none; ``FatJet_nConstituents`` counts the particles fastjet clustered into the jet;
   ``FatJet_tau1``, ``_tau2``, ``_tau3``: N-subjettiness (beta = 1, R0 = R, winner-take-all
   exclusive-kT axes) of those particles (:func:`nsubjettiness`; generator momenta).
7. **Constituents** (``constituents=True``): every visible particle of step 1 as ``PFCand_pt``,
   ``_eta``, ``_phi`` (generator values: the model has no per-particle response; jets carry
   the resolution), ``_charge`` and ``_type`` (1 charged hadron, 2 neutral hadron, 3 photon,
   4 electron, 5 muon, from the PDG id and charge), and ``_jetIdx`` / ``_fatJetIdx``: the
   index of the stored ``Jet`` / ``FatJet`` the particle was clustered into (-1: none, e.g.
   muons, isolated electrons and photons, particles of jets below threshold). The vector sum
   of a jet's constituents is the jet before its p_T smearing. Sorted by decreasing p_T.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift._estimator import Config
from hepsift.errors import ConfigurationError
from hepsift.images import PARTICLE_TYPES

__all__ = [
    "DetectorConfig",
    "ElectronConfig",
    "MuonConfig",
    "PhotonConfig",
    "JetConfig",
    "FatJetConfig",
    "BTagConfig",
    "MetConfig",
    "nsubjettiness",
    "simulate",
]

#: PDG ids that leave no signal: neutrinos, the lightest neutralino, gravitino, dark-matter ids.
INVISIBLE_IDS: tuple[int, ...] = (12, 14, 16, 1000012, 1000014, 1000016, 1000022, 1000039, 51, 52, 53)


@dataclass
class ElectronConfig:
    """Electron reconstruction.

    ``efficiency`` ~0.85: reconstruction x "Medium" identification at E_T ~ 40 GeV, ATLAS
    Eur. Phys. J. C 79 (2019) 639 [arXiv:1902.04655]. Energy resolution sigma/E =
    ``stochastic``/sqrt(E) (+) ``constant`` = 10%/sqrt(E [GeV]) (+) 0.7%, ATLAS LAr
    calorimeter, JINST 3 (2008) S08003. Acceptance |eta| < 2.47 (ATLAS). Isolation: relative
    particle-flow isolation in a cone of 0.3 below 0.15, CMS JINST 12 (2017) P10003
    [arXiv:1706.04965].
    """

    pt_min: float = 10.0  # GeV
    eta_max: float = 2.47
    efficiency: float = 0.85
    stochastic: float = 0.10  # sqrt(GeV)
    constant: float = 0.007
    iso_cone: float = 0.3
    iso_max: float = 0.15


@dataclass
class MuonConfig:
    """Muon reconstruction.

    ``efficiency`` ~0.95: ATLAS "Medium" muons, Eur. Phys. J. C 81 (2021) 578
    [arXiv:2012.00578]. p_T resolution sigma/p_T = ``constant`` (+) ``linear`` * p_T =
    1.5% (+) 1e-4/GeV * p_T (about 2% at 100 GeV and 10% at 1 TeV, the ATLAS combined
    muon performance, JINST 3 (2008) S08003). Acceptance |eta| < 2.5. Isolation as for
    electrons.
    """

    pt_min: float = 10.0  # GeV
    eta_max: float = 2.5
    efficiency: float = 0.95
    constant: float = 0.015
    linear: float = 1.0e-4  # 1/GeV
    iso_cone: float = 0.3
    iso_max: float = 0.15


@dataclass
class PhotonConfig(ElectronConfig):
    """Photon reconstruction: the electron's fields (the same calorimeter), other defaults.

    ``efficiency`` ~0.85: ATLAS "Tight" identification for E_T > 40 GeV, JINST 14 (2019)
    P12006 [arXiv:1908.00005]; energy resolution and isolation as for electrons; acceptance
    |eta| < 2.37.
    """

    pt_min: float = 15.0  # GeV
    eta_max: float = 2.37


@dataclass
class JetConfig:
    """Small-radius jets: anti-kT R = 0.4 (Cacciari, Salam, Soyez, JHEP 04 (2008) 063).

    Jet energy resolution sigma/p_T = ``noise``/p_T (+) ``stochastic``/sqrt(p_T) (+)
    ``constant`` with N = 3 GeV, S = 0.75 sqrt(GeV), C = 0.03: ATLAS Eur. Phys. J. C 81
    (2021) 689 [arXiv:2007.02645] (N without pile-up). Kept above p_T > 25 GeV within
    |eta| < 4.5 (ATLAS).
    """

    radius: float = 0.4
    pt_min: float = 25.0  # GeV, after smearing
    eta_max: float = 4.5
    noise: float = 3.0  # GeV
    stochastic: float = 0.75  # sqrt(GeV)
    constant: float = 0.03
    cluster_pt_min: float = 15.0  # GeV, truth-jet threshold before smearing


@dataclass
class FatJetConfig:
    """Large-radius jets: anti-kT R = 1.0, p_T > 200 GeV, |eta| < 2.0.

    p_T smeared with the small-jet resolution; relative mass resolution ``mass_resolution``
    = 10%, ATLAS boosted W/top jets, Eur. Phys. J. C 79 (2019) 135 [arXiv:1807.09477].
    """

    radius: float = 1.0
    pt_min: float = 200.0  # GeV
    eta_max: float = 2.0
    mass_resolution: float = 0.10


@dataclass
class BTagConfig:
    """b-tagging by b-hadron matching.

    Efficiencies of the ATLAS DL1r 70% working point: b 0.70, c 0.10 (rejection ~10), light
    0.003 (rejection ~300), Eur. Phys. J. C 83 (2023) 681 [arXiv:2211.16345]; labelling by
    b/c hadrons with p_T > 5 GeV within Delta R < 0.3 of the jet axis (same reference);
    tracker acceptance |eta| < 2.5.
    """

    eff_b: float = 0.70
    eff_c: float = 0.10
    eff_light: float = 0.003
    eta_max: float = 2.5
    match_dr: float = 0.3
    hadron_pt_min: float = 5.0  # GeV


@dataclass
class MetConfig:
    """Missing transverse momentum.

    Soft-term resolution sigma(E_x,y) = 0.5 sqrt(GeV) * sqrt(sum E_T [GeV]) of the particles
    in no reconstructed object: the classic calorimeter scaling of ATLAS E_T^miss
    performance, Eur. Phys. J. C 78 (2018) 903 [arXiv:1802.08168] (0.5-0.7).
    """

    soft_resolution: float = 0.5  # sqrt(GeV)


@dataclass
class DetectorConfig(Config):
    """All the numbers of the detector model (see the module docstring for the steps).

    ``calo_eta_max`` = 4.9: ATLAS calorimeter coverage, JINST 3 (2008) S08003;
    ``isolation_particle_pt_min`` = 0.5 GeV: the ATLAS track threshold.

    Examples
    --------
    >>> cfg = DetectorConfig()
    >>> DetectorConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    calo_eta_max: float = 4.9
    isolation_particle_pt_min: float = 0.5  # GeV
    electron: ElectronConfig = field(default_factory=ElectronConfig)
    muon: MuonConfig = field(default_factory=MuonConfig)
    photon: PhotonConfig = field(default_factory=PhotonConfig)
    jet: JetConfig = field(default_factory=JetConfig)
    fatjet: FatJetConfig = field(default_factory=FatJetConfig)
    btag: BTagConfig = field(default_factory=BTagConfig)
    met: MetConfig = field(default_factory=MetConfig)


# ---------------------------------------------------------------------------------------
# implementation: flat NumPy arrays over all particles of a batch, with an event index
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (the fastjet banner printed on first use)."""
    import sys

    fd = 1  # C++ std::cout writes to file descriptor 1 whatever sys.stdout is
    try:
        sys.stdout.flush()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


_FASTJET_BANNER_SHOWN = False


@contextlib.contextmanager
def _fastjet_quiet() -> Iterator[None]:
    """Around fastjet calls: the banner silenced on first use (shown once per process)."""
    global _FASTJET_BANNER_SHOWN
    with contextlib.nullcontext() if _FASTJET_BANNER_SHOWN else _quiet_stdout():
        yield
    _FASTJET_BANNER_SHOWN = True


def _cluster_sequence(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray, counts: np.ndarray, jetdef: Any
) -> Any:
    """One fastjet ``ClusterSequence`` per list of ``counts`` consecutive particles (GeV)."""
    import awkward as ak
    import fastjet

    vec = ak.zip(
        {k: ak.unflatten(v, counts) for k, v in (("px", px), ("py", py), ("pz", pz), ("E", e))},
        with_name="Momentum4D",
    )
    return fastjet.ClusterSequence(vec, jetdef)


#: R of the kT clustering that gives the N-subjettiness axes: large enough that no particle
#: merges with the beam before the last N subjets (fastjet's ``JetDefinition::max_allowable_R``,
#: as fjcontrib's ``KT_Axes`` and ``WTA_KT_Axes`` use).
_KT_AXES_R = 1000.0


def _rapidity(pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.arctanh(np.clip(pz / np.maximum(e, 1e-300), -1.0 + 1e-16, 1.0 - 1e-16))


def nsubjettiness(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray, counts: np.ndarray, radius: float,
    n: tuple[int, ...] = (1, 2, 3), axes: str = "wta_kt",
) -> np.ndarray:  # fmt: skip
    """N-subjettiness of jets given by their constituents, beta = 1, exclusive-kT axes.

    Thaler and Van Tilburg, JHEP 03 (2011) 015 [arXiv:1011.2268], eq. (2)-(3), and JHEP 02
    (2012) 093 [arXiv:1108.2701]::

        tau_N = (1 / d0) sum_k pT_k min_j Delta R_jk ,      d0 = R0 sum_k pT_k

    over the constituents k of the jet, with Delta R in (rapidity, azimuth) from constituent k
    to axis j (j = 1..N) and R0 = ``radius``. The axes are the N exclusive kT subjets of the
    jet's constituents (fastjet's kT clustering of the constituents stopped at N jets), with no
    one-pass minimisation:

    * ``axes="wta_kt"`` (default): winner-take-all recombination (a merged pair takes the
      direction of its harder member; Larkoski, Neill, Thaler, JHEP 04 (2014) 017
      [arXiv:1401.2158]). Every axis lies on a constituent and the N axes are a subset of the
      N + 1 axes, so tau3 <= tau2 <= tau1 for every jet; for two narrow prongs with momentum
      fractions z and 1 - z at a distance Delta R, tau1 = min(z, 1 - z) Delta R / R0, the
      minimum over all axes.
    * ``axes="kt"``: E-scheme recombination (the subjets' four-momenta), the axes of the
      original paper; they need not lie on any constituent, and tau_(N+1) > tau_N happens
      (in about 20% of QCD jets of the ``boosted`` preset for tau3 > tau2; none with
      ``"wta_kt"``). tau1 is then the pT-weighted distance to the jet's own axis.

    tau21 = tau2 / tau1 and tau32 = tau3 / tau2 are the usual two- and three-prong
    discriminants (small for W/Z and top jets). A jet with N or fewer constituents has
    tau_N = 0.

    This is fjcontrib's ``Nsubjettiness`` with ``WTA_KT_Axes`` (``KT_Axes``) and
    ``NormalizedMeasure(1, R0)``, which the ``fastjet`` wheel offers as
    ``ClusterSequence.njettiness``; that call clusters the constituents again for every N
    and costs 2.5 times as much as this function (0.12 s against 0.05 s of CPU for the 395
    large-R jets of 200 Z' -> t tbar events: 6% of their generation time against 2.5%). Here one kT clustering per jet gives the axes for every N
    (``exclusive_jets_up_to``) and the sum is NumPy; tested equal to fastjet's
    ``njettiness`` to 1e-9.

    Parameters
    ----------
    px, py, pz, e
        float64 arrays ``[n_particles]``, GeV: the constituents of all jets, jet after jet.
    counts
        int array ``[n_jets]``: constituents per jet (each at least 1; they sum to n_particles).
    radius
        R0, the jet radius (1.0 for the generator's ``FatJet``).
    n
        The N to compute (positive integers).
    axes
        ``"wta_kt"`` or ``"kt"``: the recombination of the exclusive kT subjets (above).

    Returns
    -------
    numpy.ndarray
        float64 ``[n_jets, len(n)]``: tau_N for each jet and each N of ``n``.

    Raises
    ------
    DataError
        Arrays of different lengths, counts that do not add up or a jet without constituents,
        non-finite momenta.
    ConfigurationError
        A non-positive radius or N, an unknown ``axes``.

    Examples
    --------
    >>> import numpy as np
    >>> pt, eta = np.array([100.0, 300.0]), np.array([-0.4, 0.4])    # two prongs, Delta R = 0.8
    >>> p = (pt, np.zeros(2), pt * np.sinh(eta), pt * np.cosh(eta))
    >>> nsubjettiness(*p, counts=np.array([2]), radius=1.0).round(6).tolist()   # 0.25 * 0.8
    [[0.2, 0.0, 0.0]]
    """
    import warnings

    import awkward as ak
    import fastjet

    from hepsift.errors import DataError

    px, py, pz, e = (np.asarray(v, dtype=np.float64) for v in (px, py, pz, e))
    counts = np.asarray(counts, dtype=np.int64)
    if not len(px) == len(py) == len(pz) == len(e):
        raise DataError(f"px, py, pz, e must have one length, got {len(px)}, {len(py)}, {len(pz)}, {len(e)}")
    if counts.ndim != 1 or int(counts.sum()) != len(px):
        raise DataError(f"counts must be one number per jet adding up to the {len(px)} particles, "
                        f"they add up to {int(counts.sum())}")  # fmt: skip
    if np.any(counts < 1):
        raise DataError(f"jet {int(np.argmax(counts < 1))} has no constituents: N-subjettiness needs at least one")
    if not all(np.isfinite(v).all() for v in (px, py, pz, e)):
        raise DataError("the constituent momenta hold NaN or infinity")
    if not (np.isfinite(radius) and radius > 0):
        raise ConfigurationError(f"radius must be positive, got {radius!r}")
    schemes = {"wta_kt": fastjet.WTA_pt_scheme, "kt": fastjet.E_scheme}
    if axes not in schemes:
        raise ConfigurationError(f"axes must be one of {sorted(schemes)}, got {axes!r}")
    ns = tuple(n)
    if not ns or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ns):
        raise ConfigurationError(f"n must be positive integers, got {n!r}")
    n_jets = len(counts)
    jet = np.repeat(np.arange(n_jets), counts)
    pt = np.hypot(px, py)
    y, phi = _rapidity(pz, e), np.arctan2(py, px)
    out = np.zeros((n_jets, len(ns)))
    if n_jets == 0:
        return out
    d0 = radius * np.bincount(jet, weights=pt, minlength=n_jets)
    saved_format = warnings.formatwarning  # fastjet replaces it on every exclusive-jets call
    try:
        with _fastjet_quiet(), warnings.catch_warnings():
            # fastjet compares its JetDefinition with algorithm codes and warns for kT too
            warnings.filterwarnings("ignore", message="dcut and exclusive jets", category=UserWarning)
            sequence = _cluster_sequence(px, py, pz, e, counts, fastjet.JetDefinition(fastjet.kt_algorithm, _KT_AXES_R, schemes[axes]))
            axes = [sequence.exclusive_jets_up_to(int(k)) for k in ns]
    finally:
        warnings.formatwarning = saved_format
    for col, (k, ax) in enumerate(zip(ns, axes)):
        n_ax = ak.to_numpy(ak.num(ax, axis=1)).astype(np.int64)
        a = {c: ak.to_numpy(ak.flatten(ax[c])).astype(np.float64) for c in ("px", "py", "pz", "E")}
        slot = np.arange(len(a["px"])) - np.repeat(np.cumsum(n_ax) - n_ax, n_ax)
        ay = np.full((n_jets, int(k)), np.nan)
        aphi = np.full((n_jets, int(k)), np.nan)
        owner = np.repeat(np.arange(n_jets), n_ax)
        ay[owner, slot] = _rapidity(a["pz"], a["E"])
        aphi[owner, slot] = np.arctan2(a["py"], a["px"])
        dmin = np.full(len(px), np.inf)
        for j in range(int(k)):
            d = _delta_r(y, phi, ay[jet, j], aphi[jet, j])
            dmin = np.fmin(dmin, d)  # fmin: axes a jet lacks (NaN) never win
        out[:, col] = np.bincount(jet, weights=pt * dmin, minlength=n_jets) / d0
    return out


def _kinematics(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    phi = np.arctan2(py, px)
    m = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))
    return pt, eta, phi, m


def _delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return np.sqrt((eta1 - eta2) ** 2 + dphi**2)


def _has_quark(idabs: np.ndarray, q: int) -> np.ndarray:
    """True for hadrons (not quarks or diquarks) containing quark flavour ``q``."""
    hadron = (idabs > 100) & ((idabs // 10) % 10 != 0)
    return hadron & (((idabs // 100) % 10 == q) | ((idabs // 1000) % 10 == q))


class _Group:
    """Elements (particles, jets) of a batch sorted by event: event index and offsets."""

    def __init__(self, evt: np.ndarray, n_events: int) -> None:
        self.evt = evt
        self.counts = np.bincount(evt, minlength=n_events)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])

    def pairs(self, evt_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices (into A, into this group) of all same-event pairs."""
        n_per = self.counts[evt_a]
        ia = np.repeat(np.arange(len(evt_a)), n_per)
        first = np.repeat(np.cumsum(n_per) - n_per, n_per)
        ib = np.arange(int(n_per.sum())) - first + np.repeat(self.offsets[evt_a], n_per)
        return ia, ib


def _jagged(evt: np.ndarray, pt: np.ndarray, n_events: int, fields: dict[str, np.ndarray]) -> dict[str, Any]:
    """Flat objects with event index -> jagged arrays per field, sorted by decreasing pt."""
    import awkward as ak

    order = np.lexsort((-pt, evt))
    counts = np.bincount(evt, minlength=n_events)
    return {k: ak.unflatten(np.asarray(v)[order], counts) for k, v in fields.items()}


def _cluster(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray, evt: np.ndarray, n_events: int,
    radius: float, pt_min: float,
) -> dict[str, np.ndarray]:  # fmt: skip
    """anti-kT jets (fastjet) of the given particles; flat arrays with an event index.

    ``owner`` maps each input particle to the flat index of the jet it belongs to (-1: none),
    ``ncon`` counts each jet's constituents (fastjet's ``constituent_index``).
    """
    import awkward as ak
    import fastjet

    counts = np.bincount(evt, minlength=n_events)
    with _fastjet_quiet():
        sequence = _cluster_sequence(px, py, pz, e, counts, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
        jets = sequence.inclusive_jets(min_pt=pt_min)
        members = sequence.constituent_index(min_pt=pt_min)
    njet = ak.to_numpy(ak.num(jets, axis=1))
    cols = {k: ak.to_numpy(ak.flatten(jets[k])).astype(np.float64) for k in ("px", "py", "pz", "E")}
    pt, eta, phi, m = _kinematics(cols["px"], cols["py"], cols["pz"], cols["E"])
    # constituents: local input index per (event, jet) -> owner of each input particle
    ncon = ak.to_numpy(ak.flatten(ak.num(members, axis=2))).astype(np.int64)
    local = ak.to_numpy(ak.flatten(members, axis=None)).astype(np.int64)
    jet_evt = np.repeat(np.arange(n_events), njet)
    first_input = np.concatenate([[0], np.cumsum(counts)[:-1]])
    owner = np.full(len(px), -1, dtype=np.int64)
    owner[local + np.repeat(first_input[jet_evt], ncon)] = np.repeat(np.arange(len(ncon)), ncon)
    return {"evt": jet_evt, "pt": pt, "eta": eta, "phi": phi, "mass": m, "owner": owner, "ncon": ncon}


def _stored_index(evt: np.ndarray, key: np.ndarray, keep: np.ndarray, n_events: int) -> np.ndarray:
    """Index of each clustered jet in its stored collection (kept jets sorted by decreasing
    ``key`` within the event, as :func:`_jagged` stores them), -1 for jets not stored."""
    out = np.full(len(evt), -1, dtype=np.int64)
    k = np.nonzero(keep)[0]
    order = np.lexsort((-key[k], evt[k]))
    counts = np.bincount(evt[k], minlength=n_events)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out[k[order]] = np.arange(len(k)) - first[evt[k][order]]
    return out


#: ``FatJet_truth`` codes (see :func:`_fatjet_truth`).
TRUTH_NONE, TRUTH_TOP, TRUTH_W, TRUTH_Z, TRUTH_QUARK, TRUTH_GLUON = 0, 1, 2, 3, 4, 5
FATJET_TRUTH: dict[int, str] = {
    TRUTH_NONE: "none", TRUTH_TOP: "top (t -> b q q' within R)", TRUTH_W: "W -> q q' within R",
    TRUTH_Z: "Z -> q q within R", TRUTH_QUARK: "quark of the hard scattering within R",
    TRUTH_GLUON: "gluon of the hard scattering within R",
}  # fmt: skip

#: ``PFCand_type`` codes (owned by :data:`hepsift.images.PARTICLE_TYPES`).
PF_CHARGED_HADRON, PF_NEUTRAL_HADRON, PF_PHOTON, PF_ELECTRON, PF_MUON = (
    PARTICLE_TYPES[k] for k in ("charged_hadron", "neutral_hadron", "photon", "electron", "muon")
)


def _fatjet_truth(
    particles: Any, evt_all: np.ndarray, pid: np.ndarray, status: np.ndarray, eta: np.ndarray, phi: np.ndarray,
    jets: dict[str, np.ndarray], radius: float, n_events: int,
) -> np.ndarray:  # fmt: skip
    """Generator label of each large-R jet (codes ``TRUTH_*``), by containment.

    * 1 top: a top quark (its last copy in the record) decaying to b W, W -> q q', with the
      b and both quarks within Delta R < ``radius`` of the jet axis;
    * 2 W / 3 Z: a hadronically decaying W / Z with both quarks within ``radius`` (the W of
      a top counts when the b falls outside);
    * 4 quark / 5 gluon: else an outgoing parton of the hard 2 -> 2 (or 2 -> 3) scattering
      (mothers: the incoming partons) within ``radius``;
    * 0 none of these. Quark directions are those at the decay (before the shower).
    """
    import awkward as ak

    n = len(pid)
    counts = ak.to_numpy(ak.num(particles.id, axis=1))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])[evt_all]
    local = np.arange(n) - first
    d1 = ak.to_numpy(ak.flatten(particles.daughter1)).astype(np.int64)
    d2 = ak.to_numpy(ak.flatten(particles.daughter2)).astype(np.int64)
    m1 = ak.to_numpy(ak.flatten(particles.mother1)).astype(np.int64)
    has_d = d1 > 0
    d1g = np.where(has_d, d1 + first, np.arange(n))
    d2g = np.where(has_d & (d2 > 0), d2 + first, d1g)
    idabs = np.abs(pid)

    def last_copy(i: np.ndarray) -> np.ndarray:
        for _ in range(200):
            nxt = d1g[i]
            same = has_d[i] & (pid[nxt] == pid[i])
            if not same.any():
                break
            i = np.where(same, nxt, i)
        return i

    def quarks(i: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decay quarks of resonances ``i`` (last copies): two-body q q' decays only."""
        a, b = d1g[i], d2g[i]
        ok = has_d[i] & (b == a + 1) & (idabs[a] <= 5) & (idabs[b] <= 5)
        return a, b, ok

    cand_evt, cand_code, cand_parts = [], [], []
    res = np.nonzero((status < 0) & np.isin(idabs, (6, 23, 24)))[0]
    res = np.unique(last_copy(res))
    res = res[has_d[res] & (pid[d1g[res]] != pid[res])]
    for code, ida in ((TRUTH_W, 24), (TRUTH_Z, 23)):
        r = res[idabs[res] == ida]
        qa, qb, ok = quarks(r)
        cand_evt.append(evt_all[r[ok]])
        cand_code.append(np.full(int(ok.sum()), code))
        cand_parts.append(np.stack([qa[ok], qb[ok], qb[ok]], axis=1))
    top = res[idabs[res] == 6]
    a, b = d1g[top], d2g[top]
    two = b == a + 1
    w = np.where(idabs[a] == 24, a, b)
    bq = np.where(idabs[a] == 24, b, a)
    two &= (idabs[w] == 24) & (idabs[bq] <= 5)
    qa, qb, ok = quarks(last_copy(w))
    ok &= two
    cand_evt.append(evt_all[top[ok]])
    cand_code.append(np.full(int(ok.sum()), TRUTH_TOP))
    cand_parts.append(np.stack([bq[ok], qa[ok], qb[ok]], axis=1))
    hard = np.nonzero((np.abs(status) == 23) & ((m1 == 3) | (m1 == 4)) & ((idabs <= 5) | (idabs == 21)))[0]
    cand_evt.append(evt_all[hard])
    cand_code.append(np.where(idabs[hard] == 21, TRUTH_GLUON, TRUTH_QUARK))
    cand_parts.append(np.stack([hard, hard, hard], axis=1))

    c_evt = np.concatenate(cand_evt)
    order = np.argsort(c_evt, kind="stable")
    c_evt = c_evt[order]
    c_code = np.concatenate(cand_code)[order]
    c_parts = np.concatenate(cand_parts)[order]
    n_jets = len(jets["pt"])
    truth = np.full(n_jets, 99, dtype=np.int64)
    if n_jets and len(c_evt):
        ij, ic = _Group(c_evt, n_events).pairs(jets["evt"])
        inside = np.ones(len(ij), dtype=bool)
        for k in range(3):
            p = c_parts[ic, k]
            inside &= _delta_r(jets["eta"][ij], jets["phi"][ij], eta[p], phi[p]) < radius
        np.minimum.at(truth, ij[inside], c_code[ic[inside]])
    truth[truth == 99] = TRUTH_NONE
    return truth.astype(np.int32)


def _pf_type(idabs: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """``PFCand_type`` code of visible particles from their PDG id and charge."""
    return np.select(
        [idabs == 11, idabs == 13, idabs == 22, charge != 0],
        [PF_ELECTRON, PF_MUON, PF_PHOTON, PF_CHARGED_HADRON],
        PF_NEUTRAL_HADRON,
    ).astype(np.int32)


def _jer(cfg: JetConfig, pt: np.ndarray) -> np.ndarray:
    pt = np.maximum(pt, 1e-3)
    return np.sqrt((cfg.noise / pt) ** 2 + cfg.stochastic**2 / pt + cfg.constant**2)


def simulate(
    particles: Any, config: DetectorConfig, rng: np.random.Generator, *, constituents: bool = False,
    charge_type: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Turn generator events into reconstructed objects.

    Parameters
    ----------
    particles
        ``awkward.Array`` of shape (n_events, var) with the Pythia particle record fields
        ``id``, ``status`` and ``p`` (``px``, ``py``, ``pz``, ``e`` in GeV), as returned by
        ``pythia8mc.Pythia.nextBatch``.
    config
        The detector parameters.
    rng
        Source of every random number (efficiencies, resolutions, tagging), drawn in a fixed
        order so that a seed fixes the output.
    constituents
        Also return the ``PFCand_*`` collection (every visible particle; see the module
        docstring). Draws no random numbers: the other branches do not change.
    charge_type
        PDG ids (int64 array) -> three times the electric charge (Pythia's
        ``ParticleData.chargeType``); needed with ``constituents``.

    Returns
    -------
    dict[str, awkward.Array | numpy.ndarray]
        The object branches of the hepsift schema (``Jet_pt`` ..., ``MET_pt``): jagged
        collections sorted by decreasing p_T, float32 kinematics.
    """
    import awkward as ak

    if constituents and charge_type is None:
        raise ConfigurationError("constituents=True needs charge_type (PDG id -> 3 x charge)")

    n_events = len(particles)
    counts = ak.to_numpy(ak.num(particles.id, axis=1))
    evt_all = np.repeat(np.arange(n_events), counts)
    pid = ak.to_numpy(ak.flatten(particles.id)).astype(np.int64)
    status = ak.to_numpy(ak.flatten(particles.status))
    px, py, pz, e = (ak.to_numpy(ak.flatten(particles.p[c])).astype(np.float64) for c in ("px", "py", "pz", "e"))
    idabs = np.abs(pid)
    pt, eta, phi, mass = _kinematics(px, py, pz, e)
    charge = np.where((idabs == 11) | (idabs == 13), -np.sign(pid), 0)

    final = status > 0
    is_mu = idabs == 13
    visible = (
        final
        & ~np.isin(idabs, INVISIBLE_IDS)
        & (np.abs(eta) < config.calo_eta_max)
        & (~is_mu | (np.abs(eta) < config.muon.eta_max))
    )
    iso_idx = np.nonzero(visible & (pt > config.isolation_particle_pt_min))[0]
    iso = _Group(evt_all[iso_idx], n_events)

    def lepton_like(pdg: int, cfg: Any, calo: bool) -> dict[str, np.ndarray]:
        idx = np.nonzero(visible & (idabs == pdg) & (pt > 0.5 * cfg.pt_min) & (np.abs(eta) < cfg.eta_max))[0]
        u = rng.random(len(idx))
        g = rng.standard_normal(len(idx))
        if calo:
            sigma = np.sqrt(cfg.stochastic**2 / np.maximum(e[idx], 1e-9) + cfg.constant**2)
        else:
            sigma = np.sqrt(cfg.constant**2 + (cfg.linear * pt[idx]) ** 2)
        reco_pt = pt[idx] * np.maximum(1.0 + sigma * g, 0.0)
        ia, ib = iso.pairs(evt_all[idx])
        p = iso_idx[ib]
        c = idx[ia]
        inside = (_delta_r(eta[c], phi[c], eta[p], phi[p]) < cfg.iso_cone) & (p != c)
        rel_iso = np.bincount(ia, weights=np.where(inside, pt[p], 0.0), minlength=len(idx)) / pt[idx]
        keep = (u < cfg.efficiency) & (reco_pt > cfg.pt_min) & (rel_iso < cfg.iso_max)
        k = idx[keep]
        return {"idx": k, "evt": evt_all[k], "pt": reco_pt[keep], "truth_pt": pt[k], "eta": eta[k],
                "phi": phi[k], "mass": mass[k], "charge": charge[k], "relIso": rel_iso[keep]}  # fmt: skip

    electrons = lepton_like(11, config.electron, calo=True)
    muons = lepton_like(13, config.muon, calo=False)
    photons = lepton_like(22, config.photon, calo=True)

    # jet inputs: visible particles except muons and the reconstructed electrons and photons
    jet_mask = visible & ~is_mu
    jet_mask[electrons["idx"]] = False
    jet_mask[photons["idx"]] = False
    j_idx = np.nonzero(jet_mask)[0]
    jargs = (px[j_idx], py[j_idx], pz[j_idx], e[j_idx], evt_all[j_idx], n_events)

    tj = _cluster(*jargs, config.jet.radius, config.jet.cluster_pt_min)
    jscale = np.maximum(1.0 + _jer(config.jet, tj["pt"]) * rng.standard_normal(len(tj["pt"])), 0.0)

    # flavour labelling with b and c hadrons (any status: decayed hadrons carry the flavour)
    def near(hadron_mask: np.ndarray) -> np.ndarray:
        h_idx = np.nonzero(hadron_mask & (pt > config.btag.hadron_pt_min))[0]
        ia, ib = _Group(evt_all[h_idx], n_events).pairs(tj["evt"])
        h = h_idx[ib]
        close = _delta_r(tj["eta"][ia], tj["phi"][ia], eta[h], phi[h]) < config.btag.match_dr
        return np.bincount(ia, weights=close, minlength=len(tj["pt"])) > 0

    has_b = near(_has_quark(idabs, 5))
    has_c = near(_has_quark(idabs, 4))
    flavour = np.where(has_b, 5, np.where(has_c, 4, 0)).astype(np.int32)
    b = config.btag
    eff = np.where(has_b, b.eff_b, np.where(has_c, b.eff_c, b.eff_light))
    btag = (rng.random(len(eff)) < eff) & (np.abs(tj["eta"]) < b.eta_max)
    jet_pt = tj["pt"] * jscale
    keep = (jet_pt > config.jet.pt_min) & (np.abs(tj["eta"]) < config.jet.eta_max)

    tf = _cluster(*jargs, config.fatjet.radius, 0.5 * config.fatjet.pt_min)
    nf = len(tf["pt"])
    fscale = np.maximum(1.0 + _jer(config.jet, tf["pt"]) * rng.standard_normal(nf), 0.0)
    mscale = np.maximum(1.0 + config.fatjet.mass_resolution * rng.standard_normal(nf), 0.0)
    fat_pt = tf["pt"] * fscale
    fkeep = (fat_pt > config.fatjet.pt_min) & (np.abs(tf["eta"]) < config.fatjet.eta_max)
    ftruth = _fatjet_truth(particles, evt_all, pid, status, eta, phi, tf, config.fatjet.radius, n_events)
    # N-subjettiness of the stored large-R jets from the particles fastjet clustered into them
    fkept = np.nonzero(fkeep)[0]
    member = np.nonzero(tf["owner"] >= 0)[0]
    member = member[fkeep[tf["owner"][member]]]
    member = j_idx[member[np.argsort(tf["owner"][member], kind="stable")]]
    ftau = np.zeros((nf, 3))
    ftau[fkept] = nsubjettiness(px[member], py[member], pz[member], e[member], tf["ncon"][fkept],
                                config.fatjet.radius)  # fmt: skip

    # missing transverse momentum
    v_idx = np.nonzero(visible)[0]
    v_evt = evt_all[v_idx]
    mex = -np.bincount(v_evt, weights=px[v_idx], minlength=n_events)
    mey = -np.bincount(v_evt, weights=py[v_idx], minlength=n_events)
    sumet_vis = np.bincount(v_evt, weights=pt[v_idx], minlength=n_events)
    in_objects = np.zeros(n_events)
    for o_evt, o_pt, o_truth, o_phi in (
        (electrons["evt"], electrons["pt"], electrons["truth_pt"], electrons["phi"]),
        (muons["evt"], muons["pt"], muons["truth_pt"], muons["phi"]),
        (photons["evt"], photons["pt"], photons["truth_pt"], photons["phi"]),
        (tj["evt"], jet_pt, tj["pt"], tj["phi"]),
    ):
        d = o_pt - o_truth
        mex -= np.bincount(o_evt, weights=d * np.cos(o_phi), minlength=n_events)
        mey -= np.bincount(o_evt, weights=d * np.sin(o_phi), minlength=n_events)
        in_objects += np.bincount(o_evt, weights=o_truth, minlength=n_events)
    sigma = config.met.soft_resolution * np.sqrt(np.maximum(sumet_vis - in_objects, 0.0))
    mex = mex + sigma * rng.standard_normal(n_events)
    mey = mey + sigma * rng.standard_normal(n_events)
    sumet = sumet_vis + np.bincount(tj["evt"], weights=jet_pt - tj["pt"], minlength=n_events)

    f32, i32 = np.float32, np.int32
    out: dict[str, Any] = {}
    collections = {
        "Jet": (tj["evt"][keep], jet_pt[keep], {
            "pt": jet_pt[keep].astype(f32), "eta": tj["eta"][keep].astype(f32), "phi": tj["phi"][keep].astype(f32),
            "mass": (tj["mass"] * jscale)[keep].astype(f32), "btag": btag[keep], "hadronFlavour": flavour[keep]}),
        "FatJet": (tf["evt"][fkeep], fat_pt[fkeep], {
            "pt": fat_pt[fkeep].astype(f32), "eta": tf["eta"][fkeep].astype(f32),
            "phi": tf["phi"][fkeep].astype(f32), "mass": (tf["mass"] * fscale * mscale)[fkeep].astype(f32),
            "nConstituents": tf["ncon"][fkeep].astype(i32), "truth": ftruth[fkeep],
            **{f"tau{k + 1}": ftau[fkeep, k].astype(f32) for k in range(3)}}),
    }  # fmt: skip
    for name, coll, fields in (
        ("Electron", electrons, ("pt", "eta", "phi", "mass", "charge", "relIso")),
        ("Muon", muons, ("pt", "eta", "phi", "mass", "charge", "relIso")),
        ("Photon", photons, ("pt", "eta", "phi", "relIso")),
    ):
        collections[name] = (coll["evt"], coll["pt"],
                             {f: coll[f].astype(i32 if f == "charge" else f32) for f in fields})  # fmt: skip
    for name, (evt, key, fields) in collections.items():
        for field_name, values in _jagged(evt, key, n_events, fields).items():
            out[f"{name}_{field_name}"] = values
    if constituents:
        # every visible particle; the jet it belongs to (index in the stored Jet / FatJet)
        assert charge_type is not None
        jet_of = np.full(len(pid), -1, dtype=np.int64)
        fat_of = np.full(len(pid), -1, dtype=np.int64)
        jet_of[j_idx] = np.where(tj["owner"] >= 0, _stored_index(tj["evt"], jet_pt, keep, n_events)[tj["owner"]], -1)
        fat_of[j_idx] = np.where(tf["owner"] >= 0, _stored_index(tf["evt"], fat_pt, fkeep, n_events)[tf["owner"]], -1)
        q = charge_type(pid[v_idx]) / 3.0
        pf = {"pt": pt[v_idx].astype(f32), "eta": eta[v_idx].astype(f32), "phi": phi[v_idx].astype(f32),
              "charge": np.rint(q).astype(i32), "type": _pf_type(idabs[v_idx], q),
              "jetIdx": jet_of[v_idx].astype(i32), "fatJetIdx": fat_of[v_idx].astype(i32)}  # fmt: skip
        for field_name, values in _jagged(v_evt, pt[v_idx], n_events, pf).items():
            out[f"PFCand_{field_name}"] = values
    out["MET_pt"] = np.hypot(mex, mey).astype(f32)
    out["MET_phi"] = np.arctan2(mey, mex).astype(f32)
    out["MET_sumEt"] = sumet.astype(f32)
    return out
