"""Packaging that fits an existing environment: ranges in pyproject.toml, exact versions in
constraints.txt, heavy parts as extras with one install hint, one version."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import pytest
from conftest import REPO

import hepsift
from hepsift._deps import install_hint, optional_import

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
NAME = re.compile(r"^[A-Za-z0-9_.\-]+")


def names(requirements):
    return {NAME.match(r).group(0).lower() for r in requirements if not r.startswith("hepsift")}


def test_dependencies_are_ranges_and_constraints_pin_them_all():
    deps = PROJECT["dependencies"]
    assert not [d for d in deps if "==" in d], "pyproject.toml pins exact versions; put them in constraints.txt"
    pinned = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt line {line!r} is not an exact pin"
            pinned[name.lower()] = version
    extras = PROJECT["optional-dependencies"]
    everything = names(deps) | {n for reqs in extras.values() for n in names(reqs)}
    assert everything <= set(pinned), f"not pinned in constraints.txt: {sorted(everything - set(pinned))}"


def test_heavy_parts_are_extras():
    extras = PROJECT["optional-dependencies"]
    core = names(PROJECT["dependencies"])
    for extra, dists in {"generate": {"pythia8mc", "fastjet"}, "tune": {"optuna"}, "flows": {"zuko"},
                         "dask": {"dask", "distributed"}, "root": {"root"}}.items():
        assert names(extras[extra]) == dists
        assert not dists & core
    assert extras["all"] == ["hepsift[root,generate,tune,flows,dask]"]


def test_one_version():
    assert metadata.version("hepsift") == hepsift.__version__
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert "python/hepsift/_version.py" in cmake and "project(hepsift VERSION ${_hepsift_version}" in cmake


def test_install_hint_names_the_extra():
    assert install_hint("optuna", "Bayesian optimisation") == (
        "Bayesian optimisation needs optuna, from hepsift's 'tune' extra: pip install 'hepsift[tune]'")
    assert "pip install 'hepsift[generate]'" in install_hint("pythia8", "event generation")
    assert install_hint("pyhf", "limits") == "limits needs pyhf: pip install pyhf"
    with pytest.raises(hepsift.DependencyError, match=r"no_such_module_xyz: pip install no_such_module_xyz"):
        optional_import("no_such_module_xyz", "this feature")
