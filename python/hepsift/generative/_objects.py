"""A generator of whole events as lists of typed objects (DarkMachines-like events).

See :class:`ObjectListGenerator`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hepsift import errors
from hepsift._estimator import Config
from hepsift.generative._base import Generator
from hepsift.generative._codec import fill_absent
from hepsift.generative._models import NormalizingFlow
from hepsift.export._metadata import OBJECT_LISTS_KEY, object_list_layout
from hepsift.generative._noise import counter_noise
from hepsift.io.features import MISSING

__all__ = ["ObjectListGenerator", "ObjectListGeneratorConfig", "OBJECT_TYPES", "OBJECT_LISTS_KEY"]

#: Object types, in output order: name -> (collection of :func:`hepsift.io.read_darkmachines`,
#: b-tag selection (True: b-tagged jets only, False: untagged only, None: all), fixed mass in GeV
#: (None: the mass is learnt)). The DarkMachines types: ``j``, ``b``, ``e-/e+``, ``m-/m+``, ``g``.
OBJECT_TYPES: dict[str, tuple[str, bool | None, float | None]] = {
    "Jet": ("Jet", False, None),
    "BJet": ("Jet", True, None),
    "Electron": ("Electron", None, 0.000511),
    "Muon": ("Muon", None, 0.10566),
    "Photon": ("Photon", None, 0.0),
}
#: Per-object output fields, in output order (GeV, GeV, -, rad).
FIELDS = ("pt", "eta", "phi", "mass")
#: Event-level outputs after the object lists.
EVENT_FIELDS = ("MET_pt", "MET_phi")

_TWO_PI = 6.283185307179586


@dataclasses.dataclass
class ObjectListGeneratorConfig(Config):
    """Parameters of :class:`ObjectListGenerator` (see there)."""

    max_objects: int = 4
    flow: str = "maf"
    transforms: int = 3
    hidden: tuple[int, ...] = (128, 128)
    bins: int = 8
    marginals: str = "quantile"
    epochs: int = 120
    batch_size: int = 256
    learning_rate: float = 2e-3
    seed: int = 0


def _as_events(X: Any, unit: str, max_events: int | None) -> Any:
    """A DarkMachines CSV path, or the awkward records of :func:`hepsift.io.read_darkmachines`."""
    import awkward as ak

    from hepsift.io import read_darkmachines

    if isinstance(X, (str, os.PathLike)):
        return read_darkmachines(X, unit=unit, max_events=max_events, features=False)
    try:
        events = X if isinstance(X, ak.Array) else ak.Array(X)
    except (TypeError, ValueError) as exc:
        raise errors.DataError(
            f"ObjectListGenerator.fit takes a DarkMachines CSV path or the awkward records of "
            f"hepsift.io.read_darkmachines, got {type(X).__name__}"
        ) from exc
    return events if max_events is None else events[: int(max_events)]


def _check_event_fields(events: Any) -> None:
    missing = [f for f in EVENT_FIELDS if f not in events.fields]
    if missing:
        raise errors.DataError(f"the events lack {', '.join(missing)}; they hold {sorted(events.fields)}")


def _padded_objects(
    events: Any, name: str, max_objects: int, *, pad_to: int | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The objects of type ``name`` (:data:`OBJECT_TYPES`) in decreasing pT, padded.

    Returns ``(multiplicity capped at K, {field: float64 (n, K)})`` with ``MISSING`` in absent
    slots and the type's fixed mass where it has one; ``K = pad_to``, else ``min(max_objects,
    largest multiplicity)``; ``None`` when the events hold no such object and ``pad_to`` is None.
    """
    import awkward as ak

    coll, btag, fixed_mass = OBJECT_TYPES[name]
    fields = set(events.fields)
    if f"{coll}_pt" not in fields:
        raise errors.DataError(f"the events have no {coll}_pt; they hold {sorted(fields)}")
    sel = events[f"{coll}_pt"] > -np.inf
    if btag is not None:
        if f"{coll}_btag" not in fields:
            raise errors.DataError(f"{coll} objects need {coll}_btag to be split into Jet and BJet")
        sel = events[f"{coll}_btag"] == btag
    pt = events[f"{coll}_pt"][sel]
    order = ak.argsort(pt, axis=1, ascending=False, stable=True)
    mult = ak.to_numpy(ak.num(pt)).astype(np.int64)
    if pad_to is None and mult.max(initial=0) == 0:
        return None
    k = int(pad_to) if pad_to is not None else int(min(int(max_objects), mult.max()))
    out = {}
    for f in ("pt", "eta", "phi") if fixed_mass is not None else FIELDS:
        if f"{coll}_{f}" not in fields:
            raise errors.DataError(f"the events have {coll}_pt but no {coll}_{f}")
        v = events[f"{coll}_{f}"][sel][order]
        out[f] = ak.to_numpy(ak.fill_none(ak.pad_none(v, k, clip=True), MISSING)).astype(np.float64)
    if fixed_mass is not None:
        out["mass"] = np.where(out["pt"] != MISSING, fixed_mass, MISSING)
    return np.minimum(mult, k), out


