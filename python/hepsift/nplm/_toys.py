r"""Reference distribution of the NPLM test statistic from toys, and p-values.

Each toy replaces the data by reference-distributed pseudo-data of Poisson(N(R)) events
and recomputes t (D'Agnolo & Wulzer, arXiv:1806.02350, Sec. 3). The toys' t values are fitted
with a :math:`\chi^2_k` (maximum likelihood in k) and the fit is checked with a
Kolmogorov-Smirnov test. Systematic uncertainties enter as nuisance parameters drawn per
toy: a user function reweights or varies the pseudo-data, which broadens P(t|R)
(R. T. D'Agnolo, G. Grosso, M. Pierini, A. Wulzer, M. Zanetti, "Learning new physics from an
imperfect machine", Eur. Phys. J. C 82 (2022) 275, arXiv:2111.13633).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError
from hepsift.nplm._model import NPLM, _active_features, _as_sample

__all__ = ["NullDistribution", "PValue", "calibrate", "p_value", "fit_chi2"]

Reweight = Callable[[np.ndarray, np.random.Generator], np.ndarray]
Vary = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass
class NullDistribution:
    """Toy distribution of t under the reference hypothesis.

    Attributes
    ----------
    t : ndarray, shape (n_toys,)
        Test statistic of each toy (toy order).
    dof : float
        Maximum-likelihood number of degrees of freedom of a chi-square fitted to ``t``.
    ks_pvalue : float
        Kolmogorov-Smirnov p-value of ``t`` against chi2(dof) (optimistic, since dof is
        fitted on the same toys).
    mode : str
        NPLM mode the toys were made with.
    config : dict
        Toy configuration (sizes, seed, model parameters).
    """

    t: np.ndarray
    dof: float
    ks_pvalue: float
    mode: str = "neural"
    config: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_toys(self) -> int:
        return int(self.t.size)

    @property
    def mean(self) -> float:
        return float(np.mean(self.t))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_toys": self.n_toys,
            "dof": self.dof,
            "ks_pvalue": self.ks_pvalue,
            "mean": self.mean,
            "std": float(np.std(self.t)),
            "mode": self.mode,
            "t": self.t.tolist(),
            "config": self.config,
        }

    def __str__(self) -> str:
        return (
            f"NPLM null ({self.mode}): {self.n_toys} toys, mean t = {self.mean:.3g}, "
            f"fitted chi2 dof = {self.dof:.3g}, KS p = {self.ks_pvalue:.3g}"
        )


@dataclass
class PValue:
    """Global p-value and significance of an observed t.

    ``p_empirical = (1 + #{t_toy >= t}) / (1 + n_toys)`` (never zero; bounded by the number of
    toys), ``p_chi2 = P(chi2_dof >= t)``; ``Z = Phi^-1(1 - p)``.
    """

    t: float
    p_empirical: float
    z_empirical: float
    p_chi2: float
    z_chi2: float

    @property
    def p(self) -> float:
        """The chi-square p-value (extrapolates beyond the toys)."""
        return self.p_chi2

    @property
    def z(self) -> float:
        return self.z_chi2


def fit_chi2(t: Any) -> tuple[float, float]:
    """Fit a chi-square's degrees of freedom to ``t`` (maximum likelihood); return (dof, KS p)."""
    from scipy import optimize, special, stats

    t = np.asarray(t, dtype=np.float64)
    if t.size < 2:
        raise DataError("need at least two toys to fit a chi-square")
    tp = np.clip(t, 1e-6, None)  # a poorly converged fit can give t slightly below 0
    mlog = float(np.mean(np.log(tp)))

    # d/dk of the mean log-likelihood: -log(2)/2 - digamma(k/2)/2 + mean(log t)/2 = 0
    def score(k: float) -> float:
        return -math.log(2.0) - float(special.digamma(k / 2.0)) + mlog

    lo, hi = 1e-3, 10.0
    while score(hi) > 0 and hi < 1e6:
        hi *= 2.0
    dof = float(optimize.brentq(score, lo, hi)) if score(lo) > 0 > score(hi) else float(np.mean(tp))
    ks = float(stats.kstest(tp, stats.chi2(dof).cdf).pvalue)
    return dof, ks


