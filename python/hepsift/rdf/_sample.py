"""Sample events inside RDataFrame from an exported generative model.

The noise of every event is a pure function of the seed and the entry number (a
counter-based generator: SplitMix64 hashing of ``(seed, entry, k)`` and the Box-Muller
transform), so the events are the same for a given seed whatever the number of threads
and the order in which entries are processed.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from hepsift import errors

__all__ = ["sample"]

GENERATED_FEATURES_KEY = "hepsift.generated_features"
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _object_lists(model: Any, names: list[str]) -> list[tuple[str, int, int, list[tuple[str, int]]]]:
    """The object lists of the model's ``hepsift.object_lists`` metadata (none: ``[]``), their
    names checked as plain identifiers (they become column names, never code)."""
    from hepsift.export._metadata import OBJECT_LISTS_KEY, object_list_layout

    text = model.metadata.get(OBJECT_LISTS_KEY)
    if not text:
        return []
    try:
        lists = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.MetadataError(f"model '{model.path}': metadata field '{OBJECT_LISTS_KEY}' is not JSON") from exc
    if not isinstance(lists, list) or not all(isinstance(x, dict) for x in lists):
        raise errors.MetadataError(f"model '{model.path}': metadata field '{OBJECT_LISTS_KEY}' must be a list of "
                                   "objects")  # fmt: skip
    words = [w for x in lists for w in (x.get("name"), x.get("count"), *(x.get("fields") or []))]
    bad = [w for w in words if not isinstance(w, str) or not _COLUMN_NAME.fullmatch(w) or w.startswith("__hepsift")]
    if bad:
        raise errors.MetadataError(
            f"model '{model.path}': metadata field '{OBJECT_LISTS_KEY}' holds {bad!r}, which are not plain "
            "column names (letters, digits and underscores); names stored in a model file are data and never compiled"
        )
    return object_list_layout(names, lists)


def sample(model: Any, n: int, seed: int, *, threads: int | None = None) -> Any:
    """An RDataFrame of ``n`` events sampled from an exported generative model.

    Parameters
    ----------
    model : path of an ONNX file exported with ``kind="generator"`` (e.g. by
        :meth:`hepsift.generative.BetaVAE.to_onnx`), or a :class:`hepsift.rdf.Model` of one
    n : number of events (entries of ``ROOT.RDataFrame(n)``)
    seed : int in [0, 2**64); the noise of entry ``i`` depends only on ``(seed, i)``
    threads : ONNX Runtime threads of the model's session (default 1); the event loop
        itself runs on as many threads as ``ROOT.EnableImplicitMT`` allows

    Returns
    -------
    ROOT.RDF.RNode
        Columns: ``event`` (ULong64_t, the entry number) and one ``float`` column per
        generated feature (names from the model's ``hepsift.generated_features`` metadata,
        else ``x0``, ``x1``, ...), plus internal ``__hepsift_*`` columns. A generator of object
        lists (:class:`hepsift.generative.ObjectListGenerator`, metadata
        ``hepsift.object_lists``) gives per object type ``n{T}`` (int) and ``{T}_{field}``
        (``ROOT::RVecF`` of length ``n{T}``: ``Jet_pt``, ``Jet_eta`` ...) in place of its
        per-slot outputs, and the event-level outputs (``MET_pt``, ``MET_phi``) as ``float``.
        The noise of entry ``i`` is row ``i`` of :func:`hepsift.generative.counter_noise`.

    Raises
    ------
    hepsift.ConfigurationError
        ``n`` or ``seed`` out of range, or the model is not a generator.
    """
    from hepsift.rdf import Model, define, load_library

    if int(n) < 0:
        raise errors.ConfigurationError(f"n must be >= 0, got {n}")
    if not 0 <= int(seed) < 2**64:
        raise errors.ConfigurationError(f"seed must be in [0, 2**64), got {seed}")
    ROOT = load_library()  # declares hepsift/Noise.hxx with the rest of hepsift
    if not isinstance(model, Model):
        if not os.path.isfile(str(model)):
            raise errors.ModelError(f"no model file {model}")
        model = Model(str(model), threads=1 if threads is None else int(threads))
    if model.kind != "generator":
        raise errors.ConfigurationError(
            f"model '{model.path}' is of kind {model.kind or 'unknown'!r}; sample() needs a generator "
            f"(exported with kind='generator')"
        )
    names_json = model.metadata.get(GENERATED_FEATURES_KEY)
    names = json.loads(names_json) if names_json else [f"x{i}" for i in range(model.n_scores)]
    bad = [n for n in names if not isinstance(n, str) or not _COLUMN_NAME.fullmatch(n) or n.startswith("__hepsift")]
    if bad:
        raise errors.MetadataError(
            f"model '{model.path}': metadata field '{GENERATED_FEATURES_KEY}' holds {bad!r}, which are not plain "
            "column names (letters, digits and underscores); names stored in a model file are data and never compiled"
        )
    if len(names) != model.n_scores:
        raise errors.ModelError(
            f"model '{model.path}' names {len(names)} generated features but has {model.n_scores} outputs"
        )
    lists = _object_lists(model, names)
    df = ROOT.RDataFrame(int(n))
    node = ROOT.RDF.AsRNode(df)
    node = node.Define("event", "static_cast<ULong64_t>(rdfentry_)")
    node = node.Define(
        "__hepsift_noise", f"hepsift::noise({int(seed)}ULL, rdfentry_, {int(model.n_features)}u)"
    )
    node = define(node, "__hepsift_generated", model, ["__hepsift_noise"], check_finite=False)
    in_lists: set[int] = set()
    for name, ci, k, starts in lists:
        # the count (already an integer in [0, k] in the graph) and the first n{T} slots of each field;
        # the compiled expressions hold integers and internal names only, never names from the file
        count = f"std::clamp(static_cast<int>(__hepsift_generated[{ci}]), 0, {k})"
        node = node.Define(names[ci], count)
        for f, start in starts:
            node = node.Define(f"{name}_{f}", f"ROOT::RVecF(__hepsift_generated.begin() + {start}, "
                                              f"__hepsift_generated.begin() + {start} + {count})")  # fmt: skip
            in_lists.update(range(start, start + k))
        in_lists.add(ci)
    for i, name in enumerate(names):
        if i in in_lists:
            continue
        expr = "__hepsift_generated" if model.n_scores == 1 else f"__hepsift_generated[{i}]"
        node = node.Define(str(name), expr)
    node._hepsift_keepalive = (df, model)  # the data frame and the model outlive the node
    return node
