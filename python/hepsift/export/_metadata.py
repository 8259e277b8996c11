"""The hepsift metadata that makes an ONNX file self-describing.

Keys written into ``ModelProto.metadata_props`` (all values are strings):

=========================  ============================================================
``hepsift.features``       JSON list of input feature names, in input order
``hepsift.kind``           ``classifier``, ``regressor``, ``anomaly``, ``generator`` or
                           ``density_ratio``
``hepsift.version``        hepsift version that wrote the file
``hepsift.score_output``   name of the output that is "the score" (optional)
``hepsift.outputs``        JSON list of output names (optional, informational)
``hepsift.mass_parameter`` name of the mass-parameter feature (optional)
``hepsift.thresholds``     JSON object ``{"1e-2": cut, ...}``: score cuts at background
                           efficiencies (optional)
``hepsift.provenance``     JSON object: versions, seeds, configuration (optional)
``hepsift.inputs``         JSON list, one object per graph input of a model of sets or
                           images (absent for flat models): ``name``, ``kind``
                           (``objects``, ``mask`` or ``image``), ``shape`` (``"N"``, ``"P"``,
                           ``"J"`` for dynamic axes, integers otherwise) and, for
                           ``objects``, ``collection`` and ``columns`` (the per-object
                           columns of the last axis, in order; the tagger adds
                           ``grouped_by``, the jet-index column, and ``per``, the jet
                           collection), for ``image``, ``channels`` (optional)
``hepsift.collections``    JSON object: collection name -> ``{"columns": [...],
                           "max_objects": P at training}`` (optional)
``hepsift.output_collection`` name of the collection a per-object score ``[N, J]`` is
                           aligned with (absent: one score per event)
``hepsift.digest``         ``sha256:<hex>`` of the graph, the opsets and every other
                           metadata property, written last (see :func:`seal`)
=========================  ============================================================

The digest makes an edit after export visible: swapping two stored feature names, changing
a threshold or a weight. :class:`hepsift.rdf.Model` and ``hepsift info`` check it; a file
whose digest does not match is refused (:class:`hepsift.MetadataError`) unless the caller
opts out (``verify=False``). It guards against accidents and naive edits, not against
someone who recomputes it: it is a checksum, not a signature.

The C++ ``hepsift::Model`` reads ``hepsift.features`` (to bind columns by name),
``hepsift.kind``, ``hepsift.version`` and ``hepsift.score_output``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hepsift._version import __version__
from hepsift.errors import ConfigurationError, MetadataError

__all__ = ["KINDS", "DIGEST_KEY", "OBJECT_LISTS_KEY", "object_list_layout", "INPUT_KINDS", "efficiency_key",
           "add_metadata", "lowlevel_metadata", "read_metadata", "seal", "digest", "verify_digest"]

DIGEST_KEY = "hepsift.digest"
#: Metadata of a generator of object lists: JSON list of ``{"name", "count", "max_objects",
#: "fields"}``, one per object type (see :func:`object_list_layout`).
OBJECT_LISTS_KEY = "hepsift.object_lists"

KINDS = ("classifier", "regressor", "anomaly", "generator", "density_ratio")

#: ``kind`` of an entry of ``hepsift.inputs``.
INPUT_KINDS = ("objects", "mask", "image")


def lowlevel_metadata(*, inputs: Sequence[Mapping[str, Any]], collections: Mapping[str, Any] | None = None,
                      output_collection: str | None = None) -> dict[str, str]:
    """The metadata properties of a model of sets or images (see the module documentation).

    Parameters
    ----------
    inputs : one mapping per graph input, in graph order (``name``, ``kind``, ``shape``, ...)
    collections : collection name -> ``{"columns": [...], "max_objects": int}``, optional
    output_collection : the collection a per-object output is aligned with, optional

    Returns
    -------
    dict of metadata key -> string value, to be written before :func:`seal`
    """
    entries = [dict(e) for e in inputs]
    for e in entries:
        if not isinstance(e.get("name"), str) or e.get("kind") not in INPUT_KINDS or not isinstance(e.get("shape"), list):
            raise ConfigurationError(f"an entry of hepsift.inputs needs a name, a kind in {INPUT_KINDS} and a "
                                     f"shape list; got {e}")
        if e["kind"] == "objects" and not all(isinstance(c, str) for c in e.get("columns", [None])):
            raise ConfigurationError(f"objects input {e['name']!r} needs its column names")
    out = {"hepsift.inputs": json.dumps(entries, sort_keys=True)}
    if collections:
        out["hepsift.collections"] = json.dumps(dict(collections), sort_keys=True)
    if output_collection:
        out["hepsift.output_collection"] = str(output_collection)
    return out


def efficiency_key(eps: float) -> str:
    """The key of a background efficiency in ``hepsift.thresholds``: ``1e-3`` -> ``"1e-3"``,
    ``0.05`` -> ``"5e-2"`` (every hepsift threshold table uses it)."""
    mant, exp = f"{float(eps):.6e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}e{int(exp)}"


def add_metadata(
    model: Any,
    *,
    features: Sequence[str],
    kind: str,
    score_output: str | None = None,
    mass_parameter: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    provenance: Mapping[str, Any] | None = None,
    extra: Mapping[str, str] | None = None,
) -> Any:
    """Write the hepsift metadata into an ``onnx.ModelProto`` (in place) and return it.

    Parameters
    ----------
    model : onnx.ModelProto
        The model; its graph must have one input of width ``len(features)``.
    features : sequence of str
        Input feature names in the order of the input tensor's columns.
    kind : str
        One of :data:`KINDS`.
    score_output : str, optional
        Name of the graph output that is the score; default: the first float output.
    mass_parameter, thresholds, provenance, extra :
        Optional entries, see the module documentation.
    """
    if kind not in KINDS:
        raise ConfigurationError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")
    features = [str(f) for f in features]
    if not features or len(set(features)) != len(features):
        raise ConfigurationError(f"feature names must be non-empty and unique, got {features}")
    outputs = [o.name for o in model.graph.output]
    if score_output is not None and score_output not in outputs:
        raise ConfigurationError(f"score_output {score_output!r} is not an output of the model ({outputs})")
    values: dict[str, str] = {
        "hepsift.features": json.dumps(features),
        "hepsift.kind": kind,
        "hepsift.version": __version__,
        "hepsift.outputs": json.dumps(outputs),
    }
    if score_output is not None:
        values["hepsift.score_output"] = score_output
    if mass_parameter is not None:
        if mass_parameter not in features:
            raise ConfigurationError(f"mass parameter {mass_parameter!r} is not among the features {features}")
        values["hepsift.mass_parameter"] = mass_parameter
    if thresholds is not None:
        values["hepsift.thresholds"] = json.dumps({str(k): float(v) for k, v in thresholds.items()})
    if provenance is not None:
        values["hepsift.provenance"] = json.dumps(dict(provenance), default=str, sort_keys=True)
    for key, value in (extra or {}).items():
        values[str(key)] = str(value)
    existing = {p.key: p for p in model.metadata_props}
    for key, value in values.items():
        if key in existing:
            existing[key].value = value
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    return seal(model)


def digest(model: Any) -> str:
    """``sha256:<hex>`` of an ``onnx.ModelProto``'s graph, opset imports and metadata (all
    properties but the digest itself, sorted by key)."""
    import hashlib

    h = hashlib.sha256()
    h.update(model.graph.SerializeToString(deterministic=True))
    for opset in model.opset_import:
        h.update(opset.SerializeToString(deterministic=True))
    props = sorted((p.key, p.value) for p in model.metadata_props if p.key != DIGEST_KEY)
    h.update(json.dumps(props).encode())
    return "sha256:" + h.hexdigest()


def seal(model: Any) -> Any:
    """Write (or rewrite) ``hepsift.digest`` into ``model``; call after every other change."""
    value = digest(model)
    for p in model.metadata_props:
        if p.key == DIGEST_KEY:
            p.value = value
            return model
    entry = model.metadata_props.add()
    entry.key, entry.value = DIGEST_KEY, value
    return model


def verify_digest(model: Any) -> bool | None:
    """True when the stored digest matches, False when it does not, None when there is none
    (a plain ONNX file, or one written before digests). ``model``: ModelProto or path."""
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        import onnx

        model = onnx.load(model, load_external_data=False)
    stored = next((p.value for p in model.metadata_props if p.key == DIGEST_KEY), None)
    if stored is None:
        return None
    return stored == digest(model)


def read_metadata(model: Any) -> dict[str, Any]:
    """Read the hepsift metadata of an ``onnx.ModelProto`` or of a file path.

    Returns a dict with ``features`` (list or None), ``kind``, ``version``, ``score_output``,
    ``mass_parameter``, ``thresholds`` (dict or None), ``provenance`` (dict or None),
    ``inputs`` (list or None), ``collections`` (dict or None), ``output_collection`` and
    ``raw`` (every metadata property as a string).
    """
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        import onnx

        model = onnx.load(model, load_external_data=False)
    raw = {p.key: p.value for p in model.metadata_props}

    def _json(key: str) -> Any:
        return json.loads(raw[key]) if key in raw else None

    return {
        "features": _json("hepsift.features"),
        "kind": raw.get("hepsift.kind"),
        "version": raw.get("hepsift.version"),
        "score_output": raw.get("hepsift.score_output"),
        "mass_parameter": raw.get("hepsift.mass_parameter"),
        "thresholds": _json("hepsift.thresholds"),
        "provenance": _json("hepsift.provenance"),
        "inputs": _json("hepsift.inputs"),
        "collections": _json("hepsift.collections"),
        "output_collection": raw.get("hepsift.output_collection"),
        "digest": raw.get(DIGEST_KEY),
        "raw": raw,
    }


def object_list_layout(
    names: Sequence[str], lists: Sequence[dict[str, Any]]
) -> list[tuple[str, int, int, list[tuple[str, int]]]]:
    """Offsets of the object lists in a generator's output: ``(name, count index, K, [(field, start)])``.

    Raises :class:`hepsift.MetadataError` unless ``names`` hold ``n{T}`` and ``{T}1_{f} .. {T}K_{f}``
    contiguously for every list.
    """
    col = {nm: i for i, nm in enumerate(names)}
    out = []
    for lst in lists:
        try:
            name, count, k, fields = lst["name"], lst["count"], int(lst["max_objects"]), list(lst["fields"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MetadataError(f"malformed object list {lst!r} ({exc})") from exc
        if count not in col or k < 1:
            raise MetadataError(f"object list {name!r}: no output {count!r} or max_objects {k} < 1")
        starts = []
        for f in fields:
            start = col.get(f"{name}1_{f}")
            expected = [f"{name}{i + 1}_{f}" for i in range(k)]
            if start is None or list(names[start : start + k]) != expected:
                raise MetadataError(f"object list {name!r}: outputs {expected[0]} .. {expected[-1]} are not "
                                    f"contiguous in the model's generated features")  # fmt: skip
            starts.append((str(f), start))
        out.append((name, col[count], k, starts))
    return out
