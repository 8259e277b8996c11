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

Usage::

    python bench/cwola.py [--background 400000] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

from scipy.stats import norm

from hepsift.models import BDTClassifier
from hepsift.weak import cwola_hunt, dijet_toy

SR = (3200.0, 3800.0)
SB = ((2600.0, 3200.0), (3800.0, 4600.0))
EFFS = (1.0, 0.1, 0.01, 0.001)


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
    lines = ["| eff_B | true S in SR | true B in SR | observed | fitted B | chi2/ndf | Z_local | sculpting p |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in hunt.rows:
        keep = row.passed(hunt.scores, hunt.folds)
        s, b = int((keep & sr & toy.signal).sum()), int((keep & sr & ~toy.signal).sum())
        sc = "-" if row.sculpting is None else row.sculpting.p_text(2)
        if row.result is None:
            lines.append(f"| {row.efficiency:g} | {s} | {b} | refused: {row.refused} | | | | {sc} |")
            continue
        r = row.result
        lines.append(f"| {row.efficiency:g} | {s} | {b} | {r.observed:.0f} | {r.background:.1f} +- "
                     f"{r.background_uncertainty:.1f} | {r.chi2:.1f}/{r.ndf} | {r.significance:.2f} | {sc} |")
    head = (f"**{'correlated' if exponent else 'decorrelated'} jet masses, "
            f"{'background + signal' if with_signal else 'background only'}** ({len(toy.mass)} events, "
            f"{n_sig} signal of which {int((toy.signal & sr).sum())} in the signal region on "
            f"{int((sr & ~toy.signal).sum())} background)")
    return head + "\n\n" + "\n".join(lines), dt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", type=float, default=400_000, help="expected background events in 2.5-5 TeV")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    total = 0.0
    for exponent in (0.5, 0.0):
        for with_signal in (True, False):
            text, dt = one(args.background, exponent, with_signal, args.seed)
            total += dt
            print(text + "\n")
    print(f"(hunt time: {total:.0f} s on one thread, four samples; seed {args.seed})")


if __name__ == "__main__":
    main()
