"""define() on distributed RDataFrame (Dask, Spark): the score as a string expression that
every worker compiles (see hepsift/Expression.hxx)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hepsift import errors
from hepsift.rdf._library import load_library
from hepsift.rdf._define import _check_model_names, _model_inputs, column_names
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


def _expression(model: Model, inputs: Sequence[str], check_finite: bool) -> tuple[str, str]:
    """C++ declaring a score handle (see hepsift/Expression.hxx) and the expression using it."""
    import json

    path = Path(model.path).resolve()
    candidates = ", ".join(json.dumps(str(c)) for c in dict.fromkeys([str(path), path.name]))
    columns = ", ".join(json.dumps(i) for i in inputs)
    key = hashlib.sha1(f"{candidates}|{columns}|{check_finite}".encode()).hexdigest()[:16]
    snippet = f"""
#ifndef HEPSIFT_HANDLE_{key}
#define HEPSIFT_HANDLE_{key}
namespace hepsift {{ namespace expr {{
inline const Handle &handle_{key}()
{{
   static const Handle h({{{candidates}}}, {{{columns}}}, {'true' if check_finite else 'false'});
   return h;
}}
}}}}
#endif
"""
    call = "scores" if model.n_scores > 1 else "score"
    args = ", ".join(f"static_cast<float>({i})" for i in inputs)
    return snippet, f"hepsift::expr::handle_{key}().{call}(rdfslot_, rdfentry_, {args})"


def define_distributed(df: Any, name: str, model: Model, inputs: Sequence[str] | None, check_finite: bool,
                        batch_size: int | None) -> Any:
    """define() for distributed RDataFrame (Dask, Spark): the score is a string expression that
    every worker compiles; an initialisation function loads hepsift there and declares the
    score handles, and the model file is shipped with the tasks."""
    ROOT = load_library()
    if batch_size not in (None, 1):
        raise errors.ConfigurationError("batch_size is not supported on distributed data frames; use the per-event path")
    if inputs is None:
        inputs = _model_inputs(model)
        _check_model_names(model, inputs, set(column_names(df)))
    inputs = [str(i) for i in inputs]
    if len(inputs) != model.n_features:
        raise errors.InputMismatchError(
            f"model '{model.path}' takes {model.n_features} features but {len(inputs)} inputs were given "
            f"({', '.join(inputs)})"
        )
    snippet, expression = _expression(model, inputs, check_finite)
    if snippet not in _DISTRIBUTED_SNIPPETS:
        _DISTRIBUTED_SNIPPETS.append(snippet)
    _worker_init([snippet])
    distributed = ROOT.RDF.Distributed
    distributed.initialize(_worker_init, list(_DISTRIBUTED_SNIPPETS))
    distributed.DistributeFiles([str(Path(model.path).resolve())])
    return df.Define(name, expression)
