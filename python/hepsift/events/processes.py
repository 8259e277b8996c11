"""The physics processes: Pythia 8 settings for each Standard Model background and signal.

All processes are proton-proton collisions at sqrt(s) = 13 TeV with Pythia's default tune
(Monash 2013, Eur. Phys. J. C 74 (2014) 3024) and leading-order matrix elements; each file
records the cross-section Pythia estimates for its settings (``sigmaGen``), which already
includes the branching fractions of the decay channels left open.

Processes with ``slices`` are generated in ranges of a generator variable (pT-hat) with an
equal share of events per slice; each event then carries the weight
sigma_slice / N_slice, so sums over slices are correct while the tails are well populated.

====================  =====  =========================================================
name                  id     content
====================  =====  =========================================================
``ttbar``             1      t tbar (gg, q qbar -> t tbar), inclusive decays
``wjets``             2      W + 1 parton, W -> e/mu/tau nu; pT-hat slices 30-100-250-inf
``zjets``             3      Z/gamma* + 1 parton, m > 50 GeV, -> ee/mumu/tautau;
                             pT-hat slices 20-100-inf
``diboson``           4      W W, W Z, Z Z (gamma* included, m > 50), inclusive decays
``qcd``               5      2 -> 2 QCD multijet; pT-hat slices 100-200-400-800-inf
``qcd_boosted``       6      2 -> 2 QCD multijet for boosted-jet studies; pT-hat slices
                             300-600-1000-1500-inf
``qcd_dijet``         7      2 -> 2 QCD multijet above pT-hat 550 GeV in one slice: every
                             event has the same weight, a data-like background for dijet
                             resonance searches; for two large-R jets with |delta eta| < 1.3
                             the pT-hat cut misses 8.3 +- 1.0% of the events at m_JJ = 1.6-1.7
                             TeV, 6.0 +- 1.2% at 1.7-1.8, 2.0 +- 0.6% at 1.8-1.9, 1.2 +- 0.5%
                             at 1.9-2.0 TeV and none seen above (the 450-550 GeV slice: < 0.7%
                             at 2.0-2.1 TeV, 90% CL; the 350-450 and 450-550 GeV slices,
                             60 000 events each, weighted by their cross-sections, multiple
                             interactions off: ``python bench/cwola.py --pythia --turn-on``):
                             a search window should start at 2 TeV or above
``zprime_tt``         101    Z' -> t tbar (sequential-SM couplings, Z' only); masses
                             500-1500 GeV (the HEPMASS benchmarks)
``tprime_pair``       102    pair-produced heavy top partners T Tbar -> W b W b: Pythia's
                             QCD t tbar matrix elements with the top mass set to m_T and a
                             narrow width (1%), i.e. a chiral heavy quark decaying only to
                             W b; masses 1000, 1200, 1400 GeV
``wprime_lnu``        103    W' -> e nu / mu nu (sequential SM); masses 1000-4000 GeV
``zprime_tt_had``     104    Z' -> t tbar -> (b q q') (b q q'): all-hadronic boosted tops;
                             masses 1500-3000 GeV
``wprime_wz_had``     105    W' -> W Z -> (q q') (q q): boosted W and Z jets (sequential-SM
                             W' with the extended-gauge-model W' W Z coupling,
                             ``Wprime:coup2WZ = 1``; Pythia's default 0 closes the channel);
                             masses 1500-3000 GeV
====================  =====  =========================================================

The heavy-quark signal uses the t tbar machinery rather than Pythia's ``FourthTop``
processes: for the same mass those return a cross-section 3-4 times below the t tbar
matrix elements (checked at 0.5 and 1 TeV), whose 1 TeV value, 0.031 pb at leading order,
is consistent with the NNLO+NNLL 0.044 pb of Top++ (Czakon, Mitov, Comput. Phys. Commun.
185 (2014) 2930) for a K factor of 1.4.
"""

from __future__ import annotations

from dataclasses import dataclass

from hepsift.errors import ConfigurationError, UnknownNameError

__all__ = ["Process", "PROCESSES", "get_process", "list_processes", "BEAM_SETTINGS", "QUIET_SETTINGS"]