def _learnt_name(name: str, i: int, field: str) -> str:
    """Name of a learnt per-slot column (slot ``i`` from 0): ``Jet1_pt``, ``Jet2_ptratio``, ``Jet2_eta`` ..."""
    return f"{name}{i + 1}_{field}ratio" if field == "pt" and i > 0 else f"{name}{i + 1}_{field}"


def _wrap_phi(phi: Any) -> Any:
    """phi mapped into [-pi, pi) (floor only: exact and the same in torch and ONNX)."""
    import torch

    return phi - _TWO_PI * torch.floor((phi + 0.5 * _TWO_PI) / _TWO_PI)


class ObjectListGenerator(NormalizingFlow):
    r"""Whole events as typed object lists: multiplicities, pT-ordered objects and missing E_T.

    Learns DarkMachines-like events (Aarrestad et al., SciPost Phys. 12 (2022) 043): per
    event the number of objects of each type (:data:`OBJECT_TYPES`: untagged jets ``Jet``,
    b-tagged jets ``BJet``, ``Electron``, ``Muon``, ``Photon``; types that never occur in the
    training events are left out), each object's ``pt``, ``eta``, ``phi`` (and the ``mass`` of
    jets; leptons and photons get the fixed masses of :func:`hepsift.io.read_darkmachines`),
    and ``MET_pt``, ``MET_phi``. Lepton charges are not generated.

    **Design: two stages in one sampler.** (1) The multiplicities: the joint distribution of
    ``(nJet, nBJet, ...)`` is categorical, estimated by the frequencies of the combinations
    seen in training (maximum likelihood; a combination never seen is never generated), and
    one noise column picks the combination by cumulative probability (as
    :class:`BetaVAE`'s mixture component). (2) The kinematics: a ``zuko`` flow (as
    :class:`NormalizingFlow`) conditioned on the multiplicities (its context), on the
    preprocessed columns of :mod:`hepsift.generative._codec` (quantile marginals, so every
    value stays inside its training range): for each type the ``K = min(max_objects, largest
    multiplicity seen)`` leading objects, the leading pT and for the others the ratio to the
    previous pT (in (0, 1], so the decoded objects are pT-ordered by construction: the flow
    need not learn the ordering), eta, phi (and jet masses), then MET and its phi. Slots
    beyond an event's multiplicity hold a random draw from the present values of the same
    column (no information; the flow learns them as independent noise, and they are masked
    on sampling). Why not one flow over counts and kinematics together (the simplest reuse of
    :class:`NormalizingFlow`)? On the toy of the tests it generated the two leading jets out
    of pT order in 20-25 % of the events (to be sorted afterwards, which biases the leading
    pT), and its multiplicities are only as good as its fit of the dequantised counts; the
    two stages reproduce the training multiplicities in distribution and order the objects by
    construction. Multiplicities above ``max_objects`` are capped (the lowest-pT objects are
    dropped).

    **Post-processing** (part of the sampler, so identical in :meth:`decode`, in the exported
    ONNX graph and in :func:`hepsift.rdf.sample`; float64, clamps, products and floors only):
    multiplicities in ``[0, K]``; ``pt_1 >= `` the smallest training pT of the type and
    ``pt_i = max(pt_{i-1} min(ratio_i, 1), pt_min)`` (decreasing); ``mass >= 0``;
    ``MET_pt >= 0``; every phi wrapped into ``[-pi, pi)`` by a floor; slots ``i > n`` set to
    :data:`hepsift.io.MISSING` (-999).

    Output of :meth:`decode` (and of the ONNX ``features``), in :attr:`generated_names_`
    order: per type ``n{T}`` then ``{T}{i}_{f}`` for ``f`` in ``pt, eta, phi, mass`` and ``i = 1..K``
    (field-major), then ``MET_pt``, ``MET_phi``; energies and momenta in GeV.
    :meth:`sample` returns jagged records (``nJet``, ``Jet_pt`` ...), the columns that
    :func:`hepsift.rdf.sample` defines; both draw their noise with the counter-based generator
    of ``hepsift/Noise.hxx`` (:func:`hepsift.generative.counter_noise`), so the same seed gives
    the same events in Python and in RDataFrame.

    Parameters
    ----------
    max_objects : most objects kept per type (>= 1)
    flow : ``"maf"`` (default: affine autoregressive) or ``"nsf"`` (splines). On the toy of the
        tests (~30 columns, shared 2-core machine) the NSF sampled 4000 events in 14 s and took
        230 s to export, the MAF 2 s and 15-30 s
    transforms, hidden, bins, marginals, epochs, batch_size, learning_rate, seed :
        as :class:`NormalizingFlow`; ``seed`` also seeds the fill of empty slots
    """

    config_class: ClassVar[type[Config]] = ObjectListGeneratorConfig
    _fitted_attrs: ClassVar[tuple[str, ...]] = (*Generator._fitted_attrs, "object_lists_", "pt_min_")
    _model_attrs: ClassVar[tuple[str, ...]] = (*NormalizingFlow._model_attrs, "multiplicities_")
    #: The contract test fits this learner on DarkMachines-like records.
    _input_kind: ClassVar[str] = "object_lists"

    def __init__(
        self, max_objects: int = 4, flow: str = "maf", transforms: int = 3, hidden: tuple[int, ...] = (128, 128),
        bins: int = 8, marginals: str = "quantile", epochs: int = 120, batch_size: int = 256,
        learning_rate: float = 2e-3, seed: int = 0,
    ) -> None:  # fmt: skip
        self.max_objects = max_objects
        super().__init__(flow=flow, transforms=transforms, hidden=hidden, bins=bins, marginals=marginals,
                         epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed)  # fmt: skip

    # -- training ---------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, unit: str = "MeV", max_events: int | None = None,  # type: ignore[override]
            progress: bool = False) -> ObjectListGenerator:  # fmt: skip
        """Learn the events of a DarkMachines CSV file or of the records read from one.

        Parameters
        ----------
        X : str or path-like, or awkward.Array
            A DarkMachines CSV file (read with :func:`hepsift.io.read_darkmachines`), or the
            records it returns (in GeV; also the object branches of :mod:`hepsift.events`
            files): ``MET_pt``, ``MET_phi`` and ``Jet_pt/eta/phi/mass/btag``, ``Electron_*``,
            ``Muon_*``, ``Photon_*`` (``pt``, ``eta``, ``phi``; missing collections count as
            empty).
        y : ignored
        unit : energy unit of a CSV file, ``"MeV"`` (the challenge's) or ``"GeV"``; the model
            works and generates in GeV
        max_events : read at most this many events
        progress : show a progress bar over epochs

        Returns
        -------
        self
        """
        if int(self.max_objects) != self.max_objects or int(self.max_objects) < 1:
            raise errors.ConfigurationError(f"max_objects must be an integer >= 1, got {self.max_objects!r}")
        events = _as_events(X, unit, max_events)
        matrix, names, lists, pt_min = self._vectors(events)
        self.object_lists_ = lists
        self.pt_min_ = pt_min
        self._train_counts = matrix[:, : len(lists)]
        try:
            super().fit(matrix, feature_names=names, progress=progress)
        finally:
            del self._train_counts
        self.provenance_["objects"] = {"unit": "GeV", "max_objects": int(self.max_objects), "lists": lists}
        self._module_cache = None
        return self

    def _vectors(self, events: Any) -> tuple[np.ndarray, list[str], list[dict[str, Any]], dict[str, float]]:
        """The training matrix (absent slots filled), its column names, the object lists and pT floors."""
        _check_event_fields(events)
        if len(events) < 10:
            raise errors.DataError(f"ObjectListGenerator.fit needs at least 10 events, got {len(events)}")
        counts: list[np.ndarray] = []
        blocks: list[np.ndarray] = []
        names: list[str] = []
        lists: list[dict[str, Any]] = []
        pt_min: dict[str, float] = {}
        for name, (coll, _, fixed_mass) in OBJECT_TYPES.items():
            if f"{coll}_pt" not in events.fields:
                continue
            got = _padded_objects(events, name, int(self.max_objects))
            if got is None:
                continue
            mult, padded = got
            k = padded["pt"].shape[1]
            for f in ("pt", "eta", "phi") if fixed_mass is not None else FIELDS:
                block = padded[f]
                if f == "pt":  # the leading pT, then each pT over the previous one (in (0, 1])
                    pt_min[name] = float(block[block != MISSING].min())
                    with np.errstate(divide="ignore", invalid="ignore"):
                        ratio = np.where(block[:, 1:] != MISSING, block[:, 1:] / block[:, :-1], MISSING)
                    block = np.concatenate([block[:, :1], ratio], axis=1)
                blocks.append(block)
                names += [_learnt_name(name, i, f) for i in range(k)]
            counts.append(mult.astype(np.float64))
            lists.append({"name": name, "count": f"n{name}", "max_objects": k, "fields": list(FIELDS),
                          "mass": fixed_mass})  # fmt: skip
        if not lists:
            raise errors.DataError("the events hold no objects (no Jet, Electron, Muon or Photon)")
        met = np.stack([np.asarray(events[f], dtype=np.float64) for f in EVENT_FIELDS], axis=1)
        raw = np.concatenate([np.stack(counts, axis=1), *blocks, met], axis=1)
        if not np.all(np.isfinite(raw)):
            raise errors.DataError("the events hold NaN or infinite values")
        filled = fill_absent(raw, np.random.default_rng([int(self.seed), 0x0B1EC7]))
        count_names = [x["count"] for x in lists]
        return filled.astype(np.float32), count_names + names + list(EVENT_FIELDS), lists, pt_min

    def to_flat(self, X: Any, *, unit: str = "MeV", max_events: int | None = None) -> np.ndarray:
        """Real events in the layout of :meth:`decode` (to compare them with generated ones).

        Parameters
        ----------
        X, unit, max_events : as :meth:`fit`

        Returns
        -------
        ndarray, float32, shape (n_events, len(generated_names_)): multiplicities capped at each
        type's ``max_objects``, the leading objects in decreasing pT (GeV), -999 for absent slots
        """
        self._check_fitted()
        events = _as_events(X, unit, max_events)
        _check_event_fields(events)
        cols: list[np.ndarray] = []
        for lst in self.object_lists_:
            got = _padded_objects(events, lst["name"], int(lst["max_objects"]), pad_to=int(lst["max_objects"]))
            mult, padded = got if got is not None else (np.zeros(len(events)), {})
            cols.append(np.asarray(mult, dtype=np.float64)[:, None])
            cols += [padded.get(f, np.full((len(events), int(lst["max_objects"])), MISSING)) for f in lst["fields"]]
        cols += [np.asarray(events[f], dtype=np.float64)[:, None] for f in EVENT_FIELDS]
        return np.concatenate(cols, axis=1).astype(np.float32)

    def _fit_core(self, Xs: np.ndarray, *, progress: bool = False) -> None:
        """Stage 1: the joint multiplicities (categorical); stage 2: the kinematics, a flow
        conditioned on them."""
        import torch

        from hepsift.generative._codec import decoder_module, log_jacobian

        t = len(self.object_lists_)
        counts = np.asarray(self._train_counts, dtype=np.float64)
        combos, freq = np.unique(counts, axis=0, return_counts=True)
        # each combination's encoded counts: the codec's map at c + 1/2, floored back to c on sampling
        probe = np.zeros((len(combos), self.n_encoded_))
        probe[:, :t] = combos + 0.5
        encoded = log_jacobian(self.codec_, probe)[0].astype(np.float64)[:, :t]
        full = np.zeros((len(combos), self.n_encoded_))
        full[:, :t] = encoded
        with torch.no_grad():
            back = decoder_module(self.codec_)(torch.from_numpy(full)).numpy()[:, :t]
        if not np.array_equal(back, combos):
            raise errors.ModelError("the multiplicities do not survive the preprocessing's round trip; "
                                    "use marginals='quantile'")  # fmt: skip
        self.multiplicities_ = {"counts": combos, "probabilities": freq / freq.sum(), "encoded": encoded}
        self._train_flow(Xs[:, t:], counts.astype(np.float32), progress=progress)

    def _latent_dim(self) -> int:
        return 1 + self.n_encoded_ - len(self.object_lists_)

    def _sampler(self) -> Any:
        import torch

        from hepsift.generative._models import _bucket, _load_state
        from scipy.special import ndtri

        t = len(self.object_lists_)
        flow = _load_state(self._build(self.n_encoded_ - t, t), self.flow_state_)
        cum = np.cumsum(self.multiplicities_["probabilities"])
        thresholds = ndtri(np.clip(cum[:-1] / cum[-1], 0.0, 1.0))
        mult = self.multiplicities_

        class _TwoStage(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.register_buffer("thresholds", torch.as_tensor(thresholds, dtype=torch.float64))
                self.register_buffer("encoded", torch.as_tensor(mult["encoded"], dtype=torch.float64))
                self.register_buffer("counts", torch.as_tensor(mult["counts"], dtype=torch.float64))
                self.flow = flow

            def forward(self, z: torch.Tensor) -> torch.Tensor:
                c = _bucket(self.thresholds, z[:, 0])  # the multiplicity combination, by cumulative probability
                kin = self.flow(self.counts[c].to(z.dtype)).transform.inv(z[:, 1:])
                return torch.cat([self.encoded[c].to(z.dtype), kin], dim=1)

        return _TwoStage().eval()

    # -- sampling -----------------------------------------------------------------------
    @property
    def generated_names_(self) -> list[str]:
        """Columns of :meth:`decode`: ``n{T}``, ``{T}{i}_{f}`` (field-major), ``MET_pt``, ``MET_phi``."""
        self._check_fitted()
        out: list[str] = []
        for lst in self.object_lists_:
            out.append(lst["count"])
            out += [f"{lst['name']}{i + 1}_{f}" for f in lst["fields"] for i in range(lst["max_objects"])]
        return out + list(EVENT_FIELDS)

    def _generator_metadata(self) -> dict[str, Any]:
        meta = super()._generator_metadata()
        meta[OBJECT_LISTS_KEY] = [{k: v for k, v in lst.items() if k != "mass"} for lst in self.object_lists_]
        return meta

    def _postprocess(self) -> Any:
        import torch

        index = {nm: i for i, nm in enumerate(self.feature_names_in_)}
        specs = []
        for lst in self.object_lists_:
            name, k = lst["name"], int(lst["max_objects"])
            cols = {f: [index[_learnt_name(name, i, f)] for i in range(k)] for f in FIELDS
                    if f"{name}1_{f}" in index}  # fmt: skip
            specs.append((index[lst["count"]], k, cols, lst["mass"], self.pt_min_[name]))
        met = [index[f] for f in EVENT_FIELDS]

        class _Objects(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.specs = []
                for t, (ci, k, cols, mass, ptmin) in enumerate(specs):
                    for f, idx in cols.items():
                        self.register_buffer(f"i{t}_{f}", torch.as_tensor(idx, dtype=torch.int64))
                    slot = torch.arange(k, dtype=torch.float64)
                    self.register_buffer(f"slot{t}", slot)
                    self.specs.append((ci, float(k), list(cols), mass, ptmin))
                self.met = met

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out = []
                for t, (ci, k, learnt, mass, ptmin) in enumerate(self.specs):
                    slot = getattr(self, f"slot{t}")
                    n = torch.clamp(x[:, ci : ci + 1], 0.0, k)
                    present = slot < n  # (batch, k)
                    vals = {f: x[:, getattr(self, f"i{t}_{f}")] for f in learnt}
                    # p_T of slot i = p_T of slot i-1 times its ratio (<= 1): ordered by construction
                    pts = [torch.clamp(vals["pt"][:, :1], min=ptmin)]
                    for i in range(1, int(k)):
                        ratio = torch.clamp(vals["pt"][:, i : i + 1], max=1.0)
                        pts.append(torch.clamp(pts[-1] * ratio, min=ptmin))
                    vals["pt"] = torch.cat(pts, dim=1)
                    vals["phi"] = _wrap_phi(vals["phi"])
                    vals["mass"] = torch.clamp(vals["mass"], min=0.0) if "mass" in vals else \
                        torch.full_like(vals["pt"], float(mass))  # fmt: skip
                    out.append(n)
                    for f in FIELDS:
                        out.append(torch.where(present, vals[f], torch.full_like(vals[f], MISSING)))
                out.append(torch.clamp(x[:, self.met[0] : self.met[0] + 1], min=0.0))
                out.append(_wrap_phi(x[:, self.met[1] : self.met[1] + 1]))
                return torch.cat(out, dim=1)

        return _Objects().eval()

    def sample(  # type: ignore[override]
        self, n: int, seed: int = 0, *, batch_size: int = 65536, layout: str = "jagged"
    ) -> Any:
        """Generate ``n`` events from the noise of entries ``0 .. n-1`` of ``hepsift::noise(seed, ...)``.

        Parameters
        ----------
        n : number of events
        seed : int in [0, 2**64); the events equal those of ``hepsift.rdf.sample(file, n, seed)``
        batch_size : events per call of the sampler
        layout : ``"jagged"`` (awkward records) or ``"flat"`` (:meth:`decode`'s array)

        Returns
        -------
        ``layout="jagged"``: awkward.Array of records with ``n{T}`` (int32), ``{T}_pt``,
        ``{T}_eta``, ``{T}_phi``, ``{T}_mass`` (float32 lists of length ``n{T}``, decreasing
        pT), ``MET_pt``, ``MET_phi``; ``layout="flat"``: ndarray, float32, shape
        (n, len(generated_names_)), absent slots -999.
        """
        self._check_fitted()
        if layout not in ("jagged", "flat"):
            raise errors.ConfigurationError(f"layout must be 'jagged' or 'flat', got {layout!r}")
        flat = super().sample(n, seed, batch_size=batch_size)
        return flat if layout == "flat" else self.to_jagged(flat)

    def to_jagged(self, flat: np.ndarray) -> Any:
        """:meth:`decode`'s array ``(n, len(generated_names_))`` as jagged awkward records (see :meth:`sample`)."""
        import awkward as ak

        names = self.generated_names_
        arr = np.asarray(flat, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise errors.InputMismatchError(f"expected shape (n, {len(names)}); got {arr.shape}")
        out: dict[str, Any] = {}
        for name, ci, k, starts in object_list_layout(names, self.object_lists_):
            count = arr[:, ci].astype(np.int32)
            out[names[ci]] = count
            keep = np.arange(k)[None, :] < count[:, None]
            for f, start in starts:
                out[f"{name}_{f}"] = ak.unflatten(arr[:, start : start + k][keep], count)
        for f in EVENT_FIELDS:
            out[f] = arr[:, names.index(f)]
        return ak.Array(out)

    def _onnx_sample(self) -> np.ndarray:
        return counter_noise(int(self.seed), 512, self.latent_dim_)
