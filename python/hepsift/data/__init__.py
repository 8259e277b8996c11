"""Training sets from ROOT ntuples: :class:`Dataset`.

A :class:`Dataset` holds a float32 feature matrix, integer labels, luminosity-normalised weights
(expected events), process names and an optional signal-mass parameter. It is built from ROOT
files with uproot (:meth:`Dataset.from_root`; hepsift's own ntuples or any tree), from arrays,
or from the ATLAS Higgs ML CSV sample. :func:`assign_background_masses` gives background events
the signal's mass hypotheses (for a parameterised classifier).

Missing values: hepsift's generator (like the ATLAS HiggsML data) writes :data:`MISSING` = -999
for features of absent objects (the third jet of a two-jet event). The policy is explicit
(:data:`MISSING_POLICIES`):

* ``keep`` (default): the sentinel stays. Trees split it off; :class:`hepsift.models.MLPClassifier`
  and the neural anomaly detectors fill it with ``min - std`` of the feature inside their graph
  (:class:`hepsift._missing.ImputingScaler`), so the exported file does the same in RDataFrame.
* ``drop_events``: remove every event that holds it.

Removing every column that holds it is the ``sanitised`` feature set.

Feature sets: ``full`` (every flat feature present) and ``sanitised`` (no holes: optionally
``require`` objects first, e.g. a large-R jet, then drop the columns that still have holes).

Example::

    from hepsift.data import Dataset
    ds = Dataset.from_root({"ttbar": "ttbar.root", "zprime": "zp1000.root"}, "full", luminosity=140e3)
    train, test = ds.split(0.3, seed=1)
"""

from __future__ import annotations

from hepsift.data._dataset import FEATURE_SETS, MISSING, MISSING_POLICIES, Dataset
from hepsift.data._masses import assign_background_masses

__all__ = ["Dataset", "FEATURE_SETS", "MISSING", "MISSING_POLICIES", "assign_background_masses"]
