"""Weakly supervised bump hunt (CWoLa hunting) on the parametric dijet toy: the numbers.

Data: :func:`hepsift.weak.dijet_toy`, not generated events (Pythia 8 QCD dijets at m_jj ~ 3.5
TeV in the hundreds of thousands take hours on two cores): m_jj from the four-parameter dijet
function (p1, p2, p3 = 10, 5, 0.2 at 13 TeV) in 2.5-5 TeV, two large-radius jets with masses
and tau21 as in the LHC Olympics R&D set, and a W' (3.5 TeV, 5% resolution) -> X (500 GeV) Y
(100 GeV) signal of two-prong jets, with S/B = 1% in the signal region [3200, 3800) GeV
(+-1.7 resolutions: 91% of the signal; sidebands [2600, 3200) and [3800, 4600) GeV). Two versions of the background:

* ``correlated``: the jet-mass median grows as sqrt(m_jj) (as the QCD jet mass follows the jet
  momentum), so a classifier of signal region against sidebands can learn some m_jj;
* ``decorrelated``: jet masses independent of m_jj (what a decorrelated feature set aims at).

For each version, background only and background + signal: the local significance with the
4-parameter dijet fit of the sidebands without a cut and with CWoLa cuts (BDT, 5 folds) at 10%,
1% and 0.1% sideband efficiency, with the true signal and background in the signal region after
each cut and the sculpting test of each cut in the sidebands.

``--pythia``: the same search on Pythia 8 events (:mod:`hepsift.events`), generated once into
``bench/cache/cwola_pythia`` and then reused: QCD 2 -> 2 above pT-hat 550 GeV in one slice
(``qcd_dijet``, unit-weight events: a data-like background; ``--qcd-parts`` files of 100 000
events, seeds 101, 102, ...) and W' -> W Z -> (q q') (q q) at 2.4 TeV (``wprime_wz_had``, 20 000
events), both with multiple parton interactions off (``PartonLevel:MPI = off``: the large-radius jets
are not groomed, and without the underlying event their masses keep the W and Z peaks; it also makes
QCD three times faster). m_JJ of the two leading large-R jets with |delta eta| < 1.3; features: the
two jet masses (heavier first) and their constituent counts (and tau21 when the files have
N-subjettiness). Signal region [2200, 2600) GeV, sidebands [2000, 2200) and [2600, 3400) GeV: above
the generator cut's turn-on, which removes up to 8% of the events below 2 TeV (``--turn-on``); W'
events injected at S/B = 1% and 5% (event counts, unit weights) in the signal region; 3-parameter
dijet fit (``--fit``). Printed: the fit without a cut on each QCD part alone (its pull), the hunt
without signal (control: consistent with no signal), and for each injection the CWoLa hunt and a
fully supervised BDT on the same features (out of fold, trained with the true labels and the W'
events not injected: an upper bound), with the true signal and background after each cut.

``--pythia --turn-on``: what the pT-hat > 550 GeV sample misses per m_JJ bin (the 350-450 and
450-550 GeV slices, 60 000 events each, weighted by their cross-sections), and the excess over the
sideband fit that this deficit alone produces in the first window tried, [1800, 2200) GeV with
sidebands [1600, 1800) and [2200, 2800) GeV, and in the one used.

Usage::

    python bench/cwola.py [--background 400000] [--seed 1]
    nice python bench/cwola.py --pythia --generate-only --workers 2   # the samples: 43 min of CPU
    python bench/cwola.py --pythia [--qcd-parts 8] [--s-over-b 0.01 0.05] [--fit dijet3]
    python bench/cwola.py --pythia --turn-on [--workers 2]             # 8 more min of CPU the first time
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

from hepsift.io import read_provenance
from hepsift.models import BDTClassifier
from hepsift.weak import CWoLaHunt, DijetEvents, bump_hunt, cwola_hunt, dijet_events, dijet_toy, inject_signal

SR = (3200.0, 3800.0)
SB = ((2600.0, 3200.0), (3800.0, 4600.0))
EFFS = (1.0, 0.1, 0.01, 0.001)


def table(hunt: CWoLaHunt, mass: np.ndarray, truth: np.ndarray, sr: tuple[float, float]) -> str:
    """One Markdown row per working point, with the true signal and background in the signal region."""
    in_sr = (mass >= sr[0]) & (mass < sr[1])
    lines = ["| eff_B | true S in SR | true B in SR | observed | fitted B | chi2/ndf | Z_local | sculpting p |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in hunt.rows:
        keep = row.passed(hunt.scores, hunt.folds)
        s, b = int((keep & in_sr & truth).sum()), int((keep & in_sr & ~truth).sum())
        sc = "-" if row.sculpting is None else row.sculpting.p_text(2)
        if row.result is None:
            lines.append(f"| {row.efficiency:g} | {s} | {b} | refused: {row.refused} | | | | {sc} |")
            continue
        r = row.result
        lines.append(f"| {row.efficiency:g} | {s} | {b} | {r.observed:.0f} | {r.background:.1f} +- "
                     f"{r.background_uncertainty:.1f} | {r.chi2:.1f}/{r.ndf} | {r.significance:.2f} | {sc} |")
    return "\n".join(lines)


def one(n_background: float, exponent: float, with_signal: bool, seed: int) -> tuple[str, float]:
    clean = dijet_toy(n_background, seed=seed, jet_mass_exponent=exponent)
    b_sr = clean.expected_background(*SR)
    in_sr = norm.cdf((SR[1] - 3500.0) / 175.0) - norm.cdf((SR[0] - 3500.0) / 175.0)
    n_sig = int(round(0.01 * b_sr / in_sr)) if with_signal else 0
    toy = dijet_toy(n_background, n_signal=n_sig, seed=seed, jet_mass_exponent=exponent)
    start = time.perf_counter()
    hunt = cwola_hunt(toy.mass, toy.X, signal_region=SR, sidebands=SB, efficiencies=EFFS,
                      estimator=BDTClassifier(seed=seed, threads=1), folds=5, seed=seed, fit="dijet")
    dt = time.perf_counter() - start
    sr = (toy.mass >= SR[0]) & (toy.mass < SR[1])
    head = (f"**{'correlated' if exponent else 'decorrelated'} jet masses, "
            f"{'background + signal' if with_signal else 'background only'}** ({len(toy.mass)} events, "
            f"{n_sig} signal of which {int((toy.signal & sr).sum())} in the signal region on "
            f"{int((sr & ~toy.signal).sum())} background)")
    return head + "\n\n" + table(hunt, toy.mass, toy.signal, SR), dt


# --- Pythia 8 events ---------------------------------------------------------------------------
CACHE = Path(__file__).resolve().parent / "cache" / "cwola_pythia"
PYTHIA_SETTINGS = ("PartonLevel:MPI = off",)
PYTHIA_SR = (2200.0, 2600.0)
PYTHIA_SB = ((2000.0, 2200.0), (2600.0, 3400.0))
SIGNAL_MASS = 2400.0
#: The QCD parts have seeds QCD_SEED + seed + k: independent of the samples (seeds 1-4) on which
#: the first signal region, [1800, 2200) GeV, showed the generator cut's turn-on.
QCD_SEED = 100


def pythia_samples(qcd_parts: int = 8, qcd_events: int = 100_000, signal_events: int = 20_000, *, seed: int = 1,
                   cache: Path = CACHE, workers: int = 1) -> tuple[list[Path], Path]:
    """Generate (or reuse) the QCD parts (seeds ``QCD_SEED + seed`` .. ``QCD_SEED + seed + qcd_parts - 1``) and the
    W' sample."""
    from hepsift.events import GenerationConfig, generate_many

    jobs = [(GenerationConfig("wprime_wz_had", events=signal_events, seed=seed, mass=SIGNAL_MASS, chunk_size=10_000,
                              pythia_settings=PYTHIA_SETTINGS), cache / f"wprime_wz_had_m{SIGNAL_MASS:g}_s{seed}.root")]
    for k in range(qcd_parts):
        part_seed = QCD_SEED + seed + k
        jobs.append((GenerationConfig("qcd_dijet", events=qcd_events, seed=part_seed, chunk_size=10_000,
                                      pythia_settings=PYTHIA_SETTINGS), cache / f"qcd_dijet_s{part_seed}.root"))
    paths = generate_many(jobs, workers=workers, progress=False, log=lambda s: print(s, file=sys.stderr, flush=True))
    return paths[1:], paths[0]


