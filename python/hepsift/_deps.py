"""Optional dependencies: one import helper that says which extra to install.

hepsift's core (training, export, statistics) needs only its required dependencies; event
generation, hyper-parameter search, normalising flows, Dask and PyROOT are extras
(``pip install 'hepsift[generate]'``, ``[tune]``, ``[flows]``, ``[dask]``, ``[root]``, or
``[all]``), so that hepsift installs into an existing analysis environment (an LCG view or a
conda environment with its own ROOT) without replacing what is there.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from hepsift.errors import DependencyError

__all__ = ["EXTRAS", "install_hint", "optional_import"]

#: Importable module -> (distribution on the package index, hepsift extra that installs it).
EXTRAS: dict[str, tuple[str, str | None]] = {
    "pythia8": ("pythia8mc", "generate"),
    "fastjet": ("fastjet", "generate"),
    "optuna": ("optuna", "tune"),
    "zuko": ("zuko", "flows"),
    "dask": ("dask", "dask"),
    "distributed": ("distributed", "dask"),
    "ROOT": ("ROOT", "root"),
    "torch": ("torch", None),
    "pyhf": ("pyhf", None),
    "matplotlib": ("matplotlib", None),
    "mplhep": ("mplhep", None),
    "skl2onnx": ("skl2onnx", None),
    "imblearn": ("imbalanced-learn", None),
}


def install_hint(module: str, purpose: str) -> str:
    """The message for a missing optional module: what needs it and what to install."""
    dist, extra = EXTRAS.get(module.split(".")[0], (module, None))
    if extra is None:
        return f"{purpose} needs {dist}: pip install {dist}"
    alternative = " (or use your own ROOT installation)" if extra == "root" else ""
    return f"{purpose} needs {dist}, from hepsift's '{extra}' extra: pip install 'hepsift[{extra}]'{alternative}"


def optional_import(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`hepsift.DependencyError` with :func:`install_hint`.

    Parameters
    ----------
    module : importable name, e.g. ``"optuna"`` or ``"pythia8"``
    purpose : what needs it, e.g. ``"Bayesian optimisation"`` (starts the message)
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(install_hint(module, purpose)) from exc
