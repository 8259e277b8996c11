r"""Fits of pyhf likelihoods that can be trusted over many orders of magnitude.

pyhf's default set-up (numpy backend, SLSQP with finite-difference gradients) loses the
minimum when the yields are large (the Poisson terms are computed as differences of numbers of
order :math:`n \ln n`, so a gradient step of :math:`10^{-8}` drowns in rounding) or when the
parameters live on very different scales (a signal strength of :math:`10^{-6}` next to
Barlow-Beeston ``staterror`` parameters whose likelihood width is :math:`10^{-5}`). Here every
fit runs with

* pyhf's PyTorch backend in double precision, so the gradient of :math:`-2\ln L` is exact
  (automatic differentiation) rather than a finite difference;
* fixed parameters removed from the minimisation (pyhf's ``do_stitch``);
* a full preconditioning: the minimiser (SciPy's SLSQP, as in pyhf) works in whitened
  coordinates :math:`x = x_0 + L y` with :math:`L^T H L = 1` for the Hessian :math:`H` at the
  starting point, so the likelihood is round even where parameters are strongly correlated (a
  one-bin model's signal strength and its ``staterror`` share one direction: in the diagonal
  widths alone the valley between them is :math:`10^3` widths long and its slope hides below any
  gradient tolerance); the bounds become linear constraints of :math:`y`;
* an explicit convergence criterion: the Newton decrement :math:`\sqrt{g^T H^{-1} g}` over the
  free parameters, with the Hessian recomputed at the end point (the distance to the minimum of
  the local quadratic model, in standard deviations), must be below ``GRADIENT_TOLERANCE``
  (parameters held at a bound by the gradient are exempt); where that Hessian is not positive
  definite, the projected gradient in units of each parameter's width,
  :math:`\max_j |\partial(-2\ln L)/\partial x_j| / \sqrt{H_{jj}}`, is used instead.

Nothing is printed: pyhf's error log of a failed minimisation is silenced and standard output is
captured while fits run.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["GRADIENT_TOLERANCE", "fit_backend", "cls_from_q", "FitOutcome", "run_fit"]

#: Largest distance from the minimum, in standard deviations (the Newton decrement), that counts
#: as a converged fit: an error below about 1e-4 on -2 ln L.
GRADIENT_TOLERANCE = 1e-2

_OPTIMIZER_CLASS: Any = None


def _optimizer_class() -> Any:
    global _OPTIMIZER_CLASS
    if _OPTIMIZER_CLASS is not None:
        return _OPTIMIZER_CLASS
    import scipy.optimize
    from pyhf.optimize.opt_scipy import scipy_optimizer

    class PreconditionedSLSQP(scipy_optimizer):  # type: ignore[misc,valid-type]
        """pyhf's SciPy optimiser with stitched fixed parameters and diagonal preconditioning."""

        def minimize(self, objective: Any, data: Any, pdf: Any, init_pars: Any, par_bounds: Any,
                     fixed_vals: Any = None, **kwargs: Any) -> Any:
            n_free = len(init_pars) - len(fixed_vals or [])
            kwargs["do_stitch"] = n_free > 0
            return super().minimize(objective, data, pdf, init_pars, par_bounds, fixed_vals, **kwargs)

        def _minimize(self, minimizer: Any, func: Any, x0: Any, do_grad: bool = False, bounds: Any = None,
                      fixed_vals: Any = None, options: dict[str, Any] | None = None) -> Any:
            if fixed_vals:  # only when nothing is free: SLSQP with the equality constraints
                return super()._minimize(minimizer, func, x0, do_grad=do_grad, bounds=bounds,
                                         fixed_vals=fixed_vals, options=dict(options or {}))
            return _preconditioned_minimize(func, np.asarray(x0, dtype=np.float64), bounds, self.maxiter)

    _OPTIMIZER_CLASS = PreconditionedSLSQP
    return _OPTIMIZER_CLASS