# The generator cut's turn-on: what the pT-hat > 550 GeV sample misses, per m_JJ bin, from the slices below it.
TURN_ON_EDGES = (1400.0, 1600.0, 1700.0, 1800.0, 1900.0, 2000.0, 2100.0, 2200.0, 2400.0, 2600.0, 3000.0, 3400.0)
TURN_ON_SLICES = {"450-550": (14, 60_000, ("PhaseSpace:pTHatMin = 450.", "PhaseSpace:pTHatMax = 550.")),
                  "350-450": (11, 60_000, ("PhaseSpace:pTHatMin = 350.", "PhaseSpace:pTHatMax = 450."))}
WINDOWS = {
    "[1800, 2200), sidebands [1600, 1800) [2200, 2800)": ((1800.0, 2200.0), ((1600.0, 1800.0), (2200.0, 2800.0))),
    "[2200, 2600), sidebands [2000, 2200) [2600, 3400)": (PYTHIA_SR, PYTHIA_SB),
}


def turn_on(workers: int, cache: Path = CACHE) -> None:
    """Print the fraction of the events per m_JJ bin that the pT-hat > 550 GeV sample misses (the 450-550 and
    350-450 GeV slices, weighted by their cross-sections, against a 40 000-event reference of the sample
    itself), and the excess over the sideband fit that this deficit alone produces in each search window:
    the fit of a smooth spectrum (the 3-parameter dijet shape fitted to Pythia, no fluctuations) with
    and without the measured deficit."""
    from hepsift.events import GenerationConfig, generate_many

    jobs = [(GenerationConfig("qcd_dijet", events=40_000, seed=15, chunk_size=5000, pythia_settings=PYTHIA_SETTINGS),
             cache / "turn_on_reference.root")]
    for name, (seed, events, settings) in TURN_ON_SLICES.items():
        jobs.append((GenerationConfig("qcd_dijet", events=events, seed=seed, chunk_size=5000,
                                      pythia_settings=PYTHIA_SETTINGS + settings), cache / f"turn_on_{name}.root"))
    paths = generate_many(jobs, workers=workers, progress=False, log=lambda s: print(s, file=sys.stderr, flush=True))
    edges = np.asarray(TURN_ON_EDGES)

    def per_pb(path: Path) -> tuple[np.ndarray, float]:
        prov = read_provenance(path)
        counts = np.histogram(dijet_events(path).mass, edges)[0].astype(float)
        return counts, prov["xsec_pb"] / prov["events_generated"]

    ref, ref_w = per_pb(paths[0])
    missing, var = np.zeros(len(ref)), np.zeros(len(ref))
    print("| m_JJ bin (GeV) | reference events | " + " | ".join(f"pT-hat {n} GeV" for n in TURN_ON_SLICES)
          + " | missing in total |\n| --- | ---: |" + " ---: |" * (len(TURN_ON_SLICES) + 1))
    cells: list[list[str]] = [[] for _ in ref]
    for path in paths[1:]:
        counts, w = per_pb(path)
        frac = counts * w / (ref * ref_w)
        err = frac * np.sqrt(1 / np.maximum(counts, 1) + 1 / ref)
        limit = 2.3 * w / (ref * ref_w)  # 90% CL upper limit where no event is seen
        missing, var = missing + frac, var + err**2
        for i in range(len(ref)):
            cells[i].append(f"{100 * frac[i]:.2f} +- {100 * err[i]:.2f}%" if counts[i] else f"< {100 * limit[i]:.2f}%")
    for i in range(len(ref)):
        print(f"| [{edges[i]:g}, {edges[i + 1]:g}) | {ref[i]:.0f} | " + " | ".join(cells[i])
              + (f" | {100 * missing[i]:.2f} +- {100 * np.sqrt(var[i]):.2f}% |" if missing[i] else " | none seen |"))
    grid = np.arange(edges[0] + 0.5, edges[-1], 1.0)
    x = grid / 13000.0
    smooth = (1 - x) ** 6.7 / x**5.3  # the 3-parameter dijet function fitted to the Pythia spectrum
    deficit = missing[np.clip(np.searchsorted(edges, grid, side="right") - 1, 0, len(missing) - 1)]
    print("\nExcess over the sideband fit from the measured deficit alone (no fluctuations; the fit of the smooth "
          "spectrum itself as reference), for the events each window holds in the bench's QCD sample:\n")
    qcd = dijet_events(pythia_samples(workers=workers)[0])
    for label, (sr, sb) in WINDOWS.items():
        window = (grid >= sb[0][0]) & (grid < sb[1][1])
        n_window = int(((qcd.mass >= sb[0][0]) & (qcd.mass < sb[1][1])).sum())
        weights = smooth[window] / smooth[window].sum() * n_window
        for fit in ("dijet3", "dijet"):
            with_cut = bump_hunt(grid[window], weights * (1 - deficit[window]), signal_region=sr, sidebands=sb, fit=fit)
            without = bump_hunt(grid[window], weights, signal_region=sr, sidebands=sb, fit=fit)
            data = bump_hunt(qcd.mass, signal_region=sr, sidebands=sb, fit=fit)
            excess = (with_cut.observed - with_cut.background) - (without.observed - without.background)
            pull = excess / np.sqrt(data.background + data.background_uncertainty**2)
            print(f"- {label}, {fit}: {excess:+.0f} events, a pull of {pull:+.2f} (the bench's QCD sample: "
                  f"{data.observed - data.background:+.0f} events, pull {data.pull:+.2f})")


