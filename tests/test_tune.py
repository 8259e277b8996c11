"""hepsift.tune: the genetic algorithm improves over generations; Bayesian optimisation; records."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import hepsift
from hepsift.models import BDTClassifier, MLPClassifier
from hepsift.tune import BayesianSearch, GeneticSearch, score_objective


def xor_toy(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1] > 0) ^ (X[:, 2] > 1.0)).astype(int)
    return X, y


def test_genetic_algorithm_improves_over_generations(tmp_path):
    X, y = xor_toy(1500, 0)
    Xv, yv = xor_toy(1000, 1)
    pools = {"n_estimators": [1, 2, 5, 10, 30], "max_depth": [1, 2, 3, 4], "learning_rate": [0.02, 0.1, 0.3, 1.0]}
    ga = GeneticSearch(BDTClassifier(boosting="gradient"), pools, population=8, n_parents=3, generations=4,
                       mutation_rate=0.2, objective="auc", seed=11, record=tmp_path / "ga.csv", progress=False)
    res = ga.run(X, y, Xv, yv)
    gens = res.generation_summary()
    assert [g["generation"] for g in gens] == [0, 1, 2, 3]
    best = [g["best"] for g in gens]
    assert all(b2 >= b1 for b1, b2 in zip(best, best[1:]))  # parents survive
    assert gens[-1]["mean"] > gens[0]["mean"] + 0.02  # the population gets better
    assert res.best_objective == max(t.objective for t in res.trials) > 0.85
    assert len(res.trials) == 32 and any(t.cached for t in res.trials)
    with open(tmp_path / "ga.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 32 and {"generation", "objective", "max_depth"} <= set(rows[0])
    data = json.loads((tmp_path / "ga.json").read_text())
    assert data["best_objective"] == pytest.approx(res.best_objective)
    # same seed, same search
    again = GeneticSearch(BDTClassifier(boosting="gradient"), pools, population=8, n_parents=3, generations=4,
                          mutation_rate=0.2, seed=11, progress=False).run(X, y, Xv, yv)
    assert [t.params for t in again.trials] == [t.params for t in res.trials]


def test_bayesian_search_with_asimov_objective(tmp_path):
    X, y = xor_toy(1200, 2)
    Xv, yv = xor_toy(800, 3)
    w, wv = np.where(y == 1, 0.05, 1.0), np.where(yv == 1, 0.1, 2.0)  # expected events
    space = {"n_estimators": (2, 30), "max_depth": [1, 3], "learning_rate": ("log", 0.01, 1.0)}
    bo = BayesianSearch(BDTClassifier(boosting="gradient"), space, n_trials=6, objective="asimov",
                        objective_options={"rel_sigma_b": 0.05, "min_background": 2.0}, seed=5,
                        record=tmp_path / "bo.json", progress=True)
    res = bo.run(X, y, Xv, yv, w, wv)
    assert len(res.trials) == 6 and np.isfinite(res.best_objective) and res.best_objective > 0
    assert set(res.best_params) == set(space) and res.best_params["max_depth"] in (1, 3)
    assert (tmp_path / "bo.csv").is_file() and json.loads((tmp_path / "bo.json").read_text())["objective"] == "asimov"


def test_objectives_and_errors():
    X, y = xor_toy(600, 4)
    m = BDTClassifier(boosting="gradient", n_estimators=20).fit(X, y)
    assert 0.5 < score_objective("accuracy", m, X, y, None) <= 1
    assert score_objective(lambda est, X_, y_, w_: 42.0, m, X, y, None) == 42.0
    with pytest.raises(hepsift.ConfigurationError, match="unknown objective"):
        GeneticSearch(m, {"max_depth": [1]}, objective="f2")
    with pytest.raises(hepsift.ConfigurationError, match="no parameter"):
        GeneticSearch(MLPClassifier(), {"depth": [1, 2]})
    with pytest.raises(hepsift.ConfigurationError, match="n_parents"):
        GeneticSearch(m, {"max_depth": [1, 2]}, population=4, n_parents=4)
    with pytest.raises(hepsift.ConfigurationError, match="search dimension"):
        BayesianSearch(m, {"max_depth": 3})
    # a failing configuration is recorded, not fatal
    res = GeneticSearch(MLPClassifier(epochs=2, hidden_layers=(4,)), {"activation": ["relu", "nope"]}, population=2,
                        n_parents=1, generations=1, seed=0, progress=False).run(X, y, X, y)
    assert any(t.status.startswith("failed") for t in res.trials) or all(t.params["activation"] == "relu"
                                                                        for t in res.trials)


def test_search_over_the_default_histogram_bdt():
    X, y = xor_toy(1500, 0)
    Xv, yv = xor_toy(1000, 1)
    res = GeneticSearch(BDTClassifier(threads=1), {"n_estimators": [5, 100], "max_depth": [1, 3]}, population=4,
                        n_parents=2, generations=2, seed=1, progress=False).run(X, y, Xv, yv)
    assert all(t.status == "ok" for t in res.trials)
    # the xor needs depth and iterations: stumps or 5 iterations stay far below
    assert res.best_params == {"n_estimators": 100, "max_depth": 3} and res.best_objective > 0.95
    assert max(t.objective for t in res.trials if t.params["max_depth"] == 1) < 0.8
