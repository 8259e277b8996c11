"""Hyper-parameter search for hepsift's estimators.

* :class:`GeneticSearch`: random models from pools of hyper-parameters, the best breed
  daughters by crossover, with mutation, over generations (Freitas et al., JHEP 01 (2021) 076).
* :class:`BayesianSearch`: Bayesian optimisation with optuna's TPE sampler.

Objective: ``"auc"``, ``"accuracy"``, ``"asimov"`` (Asimov significance at the best score cut,
with weights in expected events and an optional relative background uncertainty) or ``"ams"``;
any callable ``f(estimator, X_val, y_val, w_val)`` too. Every trial is recorded
(:class:`SearchResult.to_csv` / ``to_json``, or live with ``record=``); progress bars with tqdm.

Example::

    from hepsift.models import MLPClassifier
    from hepsift.tune import GeneticSearch
    ga = GeneticSearch(MLPClassifier(epochs=20), {"hidden_layers": [(32,), (64, 64)], "learning_rate": [1e-3, 1e-2]},
                       population=8, n_parents=3, generations=4, objective="asimov", seed=1, record="ga.csv")
    result = ga.run(X_train, y_train, X_val, y_val, w_train, w_val)
"""

from __future__ import annotations

from hepsift.tune._search import OBJECTIVES, BayesianSearch, GeneticSearch, SearchResult, Trial, score_objective

__all__ = ["BayesianSearch", "GeneticSearch", "OBJECTIVES", "SearchResult", "Trial", "score_objective"]