def p_value(t: float, null: NullDistribution | Any, *, dof: float | None = None) -> PValue:
    """Global p-value and Z of an observed ``t`` given the null distribution.

    Parameters
    ----------
    t : float
        Observed test statistic.
    null : NullDistribution or array_like of toy t values
        Reference distribution.
    dof : float, optional
        Chi-square degrees of freedom (default: fitted to the toys).
    """
    from scipy import stats

    if isinstance(null, NullDistribution):
        toys, k = null.t, null.dof if dof is None else dof
    else:
        toys = np.asarray(null, dtype=np.float64).ravel()
        k = fit_chi2(toys)[0] if dof is None else dof
    if toys.size == 0:
        raise DataError("the null distribution has no toys")
    if not math.isfinite(t):
        raise DataError(f"t must be finite, got {t}")
    p_emp = float((1 + np.sum(toys >= t)) / (1 + toys.size))
    p_chi2 = float(stats.chi2.sf(t, k))
    return PValue(float(t), p_emp, float(stats.norm.isf(p_emp)), p_chi2, float(stats.norm.isf(p_chi2)))


def _toy(
    i: int,
    pool: np.ndarray,
    reference: np.ndarray | None,
    n_data: float,
    n_reference: int,
    seed: int,
    params: dict[str, Any],
    reweight: Reweight | None,
    vary: Vary | None,
    threads: int,
) -> tuple[int, float]:
    """One toy: pseudo-data from the pool, t against the reference; returns (index, t).

    ``threads`` caps torch's and the BLAS libraries' threads (0: leave them as they are), so
    that a toy gives the same t to the last bit in this process and in a worker process."""
    if threads > 0:
        from threadpoolctl import threadpool_limits

        torch = None
        if params.get("mode") == "neural":
            import torch

            before = torch.get_num_threads()
            torch.set_num_threads(threads)
        try:
            with threadpool_limits(limits=threads):
                return _toy(i, pool, reference, n_data, n_reference, seed, params, reweight, vary, 0)
        finally:
            if torch is not None:
                torch.set_num_threads(before)
    rng = np.random.default_rng([seed, i])
    if reference is None:  # split the reference sample into toy reference and pseudo-data candidates
        perm = rng.permutation(pool.shape[0])
        ref, cand = pool[perm[:n_reference]], pool[perm[n_reference:]]
    else:
        ref, cand = reference, pool
    if reweight is not None:
        w = np.asarray(reweight(cand, rng), dtype=np.float64).ravel()
        if w.shape[0] != cand.shape[0] or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise DataError("the reweight function must return finite non-negative weights, one per event")
        n = min(int(rng.poisson(n_data * w.mean())), int(np.count_nonzero(w)))
        dat = cand[rng.choice(cand.shape[0], size=n, replace=False, p=w / w.sum())]
    else:
        n = min(int(rng.poisson(n_data)), cand.shape[0])
        dat = cand[rng.choice(cand.shape[0], size=n, replace=False)]
    if vary is not None:
        dat = np.asarray(vary(dat, rng), dtype=np.float64).reshape(dat.shape)
    model = NPLM(**{**params, "seed": int(rng.integers(2**31 - 1))})
    with warnings.catch_warnings():  # calibrate warned once already
        warnings.filterwarnings("ignore", message="NPLM: .* constant", category=UserWarning)
        model.fit(ref, dat, n_expected=n_data)
    return i, model.t_


def _parallel_toys(todo: list[int], args: tuple[Any, ...], n_workers: int) -> Iterator[tuple[int, float]]:
    """Toys in fresh worker processes (:func:`hepsift._workers.map_unordered`), as they finish.

    Each worker runs one toy at a time with one thread (``_toy(..., threads=1)``), as the
    in-process loop does, so a toy's t is the same to the last bit wherever it runs."""
    from hepsift._workers import map_unordered

    with contextlib.closing(map_unordered(_toy, todo, n_workers=n_workers, common=(*args, 1), label="NPLM toy")) as it:
        for _, result in it:
            yield result


