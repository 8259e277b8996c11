"""One unit of generation work: a Pythia instance, a number of events, the detector model.

Runs in a worker process; takes and returns only plain, picklable data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, EvaluationError

#: Events asked of Pythia per ``nextBatch`` call.
_BATCH = 250


@dataclass(frozen=True)
class Task:
    """Work for one worker call (all picklable)."""

    job: int  # index of the output file
    slice: int  # generator slice
    chunk: int  # chunk within the slice
    events: int
    settings: tuple[str, ...]  # full Pythia settings (beam, process, slice, user)
    pythia_seed: int  # 1 .. 900 000 000
    detector_seed: tuple[int, ...]  # entropy for numpy's SeedSequence
    detector: dict[str, Any]  # DetectorConfig.to_dict()
    constituents: bool = False  # store the PFCand_* collection


def make_pythia(settings: tuple[str, ...] | list[str], seed: int) -> Any:
    """A quiet, initialised ``pythia8mc.Pythia`` with the given settings and seed."""
    try:
        import pythia8mc
    except ImportError as exc:  # pragma: no cover - dependency missing
        from hepsift.errors import DependencyError

        raise DependencyError("event generation needs Pythia 8: pip install pythia8mc==8.317.2") from exc
    from hepsift.generate.processes import QUIET_SETTINGS

    py = pythia8mc.Pythia("", False)
    for s in (*QUIET_SETTINGS, *settings, "Random:setSeed = on", f"Random:seed = {seed}"):
        if not py.readString(s):
            raise ConfigurationError(f"Pythia rejected the setting {s!r}")
    if not py.init():
        raise ConfigurationError("Pythia failed to initialise with settings: " + "; ".join(settings))
    return py


def run_task(task: Task) -> dict[str, Any]:
    """Generate ``task.events`` events and pass them through the detector model.

    Returns
    -------
    dict
        ``branches`` (object branches, flat features, generator info), ``sigma_pb``,
        ``sigma_err_pb``, ``n_accepted``, ``n_tried`` and ``pythia_weight_sum`` for the chunk,
        and ``cpu_s``, the CPU time it took.
    """
    import time

    import awkward as ak

    from hepsift.generate.detector import DetectorConfig, simulate
    from hepsift.io.features import compute_features

    cpu0 = time.process_time()
    py = make_pythia(task.settings, task.pythia_seed)
    detector = DetectorConfig.from_dict(task.detector)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(task.detector_seed))))

    def charge_type(ids: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(ids, return_inverse=True)
        return np.array([py.particleData.chargeType(int(i)) for i in unique], dtype=np.int64)[inverse]

    parts: list[dict[str, Any]] = []
    remaining = task.events
    failures = 0
    while remaining > 0:
        # small batches: the full particle record (~1500 particles per event) stays small
        run = py.nextBatch(min(_BATCH, remaining))
        if len(run) == 0:
            failures += 1
            if failures > 10:
                raise EvaluationError("Pythia keeps failing to generate events for: " + "; ".join(task.settings))
            continue
        remaining -= len(run)
        out = simulate(run.prt, detector, rng, constituents=task.constituents, charge_type=charge_type)
        out.update(compute_features(out))
        out["gen_mhat"] = ak.to_numpy(run.info.mHat).astype(np.float32)
        out["gen_pthat"] = np.sqrt(ak.to_numpy(run.info.pT2Hat)).astype(np.float32)
        out["gen_weight"] = ak.to_numpy(ak.firsts(run.info.weights)).astype(np.float64)
        parts.append(out)
        del run
    info = py.infoPython()
    branches = {
        k: (ak.concatenate([p[k] for p in parts]) if isinstance(v, ak.Array) else np.concatenate([p[k] for p in parts]))
        for k, v in parts[0].items()
    }
    weights = branches["gen_weight"]
    return {
        "branches": branches,
        "sigma_pb": float(info.sigmaGen()) * 1e9,  # mb -> pb
        "sigma_err_pb": float(info.sigmaErr()) * 1e9,
        "n_accepted": int(info.nAccepted()),
        "n_tried": int(info.nTried()),
        "pythia_weight_sum": float(np.sum(weights)),
        "cpu_s": time.process_time() - cpu0,
    }
