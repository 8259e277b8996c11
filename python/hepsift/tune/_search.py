"""Hyper-parameter search: a genetic algorithm and Bayesian optimisation (optuna)."""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepsift._atomic import atomic_output
from hepsift.errors import ConfigurationError, DataError, HepsiftError

OBJECTIVES = ("auc", "accuracy", "asimov", "ams")

Objective = str | Callable[[Any, np.ndarray, np.ndarray, np.ndarray | None], float]


@dataclass
class Trial:
    """One evaluated configuration."""

    number: int
    params: dict[str, Any]
    objective: float
    seconds: float
    generation: int | None = None
    status: str = "ok"
    cached: bool = False


@dataclass
class SearchResult:
    """Outcome of a search: the best configuration and every trial."""

    objective: str
    best_params: dict[str, Any]
    best_objective: float
    trials: list[Trial] = field(default_factory=list)

    def generation_summary(self) -> list[dict[str, float]]:
        """Per generation: best, mean and worst objective (genetic search)."""
        gens = sorted({t.generation for t in self.trials if t.generation is not None})
        out = []
        for g in gens:
            vals = np.array([t.objective for t in self.trials if t.generation == g and np.isfinite(t.objective)])
            if len(vals):
                out.append({"generation": g, "best": float(vals.max()), "mean": float(vals.mean()),
                            "worst": float(vals.min()), "n": int(len(vals))})
        return out

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the result and every trial as JSON."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        data = {"objective": self.objective, "best_params": self.best_params, "best_objective": self.best_objective,
                "trials": [asdict(t) for t in self.trials]}
        with atomic_output(p, overwrite=True) as tmp:
            tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
        return p

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write one row per trial: number, generation, objective, seconds, status, parameters."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted({k for t in self.trials for k in t.params})
        with atomic_output(p, overwrite=True) as tmp, open(tmp, "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(["number", "generation", "objective", "seconds", "status", "cached", *keys])
            for t in self.trials:
                wr.writerow([t.number, "" if t.generation is None else t.generation, f"{t.objective:.8g}",
                             f"{t.seconds:.3f}", t.status, int(t.cached),
                             *[json.dumps(t.params.get(k), default=_jsonable) for k in keys]])
        return p


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return str(v)


def score_objective(objective: Objective, estimator: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray | None,
                    **options: Any) -> float:
    """Evaluate a fitted binary classifier on validation events.

    ``auc``: weighted ROC AUC of ``predict_proba[:, 1]``; ``accuracy``: weighted accuracy of
    ``predict``; ``asimov``: Asimov Z_A at the best cut on the score
    (:func:`hepsift.metrics.best_cut_significance`, ``options``: ``luminosity``,
    ``rel_sigma_b``, ``min_background``; weights in expected events); ``ams``: the HiggsML AMS
    at the best cut; a callable ``f(estimator, X, y, w) -> float`` (larger is better).
    """
    from hepsift import metrics

    if callable(objective):
        return float(objective(estimator, X, y, w))
    if objective == "accuracy":
        return metrics.accuracy(y, estimator.predict(X), w)
    score = estimator.predict_proba(X)[:, 1]
    if objective == "auc":
        return metrics.roc_auc(y, score, w)
    if objective in ("asimov", "ams"):
        return metrics.best_cut_significance(y, score, w, metric=objective, **options).significance
    raise ConfigurationError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)} or pass a callable")


