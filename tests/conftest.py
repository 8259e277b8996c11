"""Shared fixtures: tests write their own ROOT files and models into tmp_path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def ROOT():
    import hepsift.rdf

    return hepsift.rdf.load_library()


@pytest.fixture
def imt(ROOT):
    """Implicit multi-threading with 2 threads for the duration of one test."""
    ROOT.EnableImplicitMT(2)
    yield ROOT
    ROOT.DisableImplicitMT()


def mixed_arrays(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Branches of several types: float, double, int32, int64, uint32, bool."""
    rng = np.random.default_rng(seed)
    return {
        "x_f": rng.normal(size=n).astype(np.float32),
        "x_d": rng.normal(2.0, 3.0, size=n).astype(np.float64),
        "x_i": rng.integers(-5, 6, size=n).astype(np.int32),
        "x_l": rng.integers(0, 1000, size=n).astype(np.int64),
        "x_u": rng.integers(0, 7, size=n).astype(np.uint32),
        "x_b": rng.random(n) < 0.3,
    }


MIXED = ["x_f", "x_d", "x_i", "x_l", "x_u", "x_b"]


def write_tree(path: Path, arrays: dict[str, np.ndarray], tree: str = "Events", basket: int | None = None) -> Path:
    """A TTree with these branches (uproot's ``f[name] = arrays`` would write an RNTuple), in
    baskets of ``basket`` entries (default: one basket)."""
    import uproot

    with uproot.recreate(path) as f:
        f.mktree(tree, {k: (v.dtype if isinstance(v, np.ndarray) else v.type.content) for k, v in arrays.items()})
        n = len(next(iter(arrays.values())))
        step = basket or max(n, 1)
        for start in range(0, max(n, 1), step):
            f[tree].extend({k: v[start:start + step] for k, v in arrays.items()})
    return path


@pytest.fixture
def mixed_file(tmp_path):
    """A 5000-event ROOT file with the MIXED branches; returns (path, arrays)."""
    arrays = mixed_arrays(5000)
    return write_tree(tmp_path / "mixed.root", arrays), arrays


def torch_mlp(n_in: int, hidden=(16, 16), seed: int = 0):
    import torch

    torch.manual_seed(seed)
    layers: list = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.Tanh()]
        width = h
    layers += [torch.nn.Linear(width, 1), torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers).eval()


@pytest.fixture
def mlp_onnx(tmp_path):
    """An MLP over the MIXED features exported with hepsift.export.to_onnx (torch.onnx)."""
    from hepsift.export import to_onnx

    X = np.stack([v.astype(np.float32) for v in mixed_arrays(512, seed=9).values()], axis=1)
    return to_onnx(torch_mlp(6), tmp_path / "mlp.onnx", feature_names=MIXED, sample=X,
                   mean=X.mean(axis=0), scale=X.std(axis=0) + 1e-3)


def run(cmd: list[str], **kw):
    import subprocess

    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(sys.executable)) + os.pathsep + env.get("PATH", "")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


class threads:
    """``with threads(ROOT, n):`` runs the block with ImplicitMT(n) (n > 1) or single-threaded."""

    def __init__(self, ROOT, n: int) -> None:
        self.ROOT, self.n = ROOT, n

    def __enter__(self):
        if self.n > 1:
            self.ROOT.EnableImplicitMT(self.n)
        return self.ROOT

    def __exit__(self, *exc) -> None:
        if self.n > 1:
            self.ROOT.DisableImplicitMT()