#: Settings common to every process.
BEAM_SETTINGS: tuple[str, ...] = ("Beams:idA = 2212", "Beams:idB = 2212", "Beams:eCM = 13000.")
#: Settings that keep Pythia silent.
QUIET_SETTINGS: tuple[str, ...] = ("Print:quiet = on", "Next:numberCount = 0", "Next:numberShowEvent = 0")


@dataclass(frozen=True)
class Process:
    """One physics process.

    Attributes
    ----------
    name
        Short identifier used by the API and the command line.
    pid
        Integer process id written into every event (``process_id``); backgrounds < 100.
    signal
        True for BSM signals (they take a mass parameter).
    description
        One line of physics.
    settings
        Pythia settings; ``{mass}``, ``{mmin}`` (mass/2), ``{mmax}`` (1.5 mass) and
        ``{width}`` (mass/100) are filled in for signals (GeV).
    slices
        One tuple of extra settings per generator slice (a single empty tuple: no slicing).
    masses
        Benchmark masses in GeV (signals).
    default_mass
        Mass used when none is given (GeV).
    mass_range
        Allowed masses (GeV), inclusive.
    """

    name: str
    pid: int
    signal: bool
    description: str
    settings: tuple[str, ...]
    slices: tuple[tuple[str, ...], ...] = ((),)
    masses: tuple[float, ...] = ()
    default_mass: float | None = None
    mass_range: tuple[float, float] = (0.0, 0.0)

    def resolve_mass(self, mass: float | None) -> float:
        """Validate ``mass`` (GeV) for this process; 0 for backgrounds."""
        if not self.signal:
            if mass not in (None, 0, 0.0):
                raise ConfigurationError(f"process {self.name!r} is a background and takes no mass (got {mass})")
            return 0.0
        if mass is None:
            assert self.default_mass is not None
            return float(self.default_mass)
        try:
            value = float(mass)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"mass must be a number in GeV, got {mass!r}") from exc
        if not value > 0:
            raise ConfigurationError(f"mass must be positive (GeV), got {mass}")
        lo, hi = self.mass_range
        if not lo <= value <= hi:
            raise ConfigurationError(
                f"mass {value:g} GeV is outside the range {lo:g}-{hi:g} GeV allowed for {self.name!r}"
            )
        return value

    def pythia_settings(self, mass: float) -> list[list[str]]:
        """The full list of Pythia settings for each slice (beam + process + slice)."""
        fill = {"mass": f"{mass:.6g}", "mmin": f"{0.5 * mass:.6g}", "mmax": f"{1.5 * mass:.6g}",
                "width": f"{0.01 * mass:.6g}"}
        base = [*BEAM_SETTINGS, *(s.format(**fill) for s in self.settings)]
        return [[*base, *extra] for extra in self.slices]


def _pthat(edges: tuple[float, ...]) -> tuple[tuple[str, ...], ...]:
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        s = [f"PhaseSpace:pTHatMin = {lo:g}"]
        s.append(f"PhaseSpace:pTHatMax = {hi:g}" if hi > 0 else "PhaseSpace:pTHatMax = -1.")
        out.append(tuple(s))
    return tuple(out)


PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        Process(
            "ttbar", 1, False, "top-quark pair production, inclusive decays",
            ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
        ),
        Process(
            "wjets", 2, False, "W + jets, W -> l nu (l = e, mu, tau), pT-hat slices",
            ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
             "24:onMode = off", "24:onIfAny = 11 13 15"),
            slices=_pthat((30.0, 100.0, 250.0, -1.0)),
        ),
        Process(
            "zjets", 3, False, "Z/gamma* + jets, m_ll > 50 GeV, Z -> ee/mumu/tautau, pT-hat slices",
            ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
             "23:onMode = off", "23:onIfAny = 11 13 15", "23:mMin = 50."),
            slices=_pthat((20.0, 100.0, -1.0)),
        ),
        Process(
            "diboson", 4, False, "WW, WZ, ZZ (gamma* included, m > 50 GeV), inclusive decays",
            ("WeakDoubleBoson:all = on", "23:mMin = 50."),
        ),
        Process(
            "qcd", 5, False, "QCD multijet 2 -> 2, pT-hat slices",
            ("HardQCD:all = on",),
            slices=_pthat((100.0, 200.0, 400.0, 800.0, -1.0)),
        ),
        Process(
            "qcd_boosted", 6, False, "QCD multijet 2 -> 2 at high pT-hat (boosted-jet background)",
            ("HardQCD:all = on",),
            slices=_pthat((300.0, 600.0, 1000.0, 1500.0, -1.0)),
        ),
        Process(
            "qcd_dijet", 7, False, "QCD multijet 2 -> 2 above pT-hat 550 GeV, unweighted (dijet resonance searches)",
            ("HardQCD:all = on", "PhaseSpace:pTHatMin = 550."),
        ),
        Process(
            "zprime_tt", 101, True, "Z' -> t tbar, sequential-SM couplings, Z' only (no gamma*/Z)",
            ("NewGaugeBoson:ffbar2gmZZprime = on", "Zprime:gmZmode = 3", "32:m0 = {mass}",
             "32:mMin = {mmin}", "32:mMax = {mmax}", "32:onMode = off", "32:onIfAny = 6"),
            masses=(500.0, 750.0, 1000.0, 1250.0, 1500.0), default_mass=1000.0,
            mass_range=(400.0, 6000.0),
        ),
        Process(
            "tprime_pair", 102, True,
            "T Tbar pair production (QCD), T -> W b; t tbar matrix elements with m_t -> m_T, width 1%",
            ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "6:m0 = {mass}", "6:doForceWidth = on",
             "6:mWidth = {width}", "6:mMin = {mmin}", "6:mMax = {mmax}"),
            masses=(1000.0, 1200.0, 1400.0), default_mass=1200.0, mass_range=(200.0, 3000.0),
        ),
        Process(
            "wprime_lnu", 103, True, "W' -> e nu / mu nu, sequential-SM couplings",
            ("NewGaugeBoson:ffbar2Wprime = on", "34:m0 = {mass}", "34:mMin = {mmin}",
             "34:mMax = {mmax}", "34:onMode = off", "34:onIfAny = 11 13"),
            masses=(1000.0, 2000.0, 3000.0, 4000.0), default_mass=2000.0, mass_range=(100.0, 7000.0),
        ),
        Process(
            "zprime_tt_had", 104, True, "Z' -> t tbar, all-hadronic top decays (boosted top jets)",
            ("NewGaugeBoson:ffbar2gmZZprime = on", "Zprime:gmZmode = 3", "32:m0 = {mass}",
             "32:mMin = {mmin}", "32:mMax = {mmax}", "32:onMode = off", "32:onIfAny = 6",
             "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
            masses=(1500.0, 2000.0, 2500.0, 3000.0), default_mass=2000.0, mass_range=(400.0, 6000.0),
        ),
        Process(
            "wprime_wz_had", 105, True, "W' -> W Z, W -> q q', Z -> q q (boosted W and Z jets)",
            ("NewGaugeBoson:ffbar2Wprime = on", "Wprime:coup2WZ = 1.", "34:m0 = {mass}", "34:mMin = {mmin}",
             "34:mMax = {mmax}", "34:onMode = off", "34:onIfMatch = 23 24",
             "24:onMode = off", "24:onIfAny = 1 2 3 4 5", "23:onMode = off", "23:onIfAny = 1 2 3 4 5"),
            masses=(1500.0, 2000.0, 2500.0, 3000.0), default_mass=2000.0, mass_range=(500.0, 7000.0),
        ),
    )
}  # fmt: skip


def get_process(name: str) -> Process:
    """Look up a process by name; unknown names raise :class:`hepsift.errors.UnknownNameError`
    (a :class:`ConfigurationError`) naming the nearest known ones."""
    try:
        return PROCESSES[name]
    except (KeyError, TypeError):
        raise UnknownNameError(str(name), PROCESSES, what="process", note="see hepsift generate --list") from None


def list_processes() -> list[str]:
    """Names of all processes, backgrounds first."""
    return list(PROCESSES)