class _Search:
    def __init__(self, estimator: Any, objective: Objective, objective_options: Mapping[str, Any] | None,
                 record: str | os.PathLike[str] | None, progress: bool) -> None:
        if not hasattr(estimator, "set_params") or not hasattr(estimator, "fit"):
            raise ConfigurationError(f"estimator must have fit and set_params; got {type(estimator).__name__}")
        if not callable(objective) and objective not in OBJECTIVES:
            raise ConfigurationError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)} or pass a callable")
        self.estimator = estimator
        self.objective = objective
        self.objective_options = dict(objective_options or {})
        self.record = None if record is None else Path(record)
        self.progress = progress
        self.trials: list[Trial] = []
        self._cache: dict[str, float] = {}

    def _data(self, X: Any, y: Any, X_val: Any, y_val: Any, sample_weight: Any, val_weight: Any) -> None:
        self._X, self._y = np.asarray(X, dtype=np.float32), np.asarray(y)
        self._Xv, self._yv = np.asarray(X_val, dtype=np.float32), np.asarray(y_val)
        if len(self._X) != len(self._y) or len(self._Xv) != len(self._yv):
            raise DataError("X/y and X_val/y_val must have matching lengths")
        self._w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self._wv = None if val_weight is None else np.asarray(val_weight, dtype=np.float64)

    def _evaluate(self, params: Mapping[str, Any], generation: int | None = None) -> Trial:
        key = json.dumps(params, sort_keys=True, default=_jsonable)
        start = time.perf_counter()
        cached = key in self._cache
        status = "ok"
        if cached:
            value = self._cache[key]
        else:
            try:
                est = self.estimator.clone() if hasattr(self.estimator, "clone") else _sk_clone(self.estimator)
                est.set_params(**params)
                est.fit(self._X, self._y, sample_weight=self._w)
                value = score_objective(self.objective, est, self._Xv, self._yv, self._wv, **self.objective_options)
                if not np.isfinite(value):
                    status, value = "non-finite objective", float("-inf")
            except HepsiftError as exc:
                status, value = f"failed: {exc}", float("-inf")
            self._cache[key] = value
        trial = Trial(len(self.trials), dict(params), float(value), time.perf_counter() - start, generation, status, cached)
        self.trials.append(trial)
        self._write()
        return trial

    def _write(self) -> None:
        if self.record is None:
            return
        res = self.result()
        stem = self.record.with_suffix("")
        res.to_csv(stem.with_suffix(".csv"))
        res.to_json(stem.with_suffix(".json"))

    def result(self) -> SearchResult:
        name = self.objective if isinstance(self.objective, str) else getattr(self.objective, "__name__", "custom")
        ok = [t for t in self.trials if np.isfinite(t.objective)]
        if not ok:
            return SearchResult(name, {}, float("nan"), list(self.trials))
        best = max(ok, key=lambda t: t.objective)
        return SearchResult(name, dict(best.params), best.objective, list(self.trials))

    def _bar(self, total: int, desc: str) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="trial")


def _sk_clone(est: Any) -> Any:
    from sklearn.base import clone

    return clone(est)


