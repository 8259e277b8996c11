"""Generation driver: configuration, seeding, parallel execution, assembly and output."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from hepsift._estimator import Config
from hepsift._workers import usable_cores
from hepsift.errors import ConfigurationError, DataError
from hepsift.events.detector import DetectorConfig
from hepsift.events.processes import get_process

__all__ = [
    "GenerationConfig",
    "generate",
    "generate_many",
    "generate_preset",
    "demo_dataset",
    "sample_name",
    "PRESETS",
]

#: Version of the file layout; part of the configuration digest.
FILE_FORMAT = 3  # 2: FatJet_nConstituents, FatJet_truth; optional PFCand_*; 3: FatJet_tau1, _tau2, _tau3

#: Largest seed Pythia accepts is 900 000 000; per-chunk seeds are derived from the user seed.
_PYTHIA_SEED_MAX = 900_000_000


@dataclass
class GenerationConfig(Config):
    """Everything that determines the content of one generated file.

    Attributes
    ----------
    process
        Process name (see :data:`hepsift.events.PROCESSES`).
    events
        Number of events to generate (all slices together).
    seed
        Master seed; the Pythia and detector seeds of every chunk derive from it.
    mass
        Signal mass in GeV (0 for backgrounds; ``None`` picks the process default).
    chunk_size
        Events per independent Pythia run (the unit of parallel work); part of the
        configuration because it fixes the random streams.
    pythia_settings
        Extra Pythia settings appended to the process settings (e.g. ``"PartonLevel:MPI =
        off"``).
    detector
        Detector-model parameters.
    constituents
        Also store every visible particle as the ``PFCand_*`` collection (with the index of
        the ``Jet`` and ``FatJet`` it belongs to); files grow several-fold (see the README).

    Examples
    --------
    >>> cfg = GenerationConfig("ttbar", events=100, seed=1)
    >>> GenerationConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    process: str
    events: int
    seed: int
    mass: float | None = None
    chunk_size: int = 1000
    pythia_settings: tuple[str, ...] = ()
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    constituents: bool = False

    def validated(self) -> GenerationConfig:
        """A copy with the mass resolved and every field checked.

        Raises
        ------
        ConfigurationError
            Unknown process, bad mass, non-positive event count, negative seed, ...
        """
        proc = get_process(self.process)
        mass = proc.resolve_mass(self.mass)
        if isinstance(self.events, bool) or not isinstance(self.events, (int, np.integer)) or self.events < 1:
            raise ConfigurationError(f"events must be a positive integer, got {self.events!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**63:
            raise ConfigurationError(f"seed must be an integer in [0, 2**63), got {self.seed!r}")
        if not isinstance(self.chunk_size, (int, np.integer)) or self.chunk_size < 1:
            raise ConfigurationError(f"chunk_size must be a positive integer, got {self.chunk_size!r}")
        if not isinstance(self.constituents, (bool, np.bool_)):
            raise ConfigurationError(f"constituents must be True or False, got {self.constituents!r}")
        settings = tuple(str(s) for s in self.pythia_settings)
        for s in settings:
            low = s.replace(" ", "").lower()
            if low.startswith("random:seed") or low.startswith("random:setseed"):
                raise ConfigurationError("set the seed with seed=, not with a Pythia setting")
        return replace(self, mass=mass, events=int(self.events), seed=int(self.seed),
                       chunk_size=int(self.chunk_size), pythia_settings=settings,
                       constituents=bool(self.constituents))  # fmt: skip

    def digest(self) -> str:
        """A short stable hash (16 hex digits) of the configuration, the hepsift version and the file format."""
        import hashlib
        import json

        from hepsift._version import __version__

        data = {"config": self.validated().to_dict(), "version": __version__, "format": FILE_FORMAT}
        return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]

    def slice_settings(self) -> list[list[str]]:
        """Full Pythia settings for each generator slice."""
        proc = get_process(self.process)
        return [[*s, *self.pythia_settings] for s in proc.pythia_settings(float(self.mass or 0.0))]

    def slice_events(self) -> list[int]:
        """Events per slice: an equal share, the remainder going to the first slices."""
        n = len(get_process(self.process).slices)
        base, extra = divmod(self.events, n)
        return [base + (1 if i < extra else 0) for i in range(n)]


def sample_name(process: str, mass: float | None = None) -> str:
    """File stem of a sample: ``ttbar``, ``zprime_tt_m1000``."""
    proc = get_process(process)
    if not proc.signal:
        return proc.name
    return f"{proc.name}_m{proc.resolve_mass(mass):g}"


def _tasks(cfg: GenerationConfig, job: int) -> list[Any]:
    from hepsift.events._worker import Task

    proc = get_process(cfg.process)
    det = cfg.detector.to_dict()
    tasks = []
    mass_key = int(round(float(cfg.mass or 0.0) * 1000))
    for s, (settings, n_slice) in enumerate(zip(cfg.slice_settings(), cfg.slice_events(), strict=True)):
        n_chunks = -(-n_slice // cfg.chunk_size)
        for c in range(n_chunks):
            n = min(cfg.chunk_size, n_slice - c * cfg.chunk_size)
            entropy = [cfg.seed, proc.pid, mass_key, s, c]
            state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
            tasks.append(
                Task(job=job, slice=s, chunk=c, events=n, settings=tuple(settings),
                     pythia_seed=int(state % _PYTHIA_SEED_MAX) + 1,
                     detector_seed=(*entropy, 1), detector=det, constituents=cfg.constituents)  # fmt: skip
            )
    return tasks


def _check_writable(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise ConfigurationError(f"cannot write the output {path}: {exc.strerror or exc}") from exc
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigurationError(f"cannot write the output {path}: permission denied")


def _reusable(path: Path, cfg_digest: str) -> bool:
    if not path.is_file():
        return False
    from hepsift.io.root import read_provenance

    try:
        prov = read_provenance(path)
    except DataError:
        return False
    return prov.get("config_digest") == cfg_digest


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("pythia8mc", "fastjet", "awkward", "uproot", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _assemble(cfg: GenerationConfig, results: list[tuple[Any, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Chunk results (ordered by slice, chunk) -> branches and provenance of one file."""
    import awkward as ak

    from hepsift._version import __version__
    from hepsift.events.detector import FATJET_TRUTH
    from hepsift.images import PARTICLE_TYPES
    from hepsift.io.features import FEATURES

    proc = get_process(cfg.process)
    settings = cfg.slice_settings()
    slices = []
    weights = []
    slice_ids = []
    for s in range(len(settings)):
        rs = [r for t, r in results if t.slice == s]
        n_acc = np.array([r["n_accepted"] for r in rs], dtype=float)
        sig = np.array([r["sigma_pb"] for r in rs])
        err = np.array([r["sigma_err_pb"] for r in rs])
        sigma = float(np.sum(n_acc * sig) / np.sum(n_acc))
        sigma_err = float(np.sqrt(np.sum((n_acc * err) ** 2)) / np.sum(n_acc))
        gw = np.concatenate([r["branches"]["gen_weight"] for r in rs])
        weights.append(gw * sigma / np.sum(gw))
        slice_ids.append(np.full(len(gw), s, dtype=np.int32))
        slices.append({
            "settings": settings[s], "events": int(len(gw)), "xsec_pb": sigma, "xsec_err_pb": sigma_err,
            "n_tried": int(sum(r["n_tried"] for r in rs)), "n_accepted": int(n_acc.sum()),
        })  # fmt: skip
    n = int(sum(len(w) for w in weights))
    first = results[0][1]["branches"]
    merged: dict[str, Any] = {
        "event": np.arange(n, dtype=np.uint64),
        "process_id": np.full(n, proc.pid, dtype=np.int32),
        "signal_mass": np.full(n, float(cfg.mass or 0.0), dtype=np.float32),
        "weight": np.concatenate(weights),
        "gen_slice": np.concatenate(slice_ids),
    }
    for name, value in first.items():
        parts = [r["branches"][name] for _, r in results]
        merged[name] = ak.concatenate(parts) if isinstance(value, ak.Array) else np.concatenate(parts)
    xsec = float(sum(s["xsec_pb"] for s in slices))
    xsec_err = float(np.sqrt(sum(s["xsec_err_pb"] ** 2 for s in slices)))
    provenance = {
        "hepsift_version": __version__,
        "file_format": FILE_FORMAT,
        "config_digest": cfg.digest(),
        "config": cfg.to_dict(),
        "process": proc.name,
        "process_id": proc.pid,
        "process_description": proc.description,
        "signal": proc.signal,
        "signal_mass_gev": float(cfg.mass or 0.0),
        "seed": cfg.seed,
        "events_generated": n,
        "xsec_pb": xsec,
        "xsec_err_pb": xsec_err,
        "slices": slices,
        "pythia_version": _versions()["pythia8mc"],
        "software": _versions(),
        "detector": cfg.detector.to_dict(),
        "features": dict(FEATURES),
        "codes": {
            "FatJet_truth": {str(k): v for k, v in FATJET_TRUTH.items()},
            **({"PFCand_type": {str(v): k for k, v in PARTICLE_TYPES.items()}} if cfg.constituents else {}),
        },
        "weight": "pb per event: sigma_slice / N_slice (times the Pythia event weight normalised "
        "to its mean); sum(weight) * L[pb^-1] = expected events",
    }
    return merged, provenance


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="ev", disable=not enabled, file=sys.stderr, leave=False, dynamic_ncols=True)


def generate_many(
    jobs: Sequence[tuple[GenerationConfig, str | os.PathLike[str]]],
    *,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Generate several files, sharing the worker processes between them.

    Parameters
    ----------
    jobs
        ``(config, output path)`` pairs.
    workers
        Worker processes (default: the usable cores); 1 runs in this process.
    progress
        Show a tqdm progress bar (on stderr).
    overwrite
        Regenerate even when a file with the same configuration already exists.
    log
        Called with one line per file written or reused.

    Returns
    -------
    list[pathlib.Path]
        The output files, in the order of ``jobs``.
    """
    from hepsift.events._worker import run_task

    plan = []
    for cfg, out in jobs:
        cfg = cfg.validated()
        path = Path(out)
        if path.is_dir() or str(out).endswith(("/", os.sep)):
            path = path / f"{sample_name(cfg.process, cfg.mass)}.root"
        _check_writable(path)
        plan.append((cfg, path))
    paths = [p for _, p in plan]
    todo = []
    for j, (cfg, path) in enumerate(plan):
        if not overwrite and _reusable(path, cfg.digest()):
            if log:
                log(f"reusing {path} (same configuration)")
            continue
        todo.append(j)
    if not todo:
        return paths
    tasks = [t for j in todo for t in _tasks(plan[j][0], j)]
    tasks.sort(key=lambda t: -t.events)  # big chunks first balances the workers
    pending = {j: sum(1 for t in tasks if t.job == j) for j in todo}
    done: dict[int, list[tuple[Any, dict[str, Any]]]] = {j: [] for j in todo}
    total = sum(t.events for t in tasks)
    n_workers = min(workers or usable_cores(), len(tasks))
    desc = plan[todo[0]][0].process if len(todo) == 1 else f"{len(todo)} samples"

    def finish(task: Any, result: dict[str, Any]) -> None:
        done[task.job].append((task, result))
        pending[task.job] -= 1
        if pending[task.job] == 0:
            cfg, path = plan[task.job]
            ordered = sorted(done.pop(task.job), key=lambda tr: (tr[0].slice, tr[0].chunk))
            branches, provenance = _assemble(cfg, ordered)
            from hepsift.io.root import write_events

            write_events(path, branches, provenance=provenance, extra_strings={"process": cfg.process})
            if log:
                cpu = sum(r["cpu_s"] for _, r in ordered)
                log(f"wrote {path}: {len(branches['weight'])} events, "
                    f"sigma = {provenance['xsec_pb']:.4g} +- {provenance['xsec_err_pb']:.2g} pb, "
                    f"{cpu:.1f} CPU s ({len(branches['weight']) / max(cpu, 1e-9):.0f} events/s per core)")  # fmt: skip

    if n_workers <= 1:
        with _progress(total, desc, progress) as bar:
            for task in tasks:
                result = run_task(task)
                bar.update(task.events)
                finish(task, result)
    else:
        from contextlib import closing

        from hepsift._workers import map_unordered

        # subprocess workers, not multiprocessing: scripts without a main guard, standard input,
        # notebooks and Dask workers (daemonic) all work; leaving early kills the workers
        chunks = map_unordered(run_task, tasks, n_workers=n_workers, label="generation chunk")
        with closing(chunks), _progress(total, desc, progress) as bar:
            for k, result in chunks:
                bar.update(tasks[k].events)
                finish(tasks[k], result)
    return paths


def generate(
    process: str,
    *,
    mass: float | None = None,
    events: int,
    seed: int,
    output: str | os.PathLike[str],
    chunk_size: int = 1000,
    pythia_settings: Sequence[str] = (),
    detector: DetectorConfig | None = None,
    constituents: bool = False,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Generate events of one process with Pythia 8, pass them through the detector model and
    write a ROOT file (tree ``Events``).

    Parameters
    ----------
    process
        Process name, e.g. ``"ttbar"``, ``"zprime_tt"`` (see :func:`list_processes`).
    mass
        Signal mass in GeV (signals only; default: the process's benchmark default).
    events
        Number of events.
    seed
        Master seed: the same seed gives the same events, whatever ``workers`` is.
    output
        Output ROOT file, or a folder (existing, or written with a trailing ``/``): the file is
        then named after the sample, e.g. ``zprime_tt_m1000.root``.
    chunk_size
        Events per independent Pythia run (unit of parallel work).
    pythia_settings
        Extra Pythia settings (strings such as ``"PartonLevel:MPI = off"``).
    detector
        Detector parameters (default :class:`DetectorConfig`).
    constituents
        Also store the ``PFCand_*`` collection (every visible particle).
    workers
        Worker processes (default: usable cores).
    progress
        Show a progress bar.
    overwrite
        Regenerate even if ``output`` already holds the same configuration.

    Returns
    -------
    pathlib.Path
        The file written (or reused).

    Raises
    ------
    ConfigurationError
        Unknown process, invalid mass/events/seed, or an output that cannot be written.
    """
    cfg = GenerationConfig(
        process=process, events=events, seed=seed, mass=mass, chunk_size=chunk_size,
        pythia_settings=tuple(pythia_settings), detector=detector or DetectorConfig(), constituents=constituents,
    )  # fmt: skip
    return generate_many([(cfg, output)], workers=workers, progress=progress, overwrite=overwrite)[0]


#: Named sets of samples: name -> (process, mass or None, events) tuples.
PRESETS: dict[str, tuple[tuple[str, float | None, int], ...]] = {
    # The default data set of the demo (about 3 minutes on 2 cores): enough t tbar-like
    # background and Z' signal at the five HEPMASS masses to train a parameterised
    # classifier, plus the other backgrounds and two signals of different topology.
    "demo": (
        ("ttbar", None, 8000),
        ("wjets", None, 3000),
        ("zjets", None, 2000),
        ("diboson", None, 1500),
        ("qcd", None, 12000),
        ("zprime_tt", 500.0, 1500),
        ("zprime_tt", 750.0, 1500),
        ("zprime_tt", 1000.0, 1500),
        ("zprime_tt", 1250.0, 1500),
        ("zprime_tt", 1500.0, 1500),
        ("tprime_pair", 1200.0, 1500),
        ("wprime_lnu", 2000.0, 1000),
    ),
    # A smoke test of the whole chain (about 45 s of generation on 2 cores): a few hundred
    # events of everything, and enough t tbar and QCD for the demo's limit (background MC
    # statistics near 13% in five score bins).
    "smoke": (
        ("ttbar", None, 4000),
        ("wjets", None, 300),
        ("zjets", None, 200),
        ("diboson", None, 200),
        ("qcd", None, 4000),
        ("zprime_tt", 1000.0, 300),
        ("tprime_pair", 1200.0, 200),
        ("wprime_lnu", 2000.0, 200),
    ),
    # Boosted top, W and Z jets against QCD jets (FatJet_truth labels, PFCand_* constituents):
    # all-hadronic Z' -> t tbar and W' -> W Z at 1.5-3 TeV, QCD in pT-hat slices from 300 GeV.
    "boosted": (
        *(("zprime_tt_had", m, 1000) for m in (1500.0, 2000.0, 2500.0, 3000.0)),
        *(("wprime_wz_had", m, 1000) for m in (1500.0, 2000.0, 2500.0, 3000.0)),
        ("qcd_boosted", None, 8000),
    ),
    # A larger set for studies (about 10x the demo).
    "large": (
        ("ttbar", None, 100000),
        ("wjets", None, 30000),
        ("zjets", None, 20000),
        ("diboson", None, 15000),
        ("qcd", None, 20000),
        *(("zprime_tt", m, 10000) for m in (500.0, 750.0, 1000.0, 1250.0, 1500.0)),
        *(("tprime_pair", m, 10000) for m in (1000.0, 1200.0, 1400.0)),
        *(("wprime_lnu", m, 5000) for m in (1000.0, 2000.0, 3000.0)),
    ),
}


#: Presets whose files store the constituents (``PFCand_*``) unless told otherwise.
CONSTITUENT_PRESETS: frozenset[str] = frozenset({"boosted"})


def generate_preset(
    name: str,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 1,
    constituents: bool | None = None,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Generate (or reuse) every sample of a named preset into ``out_dir``.

    ``constituents`` stores the ``PFCand_*`` collection; ``None`` takes the preset's choice
    (on for the presets of :data:`CONSTITUENT_PRESETS`, i.e. ``boosted``; off for the others).

    Returns
    -------
    dict[str, pathlib.Path]
        Sample name (``ttbar``, ``zprime_tt_m1000``, ...) -> file.
    """
    if name not in PRESETS:
        raise ConfigurationError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"{out} exists and is not a folder")
    jobs = []
    names = []
    store = name in CONSTITUENT_PRESETS if constituents is None else constituents
    for process, mass, events in PRESETS[name]:
        cfg = GenerationConfig(process=process, events=events, seed=seed, mass=mass, constituents=store)
        stem = sample_name(process, mass)
        names.append(stem)
        jobs.append((cfg, out / f"{stem}.root"))
    paths = generate_many(jobs, workers=workers, progress=progress, overwrite=overwrite, log=log)
    return dict(zip(names, paths, strict=True))


def demo_dataset(out_dir: str | os.PathLike[str], *, seed: int = 1, workers: int | None = None,
                 progress: bool = True) -> dict[str, Path]:  # fmt: skip
    """The default data set of the demo (preset ``"demo"``), generated once and then reused.

    Parameters
    ----------
    out_dir
        Folder for the ROOT files (created if needed).
    seed
        Master seed.
    workers
        Worker processes (default: usable cores).
    progress
        Show a progress bar.

    Returns
    -------
    dict[str, pathlib.Path]
        Sample name -> file; backgrounds ``ttbar``, ``wjets``, ``zjets``, ``diboson``,
        ``qcd``; signals ``zprime_tt_m500`` ... ``zprime_tt_m1500``, ``tprime_pair_m1200``,
        ``wprime_lnu_m2000``.
    """
    return generate_preset("demo", out_dir, seed=seed, workers=workers, progress=progress)
