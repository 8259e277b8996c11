"""Weakly supervised resonance searches: CWoLa hunting and the sideband bump hunt.

Classification without labels (Metodiev, Nachman, Thaler, arXiv:1708.02949) trains a
classifier of signal region against sidebands of a resonance mass; a cut on its out-of-fold
score enriches a signal that differs in the other features, and a fit of the sideband spectrum
gives the background under it (Collins, Howe, Nachman, arXiv:1805.02664)::

    from hepsift.weak import cwola_hunt
    hunt = cwola_hunt(mjj, X, signal_region=(3300, 3700), sidebands=((2700, 3300), (3700, 4500)),
                      efficiencies=(1.0, 0.1, 0.01, 0.001), seed=1)
    print(hunt.table())

* :func:`cwola_scores`: out-of-fold scores (k folds; no event scored by a model that saw it);
* :func:`bump_hunt`: binned Poisson fit of the sidebands (dijet function or exp-polynomial in
  ln m), interpolated background with its fit uncertainty, local significance
  (:func:`discovery_significance`), refused when the fit fails;
* :func:`sculpting_check`: does a cut change the mass shape of the background?
* :func:`cwola_hunt`: all three at fixed background efficiencies;
* :func:`dijet_toy`: a parametric dijet search sample for tests and demonstrations;
* :func:`dijet_events`: m_JJ and jet features of generated events (:mod:`hepsift.events` files),
  :func:`inject_signal`: background plus signal at a chosen S/B in the signal region.

``hepsift cwola`` runs the hunt on ROOT files and DarkMachines CSV files.
"""

from __future__ import annotations

from hepsift.weak._dijet import DijetEvents, dijet_events, inject_signal
from hepsift.weak._bump import FITS, BumpHuntResult, bump_hunt, dijet_function, discovery_significance
from hepsift.weak._hunt import CWoLaHunt, HuntRow, cwola_hunt, sideband_threshold
from hepsift.weak._scores import cwola_scores
from hepsift.weak._sculpt import SculptingResult, sculpting_check
from hepsift.weak.toy import TOY_FEATURES, DijetToy, dijet_toy

__all__ = [
    "FITS",
    "TOY_FEATURES",
    "BumpHuntResult",
    "CWoLaHunt",
    "DijetEvents",
    "DijetToy",
    "HuntRow",
    "SculptingResult",
    "bump_hunt",
    "cwola_hunt",
    "cwola_scores",
    "dijet_events",
    "dijet_function",
    "dijet_toy",
    "discovery_significance",
    "inject_signal",
    "sculpting_check",
    "sideband_threshold",
]