def calibrate(
    reference: Any,
    n_data: float,
    n_toys: int,
    *,
    mode: str = "neural",
    seed: int = 0,
    pool: Any = None,
    n_reference: int | None = None,
    reweight: Reweight | None = None,
    vary: Vary | None = None,
    n_jobs: int = -1,
    save_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **options: Any,
) -> NullDistribution:
    """Toy distribution of t under the reference hypothesis, with a chi-square fit.

    Parameters
    ----------
    reference : array_like, shape (N_R, n_features)
        Reference sample.
    n_data : float
        N(R): expected number of data events; each toy has Poisson(n_data) pseudo-data events.
    n_toys : int
        Number of toys.
    mode : {"neural", "kernel"}
        NPLM mode (see :class:`~hepsift.nplm.NPLM`); ``options`` are its further parameters.
    seed : int
        Toy ``i`` uses ``numpy.random.default_rng([seed, i])``: results do not depend on
        the number of jobs or on the order toys finish in.
    pool : array_like, shape (N_P, n_features), optional
        Independent reference-distributed events to draw pseudo-data from, the whole
        ``reference`` then serving as reference in every toy. Without it, each toy splits a
        random permutation of ``reference`` into a toy reference of ``n_reference`` events and
        pseudo-data candidates.
    n_reference : int, optional
        Toy reference size when ``pool`` is None; default ``N_R - max(3 n_data, n_data + 5
        sqrt(n_data) + 10)``.
    reweight : callable ``(candidates, rng) -> weights``, optional
        Nuisance-parameter reweighting: draws nuisance values with ``rng`` and returns one
        non-negative weight per candidate event (1 = nominal); pseudo-data are drawn with
        probabilities proportional to the weights and Poisson(n_data * mean weight) events.
    vary : callable ``(events, rng) -> events``, optional
        Nuisance-parameter variation applied to the pseudo-data (e.g. an energy scale).
    n_jobs : int, default -1
        Parallel worker processes (-1 = all usable cores). 1 runs the toys in this process,
        one after another, with no worker at all (as on a CUDA device). Workers are fresh
        ``python`` subprocesses (:mod:`hepsift._workers`), not :mod:`multiprocessing`
        children: they never import the caller's ``__main__``, so ``calibrate`` works from a
        script without an ``if __name__ == "__main__":`` guard, ``python -c``, standard
        input, a Jupyter kernel and a Dask worker (a daemonic process). ``reweight`` and
        ``vary`` travel to them with ``cloudpickle`` (closures and functions defined in a
        script or notebook are fine; one holding a lock, an open file or a ROOT object is
        refused with a :class:`~hepsift.errors.ConfigurationError`: use ``n_jobs=1``). A
        toy's t is the same to the last bit whatever ``n_jobs`` is and wherever it runs.
    save_path : path, optional
        JSON-lines file where every finished toy is appended; rerunning with the same
        configuration resumes from it.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    NullDistribution

    Raises
    ------
    WorkerError
        A worker process died (killed, crashed, ``os._exit`` in a user function); raised as
        soon as it happens, naming the toy, the exit status and the worker's last output.
    DataError
        Bad samples, or a feature constant in the reference but not in the pool (see
        :meth:`NPLM.fit`); an error raised in a toy (e.g. by ``reweight``) keeps its type, with
        the worker's traceback as its cause.

    Examples
    --------
    No main guard is needed, in a script or anywhere else:

    >>> import numpy as np
    >>> from hepsift import nplm
    >>> reference = np.random.default_rng(0).exponential(size=(1500, 1))
    >>> null = nplm.calibrate(reference, 100, 4, mode="kernel", n_centers=30, n_jobs=2, progress=False)
    >>> null.n_toys
    4
    """
    from hepsift.nplm._model import _resolve_device

    ref = _as_sample(reference, "reference")
    if not (n_data > 0 and math.isfinite(n_data)):
        raise ConfigurationError(f"n_data must be positive, got {n_data}")
    if int(n_toys) < 2:
        raise ConfigurationError(f"need at least 2 toys, got {n_toys}")
    n_toys = int(n_toys)
    params = NPLM(mode=mode, **options).get_params()
    params["device"] = _resolve_device(params["device"])
    NPLM(**params)._validate()
    if pool is not None:
        pool_arr = _as_sample(pool, "pool")
        if pool_arr.shape[1] != ref.shape[1]:
            raise DataError(f"pool has {pool_arr.shape[1]} features but reference has {ref.shape[1]}")
        fixed_ref: np.ndarray | None = ref
        n_reference = ref.shape[0]
    else:
        pool_arr, fixed_ref = ref, None
        if n_reference is None:
            n_reference = ref.shape[0] - int(math.ceil(max(3.0 * n_data, n_data + 5.0 * math.sqrt(n_data) + 10.0)))
        if not 0 < n_reference < ref.shape[0] - n_data:
            raise DataError(
                f"reference sample of {ref.shape[0]} events is too small to split into a toy reference and "
                f"pseudo-data of about {n_data:g} events; pass a larger reference or a separate pool"
            )
    _active_features(ref, pool_arr, stacklevel=2)  # refuse or warn once
    config = {
        "n_data": float(n_data),
        "n_reference": int(n_reference),
        "seed": int(seed),
        "n_pool": int(pool_arr.shape[0]),
        "n_features": int(ref.shape[1]),
        "separate_pool": pool is not None,
        "reweight": getattr(reweight, "__qualname__", None),
        "vary": getattr(vary, "__qualname__", None),
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items() if k != "device"},
    }
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    done: dict[int, float] = {}
    if save_path is not None:
        done = _load_saved(os.fspath(save_path), key)
    todo = [i for i in range(n_toys) if i not in done]

    from hepsift.nplm._progress import progress_bar

    cuda = params["device"].startswith("cuda")
    from hepsift._workers import usable_cores

    cores = usable_cores()
    n_workers = 1 if cuda else (cores if n_jobs in (-1, None) else max(1, int(n_jobs)))
    n_workers = min(n_workers, max(1, len(todo)))
    fh = None
    if save_path is not None:
        new = not os.path.exists(save_path) or os.path.getsize(save_path) == 0
        os.makedirs(os.path.dirname(os.path.abspath(os.fspath(save_path))) or ".", exist_ok=True)
        fh = open(save_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in finally
        if new:
            fh.write(json.dumps({"config_key": key, "config": config}) + "\n")
            fh.flush()
    try:
        args = (pool_arr, fixed_ref, float(n_data), int(n_reference), int(seed), params, reweight, vary)
        with progress_bar(total=n_toys, initial=len(done), desc=f"NPLM toys ({mode})", disable=not progress) as bar:
            if n_workers == 1:  # in this process, no pool
                results: Iterator[tuple[int, float]] = (_toy(i, *args, 0 if cuda else 1) for i in todo)
            else:
                results = _parallel_toys(todo, args, n_workers)
            with contextlib.closing(results):  # leaving early stops the workers at once
                for i, t in results:
                    done[i] = t
                    if fh is not None:
                        fh.write(json.dumps({"toy": i, "t": t}) + "\n")
                        fh.flush()
                    bar.update(1)
    finally:
        if fh is not None:
            fh.close()
    t_arr = np.array([done[i] for i in range(n_toys)])
    dof, ks = fit_chi2(t_arr)
    return NullDistribution(t=t_arr, dof=dof, ks_pvalue=ks, mode=mode, config=config)


def _load_saved(path: str, key: str) -> dict[int, float]:
    if not os.path.exists(path):
        return {}
    done: dict[int, float] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interruption
            if n == 0:
                if rec.get("config_key") != key:
                    raise ConfigurationError(
                        f"{path} holds toys of a different configuration; use another save_path or delete it"
                    )
                continue
            if "toy" in rec and "t" in rec:
                done[int(rec["toy"])] = float(rec["t"])
    return done
