"""Score ONNX models inside ROOT's RDataFrame event loop.

``import hepsift.rdf`` loads hepsift's C++ library into ROOT and declares its headers to
cling; nothing else is needed::

    import ROOT, hepsift.rdf
    df = ROOT.RDataFrame("Events", "events.root")
    df = hepsift.rdf.define(df, "score", "model.onnx")          # inputs from the model
    h = df.Filter("score > 0.9").Histo1D(("m", "", 50, 0, 500), "m_jj")

The score is computed in the event loop itself, by default in batches streamed from the file
where that applies and per event elsewhere (``strategy_for`` tells which; one ONNX Runtime
session shared by all slots, per-slot buffers), so it can be cut on, histogrammed and
written with ``Snapshot`` in the same pass over the data.

C++ exceptions thrown by hepsift, also from inside an event loop that the user starts
(``GetValue()``, ``Snapshot``, ``AsNumpy``), are instances of the matching
:mod:`hepsift.errors` classes, so ``except hepsift.NonFiniteInputError`` works.
"""

from __future__ import annotations

from typing import Any

from hepsift.rdf._define import column_names, define, strategy_for
from hepsift.rdf._library import load_library
from hepsift.rdf._model import Model
from hepsift.rdf._sample import sample

__all__ = ["Model", "define", "sample", "strategy_for", "load_library", "column_names"]


def __getattr__(name: str) -> Any:
    # hepsift.rdf.generate is the former name of hepsift.rdf.sample, kept as a deprecated alias
    if name == "generate":
        import warnings

        warnings.warn("hepsift.rdf.generate is deprecated; use hepsift.rdf.sample (the same function)",
                      DeprecationWarning, stacklevel=2)
        return sample
    raise AttributeError(f"module 'hepsift.rdf' has no attribute {name!r}")