def _value_and_grad(func: Any, x: np.ndarray) -> tuple[float, np.ndarray]:
    v, g = func(x)
    return float(v), np.asarray(g, dtype=np.float64)


def _projected(g: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The gradient without the components that push a parameter held at a bound outwards."""
    span = np.maximum(hi - lo, 1.0)
    at_lo = (y - lo) <= 1e-9 * span
    at_hi = (hi - y) <= 1e-9 * span
    out = g.copy()
    out[at_lo & (g > 0)] = 0.0
    out[at_hi & (g < 0)] = 0.0
    return out


def _curvature(func: Any, x: np.ndarray, g0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               width: np.ndarray | None = None) -> np.ndarray:
    """The Hessian of ``func`` at ``x``: forward differences of the exact gradient, symmetrised.

    The step of parameter j is 1e-4 of ``max(|x_j|, width_j)`` (``width``: its likelihood width
    where known), so a parameter sitting near zero is not probed with a step that drowns in
    rounding."""
    n = x.size
    hess = np.zeros((n, n))
    for j in range(n):
        scale = max(abs(x[j]), 0.0 if width is None else float(width[j]))
        h = 1e-4 * scale if scale > 0 else 1e-4
        xs = x.copy()
        xs[j] = x[j] + h if x[j] + h <= hi[j] else x[j] - h
        if xs[j] == x[j] or not (lo[j] <= xs[j] <= hi[j]):
            continue
        hess[:, j] = (_value_and_grad(func, xs)[1] - g0) / (xs[j] - x[j])
    return 0.5 * (hess + hess.T)


def _widths(hess: np.ndarray) -> np.ndarray:
    """Each parameter's likelihood width with the others fixed, 1/sqrt(H_jj) (1 where H_jj <= 0)."""
    diag = np.diag(hess)
    ok = np.isfinite(diag) & (diag > 0)
    return np.where(ok, 1.0 / np.sqrt(np.where(ok, diag, 1.0)), 1.0)


def _whitening(hess: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L.T @ hess @ L = 1`` (coordinates in which the likelihood is round),
    from the eigen-decomposition; where the Hessian is not positive definite, the diagonal
    widths ``1/sqrt(H_jj)`` (1 where that is not positive either)."""
    d = _widths(hess)
    if np.all(np.isfinite(hess)):
        scaled = hess * np.outer(d, d)  # unit diagonal: the eigen-decomposition is well conditioned
        w, v = np.linalg.eigh(scaled)
        if w.size and w.min() > 1e-12 * max(w.max(), 1.0):
            return (d[:, None] * v) / np.sqrt(w)
    return np.diag(d)


def _newton_decrement(g: np.ndarray, hess: np.ndarray, free: np.ndarray) -> float:
    """sqrt(g_f^T H_ff^-1 g_f) over the free parameters: the distance to the minimum of the local
    quadratic model in standard deviations (about sqrt(2 * excess of -ln L)); inf when the
    curvature is not positive definite."""
    if not free.any():
        return 0.0
    gf, hf = g[free], hess[np.ix_(free, free)]
    try:
        step = np.linalg.solve(hf, gf)
    except np.linalg.LinAlgError:
        return math.inf
    value = float(gf @ step)
    return math.sqrt(value) if math.isfinite(value) and value >= 0 else math.inf


def _preconditioned_minimize(func: Any, x0: np.ndarray, bounds: Any, maxiter: int) -> Any:
    import scipy.optimize

    lo = np.array([b[0] for b in bounds], dtype=np.float64)
    hi = np.array([b[1] for b in bounds], dtype=np.float64)
    span = np.maximum(hi - lo, 1.0)
    start = np.clip(x0, lo, hi)
    result = None
    _, g_start = _value_and_grad(func, start)
    hess = _curvature(func, start, g_start, lo, hi)
    for _ in range(8):  # re-precondition at the previous minimum if it did not converge
        L = _whitening(hess)

        def fy(y: np.ndarray, start: np.ndarray = start, L: np.ndarray = L) -> tuple[float, np.ndarray]:
            v, g = _value_and_grad(func, np.clip(start + L @ y, lo, hi))
            return v, L.T @ g

        # the bounds lo <= start + L y <= hi as linear constraints of the whitened coordinates
        constraints = [
            {"type": "ineq", "fun": lambda y, s=start, L=L: (s + L @ y - lo) / span, "jac": lambda y, L=L: L / span[:, None]},
            {"type": "ineq", "fun": lambda y, s=start, L=L: (hi - s - L @ y) / span, "jac": lambda y, L=L: -L / span[:, None]},
        ]
        res = scipy.optimize.minimize(
            fy, np.zeros(start.size), method="SLSQP", jac=True, constraints=constraints,
            options={"maxiter": maxiter, "ftol": 1e-12},
        )
        x = np.clip(start + L @ np.asarray(res.x, dtype=np.float64), lo, hi)
        fun, g = _value_and_grad(func, x)
        # SLSQP meets linear constraints only to its tolerance: a parameter that the gradient pushes
        # against a bound it has (nearly) reached is put on that bound
        snap_lo = (x - lo <= 1e-6 * span) & (g > 0) & (x != lo)
        snap_hi = (hi - x <= 1e-6 * span) & (g < 0) & (x != hi)
        if snap_lo.any() or snap_hi.any():
            x = np.where(snap_lo, lo, np.where(snap_hi, hi, x))
            fun, g = _value_and_grad(func, x)
        hess = _curvature(func, x, g, lo, hi, _widths(hess))  # at the end point: the check, and the next start
        d = _widths(hess)
        gproj = _projected(g * d, x / d, lo / d, hi / d)
        free = (gproj != 0.0) | (g == 0.0)
        res.x = x
        res.fun = fun
        res.grad_max = float(np.max(np.abs(gproj))) if gproj.size else 0.0
        res.decrement = _newton_decrement(g, hess, free)
        res.scipy_message = str(res.message)
        # the distance to the minimum in standard deviations; the gradient in widths where the
        # curvature is not positive definite
        distance = res.decrement if math.isfinite(res.decrement) else res.grad_max
        res.success = bool(math.isfinite(fun) and np.all(np.isfinite(res.x)) and distance < GRADIENT_TOLERANCE)
        if not res.success:
            res.message = (
                f"not converged: Newton decrement {res.decrement:.3g}, largest gradient {res.grad_max:.3g} (in "
                f"units of the parameter widths; tolerance {GRADIENT_TOLERANCE:g}); SLSQP: {res.scipy_message}"
            )
        result = res
        if res.success or not np.all(np.isfinite(res.x)):
            break
        start = res.x
    return result


def _one_blas_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@contextlib.contextmanager
def fit_backend() -> Iterator[Any]:
    """Run pyhf with the PyTorch backend (float64) and the preconditioned optimiser; restore after
    (pyhf's backend, torch's default dtype and thread count, the loggers). Not thread-safe: the
    backend and the dtype are process-wide.

    Yields the ``pyhf`` module. pyhf's logging of failed fits is silenced, warnings of its
    dependencies are ignored and standard output is captured, so nothing is printed.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="torch")
        warnings.filterwarnings("ignore", message="Creating a tensor from a list of numpy.ndarrays")
        import pyhf

        import torch

        old_tensorlib, old_optimizer = pyhf.tensorlib, pyhf.optimizer
        old_threads, old_dtype = torch.get_num_threads(), torch.get_default_dtype()
        torch.set_num_threads(1)  # tensors of a few dozen numbers: threads only add overhead
        loggers = [logging.getLogger(n) for n in ("pyhf", "pyhf.optimize.mixins")]
        old_state = [(lg.level, lg.disabled) for lg in loggers]
        for lg in loggers:
            lg.disabled = True
        try:
            pyhf.set_backend("pytorch", _optimizer_class()(), precision="64b")
            # SLSQP's small dense solves in one BLAS thread: with several, they wait on each other
            with _one_blas_thread(), contextlib.redirect_stdout(io.StringIO()):
                yield pyhf
        finally:
            pyhf.set_backend(old_tensorlib, old_optimizer)
            # pyhf's 64-bit torch backend makes float64 torch's process-wide default dtype
            torch.set_default_dtype(old_dtype)
            torch.set_num_threads(old_threads)
            for lg, (level, disabled) in zip(loggers, old_state, strict=True):
                lg.setLevel(level)
                lg.disabled = disabled


def cls_from_q(q: float, q_asimov: float) -> tuple[float, list[float]]:
    r"""Observed and expected CLs from :math:`\tilde q_\mu` on the data and on the Asimov data.

    The asymptotic formulae of Cowan et al. (arXiv:1007.1727) as pyhf implements them:
    with :math:`t = \sqrt{q} - \sqrt{q_A}` when :math:`\sqrt q \le \sqrt{q_A}`, otherwise
    :math:`t = (q - q_A)/(2\sqrt{q_A})`, :math:`\mathrm{CL_{s+b}} = \Phi(-(t + \sqrt{q_A}))`,
    :math:`\mathrm{CL_b} = \Phi(-t)`; the expected values take :math:`t = N` for
    :math:`N = 2, 1, 0, -1, -2` (pyhf's order: the -2 sigma limit first).

    Returns
    -------
    (float, list of 5 floats)
        Observed CLs and the expected CLs at N = 2, 1, 0, -1, -2.
    """
    from scipy.stats import norm

    sq = math.sqrt(max(q, 0.0))
    sqa = math.sqrt(max(q_asimov, 0.0))

    def cls(t: float) -> float:
        cb = norm.sf(t)
        return float(norm.sf(t + sqa) / cb) if cb > 0 else float("nan")

    if sq <= sqa:
        t = sq - sqa
    else:
        t = (q - q_asimov) / (2.0 * sqa)
    return cls(t), [cls(float(n)) for n in (2, 1, 0, -1, -2)]


class FitOutcome:
    """One maximum-likelihood fit: fitted parameters, -2 ln L at the minimum, convergence."""

    def __init__(self, label: str, pars: np.ndarray, twice_nll: float, result: Any, error: str | None,
                 at_bound: list[str] | None = None) -> None:
        self.label = label
        self.pars = pars
        self.twice_nll = twice_nll
        self.result = result
        self.error = error
        self.at_bound = at_bound or []

    @property
    def converged(self) -> bool:
        return self.error is None


def run_fit(pyhf: Any, label: str, data: Any, model: Any, init: list[float], bounds: list[tuple[float, float]],
            poi: float | None = None) -> FitOutcome:
    """A free fit (``poi=None``) or a fit with the POI fixed at ``poi``; never raises on failure.

    The outcome's ``error`` names what went wrong (the convergence criterion's message);
    ``at_bound`` lists the free parameters that ended on a bound other than the POI's lower
    bound (a ``staterror`` parameter at its lower bound is a bin whose background the fit
    removes): a constrained minimum, legitimate far from a limit, but a limit that depends on it
    depends on an arbitrary bound.
    """
    tensor = pyhf.tensorlib.astensor(np.asarray(data, dtype=np.float64))
    try:
        if poi is None:
            pars, fun, res = pyhf.infer.mle.fit(tensor, model, init_pars=init, par_bounds=bounds,
                                                return_fitted_val=True, return_result_obj=True)
        else:
            pars, fun, res = pyhf.infer.mle.fixed_poi_fit(float(poi), tensor, model, init_pars=init,
                                                          par_bounds=bounds, return_fitted_val=True,
                                                          return_result_obj=True)
    except pyhf.exceptions.FailedMinimization as exc:
        res = exc.result
        x = _full_pars(model, init, poi, getattr(res, "x", None))
        msg = str(exc)
        near = _on_bounds(model, x, bounds, poi, physical_too=True, rel=1e-3)
        if near:
            msg += "; where it stopped, parameter(s) at or near a bound: " + ", ".join(near)
        return FitOutcome(label, x, float("nan"), res, msg)
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        return FitOutcome(label, np.full(len(init), np.nan), float("nan"), None, f"{type(exc).__name__}: {exc}")
    x = np.asarray(pars, dtype=np.float64)
    fun = float(fun)
    problems = []
    if not math.isfinite(fun) or not np.all(np.isfinite(x)):
        problems.append("non-finite result")
    return FitOutcome(label, x, fun, res, "; ".join(problems) or None, _on_bounds(model, x, bounds, poi))


def _full_pars(model: Any, init: list[float], poi: float | None, free_x: Any) -> np.ndarray:
    """All parameters from the free ones of a failed (stitched) fit; NaN where unknown."""
    full = np.asarray(init, dtype=np.float64).copy()
    fixed = list(model.config.suggested_fixed())
    if poi is not None:
        full[model.config.poi_index] = poi
        fixed[model.config.poi_index] = True
    free = [j for j, f in enumerate(fixed) if not f]
    xs = None if free_x is None else np.asarray(free_x, dtype=np.float64).ravel()
    if xs is not None and xs.size == len(free):
        full[free] = xs
    elif xs is not None and xs.size == full.size:
        full = xs.copy()
    else:
        full[free] = np.nan
    return full


def _on_bounds(model: Any, x: np.ndarray, bounds: list[tuple[float, float]], poi: float | None,
               physical_too: bool = False, rel: float = 1e-6) -> list[str]:
    """Free parameters on a bound (within ``rel`` of the range), as ``name = value (bounds [lo, hi])``.

    The physical lower bounds (mu >= 0, per-bin background factors >= 0) count only with
    ``physical_too``.
    """
    names = _par_labels(model)
    physical = _physical_lower_bounds(model)
    poi_index = model.config.poi_index
    fixed = model.config.suggested_fixed()
    out = []
    for j, (lo, hi) in enumerate(bounds):
        if fixed[j] or (poi is not None and j == poi_index) or not math.isfinite(x[j]):
            continue
        span = max(abs(hi - lo), 1e-300)
        if physical[j] and not physical_too and abs(x[j] - lo) <= rel * max(1.0, span):
            continue  # mu-hat = 0 (the q~ boundary) or a bin's background scaled to zero: physical bounds
        if min(abs(x[j] - lo), abs(hi - x[j])) <= rel * span:
            out.append(f"{names[j]} = {x[j]:.4g} (bounds [{lo:.3g}, {hi:.3g}])")
    return out


def _physical_lower_bounds(model: Any) -> list[bool]:
    """Parameters whose lower bound is physical: the POI (mu >= 0) and per-bin background scale
    factors (``staterror``/``shapesys`` gammas >= 0: a bin's background cannot be negative)."""
    out = [False] * len(model.config.suggested_init())
    out[model.config.poi_index] = True
    for name in model.config.par_order:
        mod_types = {mtype for mname, mtype in model.config.modifiers if mname == name}
        if mod_types & {"staterror", "shapesys"}:
            sl = model.config.par_slice(name)
            for k in range(sl.start, sl.stop):
                out[k] = True
    return out


def _par_labels(model: Any) -> list[str]:
    """One label per parameter: ``name`` or ``name[bin]`` for per-bin modifiers."""
    labels = [""] * len(model.config.suggested_init())
    for name in model.config.par_order:
        sl = model.config.par_slice(name)
        width = sl.stop - sl.start
        for k in range(width):
            labels[sl.start + k] = name if width == 1 else f"{name}[bin {k}]"
    return labels
