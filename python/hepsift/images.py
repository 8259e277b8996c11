"""Jet images and event images, in NumPy and (identically) inside the RDataFrame event loop.

Jet images are built from the constituents of one jet (the ``PFCand_*`` collection that
``hepsift.generate`` writes with ``constituents=True``, or any collection with the same
meaning): centred on the pT-weighted centroid, rotated so that the principal axis of the
pT-weighted second moments lies along the columns (u), flipped so that the brighter halves lie
at positive u and v, then binned into ``channels x rows x cols`` pixels over ``[-extent,
extent)`` in both directions (default 2 x 33 x 33 over +-1.0, the radius of the generator's
``FatJet``; use ``extent=0.4`` with ``PFCand_jetIdx``). Each channel sums the pT of the
constituent types it names (default: charged, neutral); ``normalise="sum"`` divides by the
summed pT so that the image sums to 1. The formulas are written out in
``cpp/include/hepsift/Images.hxx``; the centroid and axes use every constituent of the jet,
whatever the channels (cf. de Oliveira et al., JHEP 07 (2016) 069 [arXiv:1511.05190]).

Event images ("abstract" images) place the reconstructed objects in (phi rows, eta columns),
one channel per object type: jets, electrons, muons, photons, missing E_T (at eta = 0),
intensity pT (Madrazo et al., Eur. Phys. J. C 79 (2019) 304 [arXiv:1708.07034] use the same
idea with particle-flow objects).

The C++ functions ``hepsift::jetImage`` and ``hepsift::eventImage`` (header
``hepsift/Images.hxx``) compute the same pixels: every step is the same IEEE double operation
in the same order, so the two agree bit for bit in practice (tested to 1e-6).

Examples
--------
>>> import numpy as np, awkward as ak
>>> from hepsift.images import jet_images
>>> pfc = {"PFCand_pt": ak.Array([[50.0, 30.0, 20.0]]), "PFCand_eta": ak.Array([[0.1, 0.3, -0.2]]),
...        "PFCand_phi": ak.Array([[1.0, 1.2, 0.9]]), "PFCand_type": ak.Array([[1, 2, 3]]),
...        "PFCand_fatJetIdx": ak.Array([[0, 0, 0]])}
>>> img = jet_images(pfc, jet=0)
>>> img.shape, img.dtype, float(img.sum())
((1, 2, 33, 33), dtype('float32'), 100.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError

__all__ = [
    "PARTICLE_TYPES",
    "CHANNELS",
    "EVENT_CHANNELS",
    "JET_IMAGE_COLUMNS",
    "EVENT_IMAGE_COLUMNS",
    "channel_masks",
    "jet_images",
    "event_images",
    "define_jet_image",
    "define_event_image",
    "stack_images",
]

#: ``PFCand_type`` codes (the same in ``hepsift/Images.hxx`` and the generator).
PARTICLE_TYPES: dict[str, int] = {"charged_hadron": 1, "neutral_hadron": 2, "photon": 3, "electron": 4, "muon": 5}

#: Named channels: the ``PFCand_type`` codes each one sums.
CHANNELS: dict[str, tuple[int, ...]] = {
    "charged": (1, 4, 5),
    "neutral": (2, 3),
    "all": (1, 2, 3, 4, 5),
    **{name: (code,) for name, code in PARTICLE_TYPES.items()},
}

#: Channels of an event image, in order.
EVENT_CHANNELS: tuple[str, ...] = ("jet", "electron", "muon", "photon", "met")

#: Columns :func:`jet_images` reads (with ``PFCand_fatJetIdx`` or ``PFCand_jetIdx`` as index).
JET_IMAGE_COLUMNS: tuple[str, ...] = ("PFCand_pt", "PFCand_eta", "PFCand_phi", "PFCand_type")

#: Columns :func:`event_images` reads, in the order of ``hepsift::eventImage``'s arguments.
EVENT_IMAGE_COLUMNS: tuple[str, ...] = (
    "Jet_pt", "Jet_eta", "Jet_phi", "Electron_pt", "Electron_eta", "Electron_phi",
    "Muon_pt", "Muon_eta", "Muon_phi", "Photon_pt", "Photon_eta", "Photon_phi", "MET_pt", "MET_phi",
)  # fmt: skip

_MAX_TYPE = 30  # type codes above this select no channel (as in the C++ header)
_CHUNK = 4096  # events per NumPy block (bounds the float64 pixel buffer)


def channel_masks(channels: Sequence[str | Sequence[int]]) -> list[int]:
    """Channel specifications -> bit masks over ``PFCand_type`` (bit t selects type t).

    Parameters
    ----------
    channels
        Names of :data:`CHANNELS` (``"charged"``, ``"neutral"``, ``"photon"``, ...) or
        sequences of type codes 1-5.

    Returns
    -------
    list[int]
        One mask per channel, as ``hepsift::JetImageConfig::channels`` takes them.

    Raises
    ------
    ConfigurationError
        No channel, an unknown name, or a type code outside 1-5.

    Examples
    --------
    >>> channel_masks(["charged", "neutral"])
    [50, 12]
    """
    if isinstance(channels, str) or not len(channels):
        raise ConfigurationError(f"channels must be a non-empty sequence of names or type codes, got {channels!r}")
    masks = []
    for ch in channels:
        if isinstance(ch, str):
            if ch not in CHANNELS:
                raise ConfigurationError(f"unknown channel {ch!r}; known: {', '.join(CHANNELS)} or a tuple of "
                                         f"PFCand_type codes {PARTICLE_TYPES}")  # fmt: skip
            codes = CHANNELS[ch]
        else:
            codes = tuple(ch)
            valid = {int(c) for c in codes if isinstance(c, (int, np.integer)) and not isinstance(c, bool)}
            if not codes or len(valid) != len(set(codes)) or not valid <= set(PARTICLE_TYPES.values()):
                raise ConfigurationError(f"channel {ch!r}: give PFCand_type codes 1-5 {PARTICLE_TYPES}")
        masks.append(int(sum(1 << int(c) for c in set(codes))))
    return masks


def _grid(pixels: int | tuple[int, int], extent: float, what: str) -> tuple[int, int, float]:
    rows, cols = (pixels, pixels) if isinstance(pixels, (int, np.integer)) else tuple(pixels)
    for n in (rows, cols):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 4096:
            raise ConfigurationError(f"{what}: pixels must be an integer or (rows, cols) of integers 1-4096, "
                                     f"got {pixels!r}")  # fmt: skip
    if not (isinstance(extent, (int, float, np.floating)) and np.isfinite(extent) and extent > 0):
        raise ConfigurationError(f"{what}: extent must be a positive number, got {extent!r}")
    return int(rows), int(cols), float(extent)


def _normalise_flag(normalise: str | None) -> bool:
    if normalise in (None, "none"):
        return False
    if normalise == "sum":
        return True
    raise ConfigurationError(f"normalise must be None, 'none' or 'sum', got {normalise!r}")


def _flat(
    arrays: Mapping[str, Any] | Any, names: Sequence[str], dtype: Any, what: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """Jagged columns -> flat NumPy arrays and the per-event counts, checking equal lengths."""
    import awkward as ak

    out = []
    counts = None
    for name in names:
        try:
            col = arrays[name]
        except (KeyError, ValueError, IndexError, ak.errors.FieldNotFoundError) as exc:
            raise DataError(f"{what}: no column {name!r} (needed: {', '.join(names)})") from exc
        col = ak.Array(col) if not isinstance(col, ak.Array) else col
        if col.ndim != 2:
            raise DataError(f"{what}: column {name!r} must hold one list per event, got type {col.type}")
        n = ak.to_numpy(ak.num(col, axis=1))
        if counts is None:
            counts = n
        elif len(n) != len(counts):
            raise DataError(f"{what}: column {name!r} has {len(n)} events but {names[0]!r} has {len(counts)}")
        elif not np.array_equal(n, counts):
            e = int(np.nonzero(n != counts)[0][0])
            raise DataError(f"{what}: column {name!r} has {n[e]} entries in event {e} but {names[0]!r} has "
                            f"{counts[e]} (the columns of one collection must have equal lengths)")  # fmt: skip
        out.append(ak.to_numpy(ak.flatten(col, axis=1)).astype(dtype, copy=False))
    assert counts is not None
    return out, counts


def _finish(acc: np.ndarray, total: np.ndarray, normalise: bool) -> np.ndarray:
    """Float64 pixel sums -> float32 images, divided by ``total`` per event with ``normalise``."""
    if not normalise:
        return acc.astype(np.float32)
    out = np.zeros(acc.shape, dtype=np.float32)
    ok = total > 0.0
    out[ok] = (acc[ok] / total[ok].reshape(-1, *([1] * (acc.ndim - 1)))).astype(np.float32)
    return out


def _wrap(d: np.ndarray) -> np.ndarray:
    return np.where(d > np.pi, d - 2.0 * np.pi, np.where(d < -np.pi, d + 2.0 * np.pi, d))


def jet_images(
    arrays: Mapping[str, Any] | Any,
    jet: int = 0,
    *,
    index: str = "PFCand_fatJetIdx",
    pixels: int | tuple[int, int] = 33,
    extent: float = 1.0,
    channels: Sequence[str | Sequence[int]] = ("charged", "neutral"),
    rotate: bool = True,
    flip: bool = True,
    normalise: str | None = None,
) -> np.ndarray:
    """Jet images of jet number ``jet`` of every event.

    Parameters
    ----------
    arrays
        Mapping (dict, ``awkward`` record array, uproot's ``tree.arrays()``) holding the
        jagged columns :data:`JET_IMAGE_COLUMNS` and ``index`` (one list per event).
    jet
        The jet to image: its constituents are those with ``index == jet`` (0: leading).
    index
        Column with each constituent's jet index: ``PFCand_fatJetIdx`` (large-R jets) or
        ``PFCand_jetIdx`` (R = 0.4; use ``extent=0.4``).
    pixels
        ``rows`` (= ``cols``) or ``(rows, cols)``: H along v (minor axis), W along u
        (principal axis).
    extent
        Half-width of the image in eta and phi (default 1.0: the ``FatJet`` radius).
    channels
        Names of :data:`CHANNELS` or tuples of ``PFCand_type`` codes; one image channel each.
    rotate, flip
        Rotate the principal axis onto +u; put the brighter halves at positive u and v.
    normalise
        ``None``/``"none"``: pixels in GeV; ``"sum"``: divided by the summed pT (sum 1).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n_events, len(channels), rows, cols)``; all zero for events without
        that jet. Pixel ``[n, c, i, j]`` covers v in ``[-extent + i h, -extent + (i+1) h)``
        and u in ``[-extent + j w, ...)``, ``h = 2 extent / rows``, ``w = 2 extent / cols``.

    Raises
    ------
    ConfigurationError
        Bad pixels, extent, channels or normalise.
    DataError
        A missing column, columns of unequal lengths (naming them and the event), or a
        non-finite constituent.
    """
    rows, cols, e = _grid(pixels, extent, "jet_images")
    masks = np.array(channel_masks(channels), dtype=np.int64)
    norm = _normalise_flag(normalise)
    if isinstance(jet, bool) or not isinstance(jet, (int, np.integer)):
        raise ConfigurationError(f"jet must be an integer index, got {jet!r}")
    names = (*JET_IMAGE_COLUMNS, index)
    (pt, eta, phi, typ, idx), counts = _flat(arrays, names, np.float64, "jet_images")
    typ = typ.astype(np.int64)
    idx = idx.astype(np.int64)
    n_events = len(counts)
    nch = len(masks)
    first = np.concatenate([[0], np.cumsum(counts)])
    out = np.zeros((n_events, nch, rows, cols), dtype=np.float32)
    for start in range(0, n_events, _CHUNK):
        stop = min(start + _CHUNK, n_events)
        lo, hi = first[start], first[stop]
        evt = np.repeat(np.arange(stop - start), counts[start:stop])
        out[start:stop] = _jet_block(pt[lo:hi], eta[lo:hi], phi[lo:hi], typ[lo:hi], idx[lo:hi], evt, stop - start,
                                     int(jet), rows, cols, e, masks, rotate, flip, norm, int(lo))  # fmt: skip
    return out


def _jet_block(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, typ: np.ndarray, idx: np.ndarray, evt: np.ndarray,
               n: int, jet: int, rows: int, cols: int, e: float, masks: np.ndarray, rotate: bool, flip: bool,
               norm: bool, offset: int) -> np.ndarray:  # fmt: skip
    """Images of one block of events; the operations of ``hepsift::jetImage``, event-parallel."""
    sel = np.nonzero(idx == jet)[0]
    pt, eta, phi, typ, ev = pt[sel], eta[sel], phi[sel], typ[sel], evt[sel]
    bad = ~(np.isfinite(pt) & np.isfinite(eta) & np.isfinite(phi))
    if bad.any():
        raise DataError(f"jet_images: constituent {int(sel[np.argmax(bad)]) + offset} (flat index) has a non-finite "
                        "pt, eta or phi")  # fmt: skip
    nch = len(masks)
    sw = np.bincount(ev, weights=pt, minlength=n)
    # leading constituent of each event (first one on ties)
    order = np.lexsort((np.arange(len(pt)), -pt, ev))
    lead = np.zeros(n, dtype=np.int64)
    has = np.bincount(ev, minlength=n) > 0
    starts = np.searchsorted(ev[order], np.nonzero(has)[0])
    lead[has] = order[starts]
    ref = np.zeros(n)
    ref[has] = phi[lead[has]]
    d = _wrap(phi - ref[ev])
    safe = np.where(sw > 0.0, sw, 1.0)
    meta = np.bincount(ev, weights=pt * eta, minlength=n) / safe
    mphi = np.bincount(ev, weights=pt * d, minlength=n) / safe
    x = eta - meta[ev]
    y = d - mphi[ev]
    c = np.ones(n)
    s = np.zeros(n)
    if rotate:
        cxx = np.bincount(ev, weights=pt * x * x, minlength=n)
        cyy = np.bincount(ev, weights=pt * y * y, minlength=n)
        cxy = np.bincount(ev, weights=pt * x * y, minlength=n)
        dd = cxx - cyy
        r = np.sqrt(dd * dd + 4.0 * cxy * cxy)
        ok = r > 0.0
        c2 = dd[ok] / r[ok]
        c[ok] = np.sqrt(np.maximum(0.0, 0.5 * (1.0 + c2)))
        s[ok] = np.sqrt(np.maximum(0.0, 0.5 * (1.0 - c2)))
        s[ok & (cxy < 0.0)] *= -1.0
    u = x * c[ev] + y * s[ev]
    v = y * c[ev] - x * s[ev]
    if flip:
        zero = np.zeros_like(pt)
        su = np.where(np.bincount(ev, weights=np.where(u < 0.0, pt, zero), minlength=n)
                      > np.bincount(ev, weights=np.where(u > 0.0, pt, zero), minlength=n), -1.0, 1.0)  # fmt: skip
        sv = np.where(np.bincount(ev, weights=np.where(v < 0.0, pt, zero), minlength=n)
                      > np.bincount(ev, weights=np.where(v > 0.0, pt, zero), minlength=n), -1.0, 1.0)  # fmt: skip
        u = u * su[ev]
        v = v * sv[ev]
    w = (2.0 * e) / cols
    h = (2.0 * e) / rows
    fc = np.floor((u + e) / w)
    fr = np.floor((v + e) / h)
    inside = (fc >= 0.0) & (fc < cols) & (fr >= 0.0) & (fr < rows) & (typ >= 0) & (typ <= _MAX_TYPE)
    member = ((masks[None, :] >> np.clip(typ, 0, _MAX_TYPE)[:, None]) & 1).astype(bool) & inside[:, None]
    pix = fr.clip(0, rows - 1).astype(np.int64) * cols + fc.clip(0, cols - 1).astype(np.int64)
    npix = rows * cols
    k, ch = np.nonzero(member.T)[::-1]  # channel-major, particle order within a channel
    flat = (ev[k] * nch + ch) * npix + pix[k]
    acc = np.bincount(flat, weights=pt[k], minlength=n * nch * npix).reshape(n, nch, rows, cols)
    total = np.bincount(ev, weights=pt * member.sum(axis=1), minlength=n)
    return _finish(acc, total, norm)


def event_images(
    arrays: Mapping[str, Any] | Any,
    *,
    pixels: int | tuple[int, int] = 32,
    extent: float = 5.0,
    normalise: str | None = None,
) -> np.ndarray:
    """Abstract event images: reconstructed objects in (phi, eta), one channel per type.

    Parameters
    ----------
    arrays
        Mapping holding :data:`EVENT_IMAGE_COLUMNS` (jagged ``Jet_*``, ``Electron_*``,
        ``Muon_*``, ``Photon_*``; scalar ``MET_pt``, ``MET_phi``).
    pixels
        ``rows`` (= ``cols``) or ``(rows, cols)``: H in phi over ``[-pi, pi)``, W in eta.
    extent
        Eta range ``[-extent, extent)``; objects outside are dropped (MET sits at eta = 0).
    normalise
        ``None``/``"none"``: pixels in GeV; ``"sum"``: divided by the summed pT (sum 1).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n_events, 5, rows, cols)``, channels :data:`EVENT_CHANNELS`.

    Raises
    ------
    ConfigurationError
        Bad pixels, extent or normalise.
    DataError
        A missing column, columns of one collection with unequal lengths, non-finite values.
    """
    import awkward as ak

    rows, cols, e = _grid(pixels, extent, "event_images")
    norm = _normalise_flag(normalise)
    parts = []
    n_events = None
    for ch, coll in enumerate(("Jet", "Electron", "Muon", "Photon")):
        (pt, eta, phi), counts = _flat(arrays, [f"{coll}_{f}" for f in ("pt", "eta", "phi")], np.float64,
                                       "event_images")  # fmt: skip
        if n_events is not None and len(counts) != n_events:
            raise DataError(f"event_images: {coll}_pt has {len(counts)} events but Jet_pt has {n_events}")
        n_events = len(counts)
        parts.append((np.repeat(np.arange(n_events), counts), pt, eta, phi, ch))
    assert n_events is not None
    met = []
    for name in ("MET_pt", "MET_phi"):
        try:
            col = np.asarray(ak.to_numpy(ak.Array(arrays[name])), dtype=np.float64)
        except (KeyError, ValueError, ak.errors.FieldNotFoundError) as exc:
            raise DataError(f"event_images: no column {name!r} (needed: {', '.join(EVENT_IMAGE_COLUMNS)})") from exc
        if col.shape != (n_events,):
            raise DataError(f"event_images: column {name!r} must hold one number per event ({n_events}), "
                            f"got shape {col.shape}")  # fmt: skip
        met.append(col)
    parts.append((np.arange(n_events), met[0], np.zeros(n_events), met[1], 4))
    evt = np.concatenate([p[0] for p in parts])
    pt = np.concatenate([p[1] for p in parts])
    eta = np.concatenate([p[2] for p in parts])
    phi = np.concatenate([p[3] for p in parts])
    ch = np.concatenate([np.full(len(p[0]), p[4]) for p in parts])
    bad = ~(np.isfinite(pt) & np.isfinite(eta) & np.isfinite(phi))
    if bad.any():
        k = int(np.argmax(bad))
        raise DataError(f"event_images: a {EVENT_CHANNELS[ch[k]]} of event {evt[k]} has a non-finite pt, eta or phi")
    w = (2.0 * e) / cols
    h = (2.0 * np.pi) / rows
    fc = np.floor((eta + e) / w)
    inside = (fc >= 0.0) & (fc < cols)
    r = np.mod(np.floor((phi + np.pi) / h).astype(np.int64), rows)
    npix = rows * cols
    flat = (evt * 5 + ch) * npix + r * cols + fc.clip(0, cols - 1).astype(np.int64)
    acc = np.bincount(flat[inside], weights=pt[inside], minlength=n_events * 5 * npix)
    total = np.bincount(evt[inside], weights=pt[inside], minlength=n_events)
    return _finish(acc.reshape(n_events, 5, rows, cols), total, norm)


def _cpp_bool(flag: bool) -> str:
    return "true" if flag else "false"


def _check_column(name: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigurationError(f"column names must be plain identifiers, got {name!r}")
    return name


def define_jet_image(
    df: Any,
    name: str,
    jet: int = 0,
    *,
    index: str = "PFCand_fatJetIdx",
    columns: Sequence[str] = JET_IMAGE_COLUMNS,
    pixels: int | tuple[int, int] = 33,
    extent: float = 1.0,
    channels: Sequence[str | Sequence[int]] = ("charged", "neutral"),
    rotate: bool = True,
    flip: bool = True,
    normalise: str | None = None,
) -> Any:
    """Define column ``name`` on RDataFrame node ``df``: the jet image of :func:`jet_images`
    computed in the event loop by ``hepsift::jetImage`` (``ROOT::RVec<float>``, C x H x W).

    ``columns`` names the pt, eta, phi and type columns (in that order); the other
    parameters are those of :func:`jet_images`. Returns the new node.
    """
    from hepsift.rdf import load_library

    rows, cols, e = _grid(pixels, extent, "define_jet_image")
    masks = channel_masks(channels)
    _normalise_flag(normalise)
    if isinstance(jet, bool) or not isinstance(jet, (int, np.integer)):
        raise ConfigurationError(f"jet must be an integer index, got {jet!r}")
    cols_in = [_check_column(c) for c in (*columns, index)]
    if len(cols_in) != 5:
        raise ConfigurationError(f"columns must name pt, eta, phi and type, got {list(columns)}")
    load_library()
    config = (f"hepsift::JetImageConfig{{{rows}, {cols}, {e!r}, {_cpp_bool(rotate)}, {_cpp_bool(flip)}, "
              f"{_cpp_bool(_normalise_flag(normalise))}, {{{', '.join(map(str, masks))}}}}}")  # fmt: skip
    return df.Define(_check_column(name), f"hepsift::jetImage({', '.join(cols_in)}, {int(jet)}, {config})")


def define_event_image(
    df: Any,
    name: str,
    *,
    columns: Sequence[str] = EVENT_IMAGE_COLUMNS,
    pixels: int | tuple[int, int] = 32,
    extent: float = 5.0,
    normalise: str | None = None,
) -> Any:
    """Define column ``name`` on RDataFrame node ``df``: the event image of
    :func:`event_images` computed by ``hepsift::eventImage`` (``ROOT::RVec<float>``, 5 x H x W).

    ``columns``: the 14 columns in the order of :data:`EVENT_IMAGE_COLUMNS`. Returns the new node.
    """
    from hepsift.rdf import load_library

    rows, cols, e = _grid(pixels, extent, "define_event_image")
    cols_in = [_check_column(c) for c in columns]
    if len(cols_in) != len(EVENT_IMAGE_COLUMNS):
        raise ConfigurationError(f"columns must name the {len(EVENT_IMAGE_COLUMNS)} columns of EVENT_IMAGE_COLUMNS, "
                                 f"got {len(cols_in)}")  # fmt: skip
    load_library()
    config = f"hepsift::EventImageConfig{{{rows}, {cols}, {e!r}, {_cpp_bool(_normalise_flag(normalise))}}}"
    return df.Define(_check_column(name), f"hepsift::eventImage({', '.join(cols_in)}, {config})")


def stack_images(values: Sequence[Any], channels: int, pixels: int | tuple[int, int]) -> np.ndarray:
    """Images read back from RDataFrame (``df.AsNumpy([name])[name]``: one flat vector per
    event) -> float32 array of shape ``(n_events, channels, rows, cols)``.

    Raises
    ------
    DataError
        An event whose vector does not hold ``channels x rows x cols`` pixels (wrong channel
        count or grid).
    """
    rows, cols, _ = _grid(pixels, 1.0, "stack_images")
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ConfigurationError(f"channels must be a positive integer, got {channels!r}")
    size = channels * rows * cols
    out = np.empty((len(values), channels, rows, cols), dtype=np.float32)
    for i, v in enumerate(values):
        a = np.asarray(v, dtype=np.float32)
        if a.size != size:
            guess = f"; {a.size // (rows * cols)} channels of {rows} x {cols}?" if a.size % (rows * cols) == 0 else ""
            raise DataError(f"stack_images: event {i} holds {a.size} pixels, expected channels x rows x cols = "
                            f"{channels} x {rows} x {cols} = {size}{guess}")  # fmt: skip
        out[i] = a.reshape(channels, rows, cols)
    return out