def supervised_scores(sample: DijetEvents, extra_signal: DijetEvents, *, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold scores of a BDT trained with the true labels (the sample's events of the other folds plus
    ``extra_signal``, never in the sample), classes weighted to equal sums: the supervised upper bound."""
    from sklearn.model_selection import KFold

    scores = np.zeros(len(sample))
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(sample.X):
        X = np.concatenate([sample.X[train], extra_signal.X])
        y = np.concatenate([sample.signal[train], np.ones(len(extra_signal), dtype=bool)]).astype(np.int64)
        w = np.where(y == 1, 0.5 / y.sum(), 0.5 / (y == 0).sum())
        model = BDTClassifier(seed=seed, threads=1).fit(X, y, sample_weight=w)
        scores[test] = model.predict_proba(sample.X[test])[:, 1]
    return scores


def pythia(s_over_b: list[float], seed: int, generate_only: bool, qcd_parts: int, fit: str, workers: int) -> None:
    start = time.perf_counter()
    qcd_files, signal_file = pythia_samples(qcd_parts, seed=seed, workers=workers)
    print(f"(samples ready after {time.perf_counter() - start:.0f} s)", file=sys.stderr)
    if generate_only:
        return
    lo1, hi2 = PYTHIA_SB[0][0], PYTHIA_SB[1][1]
    parts = [dijet_events(path) for path in qcd_files]
    qcd, sig = DijetEvents.concatenate(parts), dijet_events(signal_file)
    n_generated = sum(read_provenance(p)["events_generated"] for p in qcd_files)
    print(f"QCD: {n_generated} events generated, {len(qcd)} with two large-R jets and |delta eta| < 1.3, "
          f"{int(((qcd.mass >= lo1) & (qcd.mass < hi2)).sum())} in [{lo1:g}, {hi2:g}) GeV; W': "
          f"{read_provenance(signal_file)['events_generated']} generated, {len(sig)} selected, "
          f"{np.mean((sig.mass >= PYTHIA_SR[0]) & (sig.mass < PYTHIA_SR[1])):.1%} of them in the signal region; "
          f"features {qcd.feature_names}\n")
    # the fit without a cut on each independent QCD part
    pulls = [bump_hunt(part.mass, signal_region=PYTHIA_SR, sidebands=PYTHIA_SB, fit=fit).pull for part in parts]
    print("background only, no cut, each QCD part: (observed - fit) / sqrt(b + sigma_b^2) = "
          + ", ".join(f"{p:+.2f}" for p in pulls) + "\n")
    background = qcd.subset((qcd.mass >= lo1) & (qcd.mass < hi2))
    kw = dict(signal_region=PYTHIA_SR, sidebands=PYTHIA_SB, efficiencies=EFFS, fit=fit)
    runs: list[tuple[str, DijetEvents, Any]] = [("CWoLa, background only (control)", background, None)]
    for sb_ratio in s_over_b:
        sample, unused = inject_signal(background, sig, sb_ratio, PYTHIA_SR, seed=seed)
        sample = sample.subset((sample.mass >= lo1) & (sample.mass < hi2))
        runs.append((f"CWoLa, background + signal (S/B = {sb_ratio:g} in the signal region)", sample, None))
        runs.append((f"supervised BDT (true labels, upper bound), S/B = {sb_ratio:g}", sample,
                     lambda sample=sample, unused=unused: supervised_scores(sample, unused, folds=5, seed=seed)))
    for title, events, supervised in runs:
        t0 = time.perf_counter()
        hunt = cwola_hunt(events.mass, events.X, scores=None if supervised is None else supervised(),
                          estimator=BDTClassifier(seed=seed, threads=1), folds=5, seed=seed, **kw)
        in_sr = (events.mass >= PYTHIA_SR[0]) & (events.mass < PYTHIA_SR[1])
        print(f"**{title}** ({len(events)} events in [{lo1:g}, {hi2:g}) GeV; {int((events.signal & in_sr).sum())} "
              f"signal on {int((~events.signal & in_sr).sum())} background in the signal region; "
              f"{time.perf_counter() - t0:.0f} s)\n")
        print(table(hunt, events.mass, events.signal, PYTHIA_SR) + "\n", flush=True)
    print(f"(seed {seed}; BDT, 5 folds, one thread; {fit} fit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", type=float, default=400_000, help="expected background events in 2.5-5 TeV")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pythia", action="store_true", help="the search on Pythia 8 events (see the docstring)")
    parser.add_argument("--s-over-b", type=float, nargs="+", default=[0.01, 0.05],
                        help="--pythia: injected S/B in the signal region (default 0.01 0.05)")
    parser.add_argument("--generate-only", action="store_true", help="--pythia: only generate the samples")
    parser.add_argument("--turn-on", action="store_true",
                        help="--pythia: what the generator cut misses per m_JJ bin, and the excess it fakes per window")
    parser.add_argument("--qcd-parts", type=int, default=8, help="--pythia: QCD files of 100 000 events (default 8)")
    parser.add_argument("--workers", type=int, default=1, help="--pythia: generation processes (default 1)")
    parser.add_argument("--fit", default="dijet3", help="--pythia: sideband fit (default dijet3)")
    args = parser.parse_args()
    if args.pythia and args.turn_on:
        turn_on(args.workers)
        return
    if args.pythia:
        pythia(args.s_over_b, args.seed, args.generate_only, args.qcd_parts, args.fit, args.workers)
        return
    total = 0.0
    for exponent in (0.5, 0.0):
        for with_signal in (True, False):
            text, dt = one(args.background, exponent, with_signal, args.seed)
            total += dt
            print(text + "\n")
    print(f"(hunt time: {total:.0f} s on one thread, four samples; seed {args.seed})")


if __name__ == "__main__":
    main()
