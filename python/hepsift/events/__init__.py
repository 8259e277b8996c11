"""Event generation: Pythia 8 events through a parametric detector model into ROOT ntuples.

The chain mirrors MadGraph -> Pythia 8 -> Delphes -> ROOT with Pythia 8 (``pythia8mc``) for
the hard process, shower and hadronisation, fastjet for jets, and the small detector model
of :mod:`hepsift.events.detector` in place of Delphes. Each output file holds the tree
``Events`` (object branches ``Jet_pt[nJet]`` ..., per-event ``weight`` in pb, process id,
signal mass, and the flat features of :data:`hepsift.io.FEATURES`) and a JSON provenance
record (:func:`hepsift.io.read_provenance`).

Examples
--------
Generate 20 000 Z' -> t tbar events at 1 TeV::

    from hepsift.events import generate
    path = generate("zprime_tt", mass=1000, events=20000, seed=1, output="zp1000.root")

Boosted top jets with their constituents (``PFCand_*``, for jet images; see
:mod:`hepsift.images`)::

    generate("zprime_tt_had", mass=2000, events=1000, seed=1, output="zp.root", constituents=True)

The default data set of the demo (reused when already there)::

    from hepsift.events import demo_dataset
    files = demo_dataset("data/")          # {"ttbar": Path(...), "zprime_tt_m1000": ...}

Command line: ``hepsift generate --process zprime_tt --mass 1000 --events 20000 --seed 1
-o out.root`` or ``hepsift generate --preset demo -o data/``.
"""

from __future__ import annotations

from hepsift.events.core import (
    PRESETS,
    GenerationConfig,
    demo_dataset,
    generate,
    generate_many,
    generate_preset,
    sample_name,
)
from hepsift.events import detector as _detector
from hepsift.events.detector import (
    BTagConfig,
    DetectorConfig,
    ElectronConfig,
    FatJetConfig,
    JetConfig,
    MetConfig,
    MuonConfig,
    PhotonConfig,
    nsubjettiness,
)
from hepsift.events.processes import PROCESSES, Process, get_process, list_processes

__all__ = [
    "generate",
    "generate_many",
    "generate_preset",
    "demo_dataset",
    "sample_name",
    "GenerationConfig",
    "PRESETS",
    "PROCESSES",
    "Process",
    "get_process",
    "list_processes",
    "nsubjettiness",
    *(n for n in _detector.__all__ if n.endswith("Config")),  # the detector-model configurations
]
