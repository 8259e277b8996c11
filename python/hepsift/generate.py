"""Deprecated alias of :mod:`hepsift.events` (Pythia 8 + detector model), its former name.

``import hepsift.generate`` warns with :class:`DeprecationWarning` and gives the same objects as
:mod:`hepsift.events`; ``hepsift.generate.core`` and the other sub-modules are the modules of
:mod:`hepsift.events`. Use ``hepsift.events``: this alias will be removed.
"""

from __future__ import annotations

import importlib
import sys
import warnings

warnings.warn("hepsift.generate is deprecated; use hepsift.events (Pythia 8 + detector model)",
              DeprecationWarning, stacklevel=2)

from hepsift.events import *  # noqa: E402,F403
from hepsift.events import __all__  # noqa: E402,F401

for _name in ("core", "detector", "processes"):
    sys.modules[f"{__name__}.{_name}"] = importlib.import_module(f"hepsift.events.{_name}")