class GeneticSearch(_Search):
    """Genetic algorithm over hyper-parameter pools (Freitas, Fonseca, ... JHEP 01 (2021) 076).

    Generation 0 holds ``population`` random configurations (each hyper-parameter drawn from
    its pool). Every generation is trained and scored; the best ``n_parents`` survive and
    breed the rest of the next generation: each daughter takes every hyper-parameter from one
    of two randomly chosen parents (uniform crossover), and each of her hyper-parameters is
    redrawn from its pool with probability ``mutation_rate``. This repeats for ``generations``.
    Configurations seen before are not retrained (their objective is reused and recorded).

    Parameters
    ----------
    estimator : a hepsift (or scikit-learn) estimator; cloned and ``set_params``-ed per trial
    pools : mapping hyper-parameter -> sequence of values
    population : int, N >= 2
    n_parents : int, 1 <= k < N
    generations : int, G >= 1
    mutation_rate : float in [0, 1]
    objective : ``"auc"``, ``"accuracy"``, ``"asimov"``, ``"ams"`` or a callable (larger is better;
        see :func:`score_objective`)
    objective_options : passed to the objective (e.g. ``{"luminosity": 140e3, "rel_sigma_b": 0.1}``)
    seed : int
    record : path, optional; every trial is written to ``<stem>.csv`` and ``<stem>.json`` as it ends
    progress : bool; a progress bar over trials

    Examples
    --------
    >>> from hepsift.models import BDTClassifier
    >>> search = GeneticSearch(BDTClassifier(), {"n_estimators": [10, 50, 100], "max_depth": [1, 2, 3]},
    ...                        population=6, n_parents=2, generations=3, seed=1)
    >>> # result = search.run(X_train, y_train, X_val, y_val)
    """

    def __init__(self, estimator: Any, pools: Mapping[str, Sequence[Any]], *, population: int = 10,
                 n_parents: int = 4, generations: int = 5, mutation_rate: float = 0.1, objective: Objective = "auc",
                 objective_options: Mapping[str, Any] | None = None, seed: int = 0,
                 record: str | os.PathLike[str] | None = None, progress: bool = True) -> None:
        super().__init__(estimator, objective, objective_options, record, progress)
        if not pools or any(len(list(v)) == 0 for v in pools.values()):
            raise ConfigurationError("pools must map every hyper-parameter to a non-empty sequence of values")
        if population < 2 or not 1 <= n_parents < population or generations < 1 or not 0 <= mutation_rate <= 1:
            raise ConfigurationError(f"need population >= 2, 1 <= n_parents < population, generations >= 1 and "
                                     f"mutation_rate in [0, 1]; got {population}, {n_parents}, {generations}, {mutation_rate}")
        valid = set(estimator.get_params())
        unknown = sorted(set(pools) - valid)
        if unknown:
            raise ConfigurationError(f"{type(estimator).__name__} has no parameter(s) {unknown}")
        self.pools = {k: list(v) for k, v in pools.items()}
        self.population = int(population)
        self.n_parents = int(n_parents)
        self.generations = int(generations)
        self.mutation_rate = float(mutation_rate)
        self.seed = int(seed)

    def _random(self, rng: np.random.Generator) -> dict[str, Any]:
        return {k: v[int(rng.integers(len(v)))] for k, v in self.pools.items()}

    def _breed(self, a: Mapping[str, Any], b: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        child = {k: (a[k] if rng.random() < 0.5 else b[k]) for k in self.pools}
        for k, v in self.pools.items():
            if rng.random() < self.mutation_rate:
                child[k] = v[int(rng.integers(len(v)))]
        return child

    def run(self, X: Any, y: Any, X_val: Any, y_val: Any, sample_weight: Any = None,
            val_weight: Any = None) -> SearchResult:
        """Run the search: fit on (X, y), score on (X_val, y_val). Returns :class:`SearchResult`."""
        self._data(X, y, X_val, y_val, sample_weight, val_weight)
        rng = np.random.default_rng(self.seed)
        bar = self._bar(self.population * self.generations, "genetic search")
        pop = [self._random(rng) for _ in range(self.population)]
        scored: list[tuple[float, dict[str, Any]]] = []
        for g in range(self.generations):
            scored = []
            for params in pop:
                t = self._evaluate(params, generation=g)
                scored.append((t.objective, params))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(generation=g, best=f"{self.result().best_objective:.4g}")
            if g == self.generations - 1:
                break
            order = sorted(range(len(scored)), key=lambda i: -scored[i][0])
            parents = [scored[i][1] for i in order[: self.n_parents]]
            children = []
            while len(children) < self.population - self.n_parents:
                if len(parents) > 1:
                    i, j = rng.choice(len(parents), size=2, replace=False)
                else:
                    i = j = 0
                children.append(self._breed(parents[i], parents[j], rng))
            pop = parents + children
        if bar is not None:
            bar.close()
        return self.result()


class BayesianSearch(_Search):
    """Bayesian optimisation with optuna's tree-structured Parzen estimator (Bergstra et al. 2011).

    Parameters
    ----------
    estimator : estimator to clone per trial
    space : mapping hyper-parameter -> search dimension
        a list of values (categorical); ``(low, high)`` of ints (integer range) or floats
        (uniform); ``("log", low, high)`` (log-uniform float)
    n_trials : int
    objective, objective_options, seed, record, progress : as :class:`GeneticSearch`
    """

    def __init__(self, estimator: Any, space: Mapping[str, Any], *, n_trials: int = 20, objective: Objective = "auc",
                 objective_options: Mapping[str, Any] | None = None, seed: int = 0,
                 record: str | os.PathLike[str] | None = None, progress: bool = True) -> None:
        super().__init__(estimator, objective, objective_options, record, progress)
        if n_trials < 1:
            raise ConfigurationError(f"n_trials must be >= 1; got {n_trials}")
        valid = set(estimator.get_params())
        unknown = sorted(set(space) - valid)
        if unknown:
            raise ConfigurationError(f"{type(estimator).__name__} has no parameter(s) {unknown}")
        for k, v in space.items():
            if not (isinstance(v, list) and v) and not (isinstance(v, tuple) and len(v) in (2, 3)):
                raise ConfigurationError(f"search dimension {k!r} must be a non-empty list, (low, high) or "
                                         f"('log', low, high); got {v!r}")
        self.space = dict(space)
        self.n_trials = int(n_trials)
        self.seed = int(seed)

    def _suggest(self, trial: Any) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for k, v in self.space.items():
            if isinstance(v, list):
                params[k] = v[trial.suggest_categorical(k, list(range(len(v))))]
            elif len(v) == 3:
                params[k] = trial.suggest_float(k, float(v[1]), float(v[2]), log=True)
            elif all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) for b in v):
                params[k] = trial.suggest_int(k, int(v[0]), int(v[1]))
            else:
                params[k] = trial.suggest_float(k, float(v[0]), float(v[1]))
        return params

    def run(self, X: Any, y: Any, X_val: Any, y_val: Any, sample_weight: Any = None,
            val_weight: Any = None) -> SearchResult:
        """Run ``n_trials`` trials. Returns :class:`SearchResult`."""
        from hepsift._deps import optional_import

        optuna = optional_import("optuna", "Bayesian optimisation")
        self._data(X, y, X_val, y_val, sample_weight, val_weight)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=self.seed))
        bar = self._bar(self.n_trials, "Bayesian search")

        def f(trial: Any) -> float:
            t = self._evaluate(self._suggest(trial))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(best=f"{self.result().best_objective:.4g}")
            return t.objective if np.isfinite(t.objective) else -1e30

        study.optimize(f, n_trials=self.n_trials)
        if bar is not None:
            bar.close()
        return self.result()
