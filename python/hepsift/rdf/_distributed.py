"""define() on distributed RDataFrame (Dask, Spark): the score as string expressions that every
worker compiles (see hepsift/Expression.hxx), streamed in batches where hepsift::chooseStrategy
allows it, per event elsewhere."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hepsift import errors
from hepsift.rdf._library import load_library
from hepsift.rdf._define import _check_model_names, _choose, _model_inputs, column_names
from hepsift.rdf._model import Model

__all__ = ["define_distributed"]

_DISTRIBUTED_SNIPPETS: list[str] = []


def _worker_init(snippets: Sequence[str] = ()) -> None:
    """Run on every distributed worker before its tasks: hepsift's library, headers, and the
    score handles of the defines (C++ snippets, each guarded so it is declared once)."""
    ROOT = load_library()
    for code in snippets:
        if not ROOT.gInterpreter.Declare(code):
            raise errors.ConfigurationError("cling could not compile a hepsift score handle")


def _handle(kind: str, model: Model, args: str, inputs: Sequence[str]) -> tuple[str, str]:
    """C++ declaring a score handle of class ``hepsift::expr::<kind>`` (see hepsift/Expression.hxx),
    built from the model's path and ``args``, and the name of the function returning it."""
    path = Path(model.path).resolve()
    candidates = ", ".join(json.dumps(str(c)) for c in dict.fromkeys([str(path), path.name]))
    columns = ", ".join(json.dumps(i) for i in inputs)
    key = hashlib.sha1(f"{kind}|{candidates}|{columns}|{args}".encode()).hexdigest()[:16]
    snippet = f"""
#ifndef HEPSIFT_HANDLE_{key}
#define HEPSIFT_HANDLE_{key}
namespace hepsift {{ namespace expr {{
inline const {kind} &handle_{key}()
{{
   static const {kind} h({{{candidates}}}, {{{columns}}}, {args});
   return h;
}}
}}}}
#endif
"""
    return snippet, f"hepsift::expr::handle_{key}()"


def _expression(model: Model, inputs: Sequence[str], check_finite: bool) -> tuple[str, str]:
    """C++ declaring a per-event score handle and the expression using it."""
    snippet, handle = _handle("Handle", model, "true" if check_finite else "false", inputs)
    call = "scores" if model.n_scores > 1 else "score"
    args = ", ".join(f"static_cast<float>({i})" for i in inputs)
    return snippet, f"{handle}.{call}(rdfslot_, rdfentry_, {args})"


def define_distributed(df: Any, name: str, model: Model, inputs: Sequence[str] | None, check_finite: bool,
                        batch_size: int | None, strategy: str = "auto") -> Any:
    """define() for distributed RDataFrame (Dask, Spark): the score is made of string
    expressions that every worker compiles; an initialisation function loads hepsift there and
    declares the score handles, and the model file is shipped with the tasks.

    The path is chosen by ``hepsift::chooseStrategy`` on the client's local copy of the graph:
    streamed batches where they apply (each worker reads and scores its own entry ranges in
    blocks), per event elsewhere. Two passes would run an event loop on the client and are
    refused; ``"auto"`` scores per event instead.
    """
    ROOT = load_library()
    if model.input_kind != "flat":
        raise errors.ConfigurationError(
            f"model '{model.path}' takes {model.input_kind} inputs; distributed RDataFrame scores models of fixed-width "
            "feature vectors only: score it on a local RDataFrame (ROOT.RDataFrame) instead")
    if inputs is None:
        inputs = _model_inputs(model)
        _check_model_names(model, inputs, set(column_names(df)))
    inputs = [str(i) for i in inputs]
    if len(inputs) != model.n_features:
        raise errors.InputMismatchError(
            f"model '{model.path}' takes {model.n_features} features but {len(inputs)} inputs were given "
            f"({', '.join(inputs)})"
        )
    if batch_size is not None and int(batch_size) < 1:
        raise errors.ConfigurationError(f"batch_size must be None or a positive integer, got {batch_size}")
    if strategy == "two-pass":
        raise errors.ConfigurationError("strategy 'two-pass' is not supported on distributed data frames (it would run "
                                        "an event loop on the client); use 'auto', 'stream' or 'per-event'")
    path, batch, _ = _choose(df.proxied_node.rdf_node, inputs, strategy, batch_size)
    if path == "stream":
        # The files of the data set in order (as the client's graph has them): each worker places
        # its entry ranges, given in the chain's numbering, in its own trees.
        flat = [str(x) for x in ROOT.hepsift.pyroot.chainFiles(ROOT.RDF.AsRNode(df.proxied_node.rdf_node))]
        chain = ", ".join(f"{{{json.dumps(f)}, {json.dumps(t)}}}" for f, t in zip(flat[::2], flat[1::2]))
        snippet, handle = _handle("Stream", model, f"{'true' if check_finite else 'false'}, {batch}, {{{chain}}}",
                                  inputs)
        _declare(ROOT, snippet, model)
        call = "scores" if model.n_scores > 1 else "score"
        node = df.DefinePerSample(f"__hepsift_task_{name}", f"{handle}.start(rdfslot_, rdfsampleinfo_)")
        node = node.Filter(f"{handle}.advance(rdfslot_)", "hepsift")
        return node.Define(name, f"{handle}.{call}(rdfslot_, rdfentry_)")
    snippet, expression = _expression(model, inputs, check_finite)
    _declare(ROOT, snippet, model)
    return df.Define(name, expression)


def _declare(ROOT: Any, snippet: str, model: Model) -> None:
    """Declares a score handle here and on every worker (before its tasks), and ships the
    model file with the tasks."""
    if snippet not in _DISTRIBUTED_SNIPPETS:
        _DISTRIBUTED_SNIPPETS.append(snippet)
    _worker_init([snippet])
    distributed = ROOT.RDF.Distributed
    distributed.initialize(_worker_init, list(_DISTRIBUTED_SNIPPETS))
    distributed.DistributeFiles([str(Path(model.path).resolve())])
