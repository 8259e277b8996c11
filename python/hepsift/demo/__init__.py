"""``hepsift demo``: the whole chain on the embedded default data, as an application of the library.

* :mod:`hepsift.demo.chain`: :func:`run_demo`, events (:mod:`hepsift.events`) -> training
  (:mod:`hepsift.models`) -> ONNX export -> scoring inside RDataFrame (:mod:`hepsift.rdf`) ->
  anomaly detection -> statistics;
* :mod:`hepsift.demo.statistics`: the demo's statistics with their checks
  (:func:`~hepsift.demo.statistics.demo_statistics`: significance, luminosity reach, the CLs
  limit refitted with plain pyhf and compared with a back-of-envelope estimate;
  :func:`~hepsift.demo.statistics.demo_nplm`; the fake-lepton rate of the QCD template).

The demo sits above the library: it imports any sub-package, and no library package imports it
(``tests/test_layering.py``). Reusable pieces live in the library (:func:`hepsift.stats.score_histograms`,
:func:`hepsift.nplm.plot_nplm_null`, :func:`hepsift.io.read_tree`, :mod:`hepsift.metrics`).
"""

from __future__ import annotations

from hepsift.demo.chain import run_demo

__all__ = ["run_demo"]
