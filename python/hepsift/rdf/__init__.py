"""Score ONNX models inside ROOT's RDataFrame event loop.

``import hepsift.rdf`` loads hepsift's C++ library into ROOT and declares its headers to
cling; nothing else is needed::

    import ROOT, hepsift.rdf
    df = ROOT.RDataFrame("Events", "events.root")
    df = hepsift.rdf.define(df, "score", "model.onnx")          # inputs from the model
    h = df.Filter("score > 0.9").Histo1D(("m", "", 50, 0, 500), "m_jj")

The score is computed by ``hepsift::Scorer`` (C++, one ONNX Runtime session shared by all
slots, per-slot buffers) in the event loop itself, so it can be cut on, histogrammed and
written with ``Snapshot`` in the same pass over the data.

C++ exceptions thrown by hepsift, also from inside an event loop that the user starts
(``GetValue()``, ``Snapshot``, ``AsNumpy``), are instances of the matching
:mod:`hepsift.errors` classes, so ``except hepsift.NonFiniteInputError`` works.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepsift import _paths, errors
from hepsift._deps import install_hint

__all__ = ["Model", "define", "generate", "load_library", "column_names"]

_LOCK = threading.RLock()
_LOADED = False
_DECLARED: set[str] = set()

_ARITHMETIC = {
    "float", "Float_t", "double", "Double_t", "Float16_t", "Double32_t",
    "int", "Int_t", "unsigned int", "UInt_t", "unsigned", "short", "Short_t", "unsigned short", "UShort_t",
    "long", "Long_t", "unsigned long", "ULong_t", "long long", "Long64_t", "unsigned long long", "ULong64_t",
    "bool", "Bool_t", "char", "Char_t", "signed char", "unsigned char", "UChar_t",
    "std::int8_t", "std::uint8_t", "std::int16_t", "std::uint16_t", "std::int32_t", "std::uint32_t",
    "std::int64_t", "std::uint64_t", "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t",
    "int64_t", "uint64_t",
}  # fmt: skip
_RVEC = re.compile(r"^(?:ROOT::VecOps::RVec|ROOT::RVec)<\s*(.+?)\s*>$")
_ROOT_NODE = re.compile(r"^ROOT::RDF::RInterface<ROOT::Detail::RDF::RLoopManager(?:,\s*void)?>$")
_RVEC_ALIASES = {"ROOT::RVecF": "float", "ROOT::RVecD": "double", "ROOT::RVecI": "int", "ROOT::RVecB": "bool"}

_PYROOT_HELPERS = r"""
#include "hepsift/Batch.hxx"
#include "hepsift/Columns.hxx"
#include "hepsift/Expression.hxx"
#include "hepsift/Stream.hxx"
namespace hepsift { namespace pyroot {
inline std::shared_ptr<const hepsift::Model> load(const std::string &path, int threads, const std::string &provider,
                                                  bool allowFallback, const std::string &output)
{
   hepsift::ModelOptions o;
   o.threads = threads;
   o.provider = provider;
   o.allowFallback = allowFallback;
   o.output = output;
   return std::make_shared<const hepsift::Model>(path, o);
}
inline void evaluate(const hepsift::Model &m, const float *in, std::size_t n, float *out) { m.evaluate(in, n, out); }
inline ROOT::RDF::RNode defineStreamed(ROOT::RDF::RInterface<ROOT::Detail::RDF::RLoopManager> df, const std::string &name,
                                       std::shared_ptr<const hepsift::Model> model,
                                       const std::vector<std::string> &columns, bool checkFinite, std::size_t batchSize)
{
   hepsift::ScorerOptions options;
   options.checkFinite = checkFinite;
   return hepsift::DefineStreamed(df, name, model, columns, batchSize, options);
}
}}
"""

# C++ class -> Python class. Patched so that exceptions cppyy raises for the C++ classes are
# instances of the Python ones (``except hepsift.HepsiftError`` catches them).
_EXCEPTIONS = [
    ("Error", errors.HepsiftError),
    ("ConfigurationError", errors.ConfigurationError),
    ("ModelError", errors.ModelError),
    ("InputMismatchError", errors.InputMismatchError),
    ("ProviderError", errors.ProviderError),
    ("EvaluationError", errors.EvaluationError),
    ("NonFiniteInputError", errors.NonFiniteInputError),
]


def _root() -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha stage")
        try:
            import ROOT
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise errors.DependencyError(install_hint("ROOT", "hepsift.rdf")) from exc
    return ROOT


def load_library() -> Any:
    """Load ``libhepsift`` into ROOT and declare its headers to cling (once per process).

    Returns the ``ROOT`` module. Called by every function of this module; users need not.
    """
    global _LOADED
    with _LOCK:
        ROOT = _root()
        if _LOADED:
            return ROOT
        lib = _paths.library_path()
        include = _paths.include_dir()
        if ROOT.gSystem.Load(str(lib)) < 0:
            raise errors.ConfigurationError(f"ROOT could not load hepsift's library {lib}")
        ROOT.gInterpreter.AddIncludePath(str(include))
        if not ROOT.gInterpreter.Declare(_PYROOT_HELPERS):
            raise errors.ConfigurationError(f"cling could not compile hepsift's headers from {include}")
        ROOT.hepsift.setOnnxRuntimeLibrary(str(_paths.onnxruntime_library()))
        for cpp_name, py_class in _EXCEPTIONS:
            proxy = getattr(ROOT.hepsift, cpp_name)
            if py_class not in proxy.__mro__:
                proxy.__bases__ = (*proxy.__bases__, py_class)
        _LOADED = True
        return ROOT


def _message(exc: BaseException) -> str:
    """The C++ what() of an exception raised through cppyy, without cppyy's call prefix.

    cppyy formats it as ``<C++ signature> =>\n    <Class>: <what()>``.
    """
    text = str(exc)
    if "=>" in text:
        text = text.split("=>", 1)[1].strip()
        head, sep, rest = text.partition(": ")
        if sep and head.isidentifier():
            text = rest
    return text


def _reraise(exc: BaseException) -> None:
    """Re-raise a cppyy exception of a hepsift C++ class as the plain Python class."""
    for _, py_class in reversed(_EXCEPTIONS):
        if isinstance(exc, py_class):
            raise py_class(_message(exc)) from None
    raise exc


class Model:
    """An ONNX model loaded by hepsift's C++ library, ready for RDataFrame.

    Parameters
    ----------
    path : str or os.PathLike
        ONNX file. Files written by :func:`hepsift.export.to_onnx` carry their feature names,
        kind and version; any other ONNX model with one float input ``[batch, n]`` works too.
    provider : {"cpu", "cuda"}
        ONNX Runtime execution provider. ``"cuda"`` raises :class:`hepsift.ProviderError`
        where no GPU or CUDA provider is usable, unless ``allow_fallback`` is true.
    threads : int
        ONNX Runtime intra-op threads per evaluation (0: ONNX Runtime's choice). Inside a
        multi-threaded event loop keep 1: the slots already use the cores.
    output : str, optional
        Name of the output that is the score (default: the model's metadata, else the first
        float output).
    verify : bool, default True
        Check the file's ``hepsift.digest`` (graph and metadata as exported) and raise
        :class:`hepsift.MetadataError` when it does not match, i.e. when the file was edited
        after export. Files without a digest (plain ONNX) are accepted.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        provider: str = "cpu",
        threads: int = 1,
        allow_fallback: bool = False,
        output: str | None = None,
        verify: bool = True,
    ) -> None:
        ROOT = load_library()
        self.path = str(Path(path))
        try:
            self._ptr = ROOT.hepsift.pyroot.load(self.path, int(threads), provider, bool(allow_fallback), output or "")
        except errors.HepsiftError as exc:
            _reraise(exc)
        self._cpp = self._ptr  # cppyy proxies the shared_ptr as the Model itself
        if verify:
            from hepsift.export import verify_digest

            if verify_digest(self.path) is False:
                raise errors.MetadataError(
                    f"model '{self.path}' was modified after export: its graph or metadata no longer match the stored "
                    "'hepsift.digest'. Re-export it, or open it with hepsift.rdf.Model(path, verify=False) if you "
                    "trust the change"
                )

    @property
    def n_features(self) -> int:
        """Number of input features per event."""
        return int(self._cpp.nFeatures())

    @property
    def n_scores(self) -> int:
        """Width of the score output (1 for a single score)."""
        return int(self._cpp.nScores())

    @property
    def feature_names(self) -> list[str]:
        """Feature names stored in the model ([] for a plain ONNX model)."""
        return [str(s) for s in self._cpp.featureNames()]

    @property
    def kind(self) -> str:
        """``classifier``, ``anomaly``, ... from the metadata ("" for plain ONNX)."""
        return str(self._cpp.kind())

    @property
    def version(self) -> str:
        """hepsift version that wrote the model ("" for plain ONNX)."""
        return str(self._cpp.hepsiftVersion())

    @property
    def provider(self) -> str:
        """Execution provider in use."""
        return str(self._cpp.provider())

    @property
    def input_names(self) -> list[str]:
        return [str(s) for s in self._cpp.inputNames()]

    @property
    def output_names(self) -> list[str]:
        return [str(s) for s in self._cpp.outputNames()]

    @property
    def metadata(self) -> dict[str, str]:
        """All metadata properties of the ONNX file."""
        return {str(k): str(v) for k, v in self._cpp.metadataMap()}

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Evaluate a batch with the C++ model.

        Parameters
        ----------
        X : ndarray, shape (n_events, n_features)
            Converted to C-contiguous float32.

        Returns
        -------
        ndarray, float32, shape (n_events,) or (n_events, n_scores)
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim == 1 and self.n_features == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise errors.InputMismatchError(
                f"model '{self.path}' takes {self.n_features} features per event; got an array of shape {X.shape}"
            )
        out = np.empty((X.shape[0], self.n_scores), dtype=np.float32)
        ROOT = load_library()
        try:
            ROOT.hepsift.pyroot.evaluate(self._cpp, X, X.shape[0], out)
        except errors.HepsiftError as exc:
            _reraise(exc)
        return out[:, 0] if self.n_scores == 1 else out

    def __repr__(self) -> str:
        return (
            f"hepsift.rdf.Model({self.path!r}, kind={self.kind or 'plain ONNX'!r}, "
            f"features={self.n_features}, scores={self.n_scores}, provider={self.provider!r})"
        )


def column_names(df: Any) -> list[str]:
    """All column names of a data frame node (dataset columns and Defines)."""
    return [str(c) for c in df.GetColumnNames()]


def _element_type(type_name: str) -> tuple[str, bool] | None:
    """Return (C++ type to use, is_vector) for a supported column type, else None."""
    t = type_name.strip()
    if t in _ARITHMETIC:
        return t, False
    if t in _RVEC_ALIASES:
        return f"ROOT::VecOps::RVec<{_RVEC_ALIASES[t]}>", True
    m = _RVEC.match(t)
    if m and m.group(1).strip() in _ARITHMETIC:
        return f"ROOT::VecOps::RVec<{m.group(1).strip()}>", True
    return None


def _declare_definer(types: Sequence[str], multi: bool, batched: bool) -> str:
    """Declare (once) a C++ function defining a score column for these column types."""
    scorer = "MultiScorer" if multi else "Scorer"
    signature = f"{'Batched' if batched else scorer}<{', '.join(types)}>"
    fname = "define_" + hashlib.sha1(f"{signature}|labels".encode()).hexdigest()[:16]
    if fname not in _DECLARED:
        if batched:
            body = f"return hepsift::DefineBatched<{', '.join(types)}>(df, name, model, columns, batchSize, options);"
        else:
            body = (f"return df.DefineSlotEntry(name, hepsift::{signature}(model, df.GetNSlots(), columns, options), "
                    "columns);")
        code = f"""
namespace hepsift {{ namespace pyroot {{
ROOT::RDF::RNode {fname}(ROOT::RDF::RNode df, const std::string &name, std::shared_ptr<const hepsift::Model> model,
                         const std::vector<std::string> &columns, bool checkFinite, std::size_t batchSize,
                         const std::vector<std::string> &labels)
{{
   hepsift::ScorerOptions options;
   options.checkFinite = checkFinite;
   options.labels = labels;
   {body}
}}
}}}}
"""
        ROOT = load_library()
        if not ROOT.gInterpreter.Declare(code):
            raise errors.ConfigurationError(f"cling could not compile hepsift::{signature}")
        _DECLARED.add(fname)
    return fname


def define(
    df: Any,
    name: str,
    model: str | os.PathLike[str] | Model,
    inputs: Sequence[str] | None = None,
    *,
    provider: str = "cpu",
    threads: int | None = None,
    output: str | None = None,
    check_finite: bool = True,
    allow_fallback: bool = False,
    batch_size: int | None = None,
    strategy: str = "auto",
) -> Any:
    """Define column ``name`` holding the model's score, evaluated in the event loop.

    Parameters
    ----------
    df : ROOT.RDataFrame or any RDataFrame node
    name : str
        Name of the new column: ``float`` for a one-score model, ``ROOT::RVec<float>`` for a
        model with several scores (e.g. class probabilities).
    model : path or :class:`Model`
        The ONNX model. Load it once with :class:`Model` to share it between several defines.
    inputs : sequence of str, optional
        One entry per model feature, in the model's input order: a column name (float, double,
        integer or bool columns; converted to float32) or an RDataFrame expression such as
        ``"Jet_pt[0]"`` or ``"MET_pt/1000."``. Alternatively a single ``RVec`` column holding
        all features. Default: the feature names stored in the model.
    provider, threads, allow_fallback, output :
        Passed to :class:`Model` when ``model`` is a path. ``threads`` defaults to 1.
    check_finite : bool
        Raise :class:`hepsift.NonFiniteInputError` (naming column and entry) on a NaN or
        infinite input; ``False`` passes such values to the model.
    batch_size : int, optional
        ``None`` or 1: the model is called once per event inside the event loop. ``N > 1``:
        batched scoring, ``N`` events per model call (several times faster for small models,
        and what a GPU needs), by one of two strategies (see ``strategy``).
    strategy : {"auto", "stream", "two-pass"}
        How batches are formed when ``batch_size > 1``. ``"stream"``: nothing runs now; in
        the analysis' own loop, when an entry's score is first needed, its slot reads the
        inputs of the next ``N`` entries of its tree range straight from the file (ROOT bulk
        I/O) and scores them in one call; memory does not grow with the number of events.
        It needs ``df`` to be the RDataFrame itself over a TTree/TChain (no Filter or Range
        before the score) and the inputs to be scalar branches of the tree.
        ``"two-pass"``: works on any node and any columns (Defines, expressions, vectors,
        RNTuple): a first event loop over ``df`` runs *now*, feeding the model ``N`` events
        per call and storing the scores (4 bytes per event and score); the returned column
        reads them in the analysis' loop. Actions already booked on the data frame run in
        that first loop too. ``"auto"`` streams where it can, else makes two passes.
        Batched scores are computed from the nominal inputs: for systematic variations
        (``Vary``) of the model inputs use the per-event path.

    Returns
    -------
    ROOT.RDF.RNode
        The node with the new column.

    Raises
    ------
    hepsift.InputMismatchError
        Number of inputs differs from the model's features, unsupported column type, or no
        inputs given for a model without feature names.
    hepsift.MissingBranchError
        An input is neither a column nor a valid expression (lists the nearest columns).
    hepsift.ModelError, hepsift.ProviderError
        The model cannot be loaded, or CUDA was required and is not usable.
    """
    ROOT = load_library()
    if not isinstance(model, Model):
        model = Model(model, provider=provider, threads=1 if threads is None else threads,
                      allow_fallback=allow_fallback, output=output)
    if _is_distributed(df):
        return _define_distributed(df, name, model, inputs, check_finite, batch_size)
    from_model = inputs is None
    if inputs is None:
        inputs = _model_inputs(model)
    elif isinstance(inputs, str):
        inputs = [inputs]
    inputs = [str(i) for i in inputs]
    if not inputs:
        raise errors.InputMismatchError(f"no inputs given for model '{model.path}'")
    if not isinstance(name, str) or not name:
        raise errors.ConfigurationError("the new column needs a non-empty name")

    node = ROOT.RDF.AsRNode(df)
    existing = set(column_names(node))
    if name in existing:
        raise errors.ConfigurationError(f"column '{name}' already exists; choose another name for the score")
    if from_model:
        _check_model_names(model, inputs, existing)
    columns: list[str] = []
    for k, entry in enumerate(inputs):
        if entry in existing:
            columns.append(entry)
            continue
        tmp = f"__hepsift_{name}_in{k}"
        with _cling_diagnostics() as diagnostics:
            try:
                node = ROOT.RDF.AsRNode(node.Define(tmp, entry))
                failure: BaseException | None = None
            except Exception as exc:  # cling compile error of the expression
                failure = exc
        if failure is not None:
            raise errors.MissingBranchError(_expression_error(entry, model.path, existing, diagnostics.text)) from failure
        columns.append(tmp)

    types: list[str] = []
    vector = []
    for entry, col in zip(inputs, columns):
        ctype = str(node.GetColumnType(col))
        resolved = _element_type(ctype)
        if resolved is None:
            raise errors.InputMismatchError(
                f"input '{entry}' has type {ctype}; hepsift scores float, double, integer and bool columns "
                f"(or one RVec column holding all features)"
            )
        types.append(resolved[0])
        vector.append(resolved[1])
    if any(vector):
        if len(columns) != 1:
            raise errors.InputMismatchError(
                f"input '{inputs[vector.index(True)]}' is a vector column; a vector column must be the only input "
                f"(holding all {model.n_features} features)"
            )
    elif len(columns) != model.n_features:
        raise errors.InputMismatchError(
            f"model '{model.path}' takes {model.n_features} features "
            f"({', '.join(model.feature_names) or 'unnamed'}) but {len(columns)} inputs were given ({', '.join(inputs)})"
        )
    if batch_size is not None and int(batch_size) < 1:
        raise errors.ConfigurationError(f"batch_size must be None or a positive integer, got {batch_size}")
    if strategy not in ("auto", "stream", "two-pass"):
        raise errors.ConfigurationError(f"strategy must be 'auto', 'stream' or 'two-pass', got {strategy!r}")
    batched = batch_size is not None and int(batch_size) > 1
    try:
        if batched and strategy != "two-pass":
            why = _not_streamable(df, node, inputs, columns)
            if why is None:
                return ROOT.hepsift.pyroot.defineStreamed(df, name, model._ptr, columns, bool(check_finite),
                                                          int(batch_size))
            if strategy == "stream":
                raise errors.ConfigurationError(f"strategy='stream' cannot score '{name}': {why}; "
                                                "use strategy='two-pass' (or 'auto')")
        fname = _declare_definer(types, multi=model.n_scores > 1, batched=batched)
        return getattr(ROOT.hepsift.pyroot, fname)(node, name, model._ptr, columns, bool(check_finite),
                                                   int(batch_size or 1), list(inputs))
    except errors.HepsiftError as exc:
        _reraise(exc)


def _not_streamable(df: Any, node: Any, inputs: Sequence[str], columns: Sequence[str]) -> str | None:
    """Why the streamed batched path cannot score these inputs on ``df`` (None if it can):
    the graph and the expressions are checked here, the data source and the branches by
    ``hepsift::whyNotStreamable``."""
    ROOT = load_library()
    cpp = getattr(type(df), "__cpp_name__", "")
    if cpp != "ROOT::RDataFrame" and not _ROOT_NODE.match(cpp):
        return "the node is not the RDataFrame itself (a Filter or Range may come before the score)"
    defined = {str(c) for c in node.GetDefinedColumnNames()}
    for entry, col in zip(inputs, columns):
        if col != entry or col in defined:
            return f"input '{entry}' is an expression or a Define, not a branch"
    return str(ROOT.hepsift.whyNotStreamable(df, list(columns))) or None


def _is_distributed(df: Any) -> bool:
    return type(df).__module__.startswith("ROOT._distrdf")


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


def _define_distributed(df: Any, name: str, model: Model, inputs: Sequence[str] | None, check_finite: bool,
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


def _model_inputs(model: Model) -> list[str]:
    """The feature names stored in the model, as the default inputs of :func:`define`."""
    names = model.feature_names
    if not names:
        raise errors.InputMismatchError(
            f"model '{model.path}' stores no feature names (a plain ONNX model); "
            f"pass inputs=[...] with its {model.n_features} input columns or expressions in order"
        )
    return names


def _check_model_names(model: Model, names: Sequence[str], existing: set[str]) -> None:
    """Names read from a model file are data: each must be an existing column of the frame.

    They are never handed to cling as expressions, so a model file cannot run code; an
    expression must come from the caller's ``inputs=``.
    """
    bad = [(k, n) for k, n in enumerate(names) if n not in existing]
    if not bad:
        return
    listed = "; ".join(
        f"feature {k} {n!r}" + (f" (nearest columns: {', '.join(near)})" if (near := _near(n, existing)) else "")
        for k, n in bad
    )
    raise errors.MetadataError(
        f"model '{model.path}': its metadata field 'hepsift.features' names {len(bad)} input(s) that are not "
        f"columns of the data frame: {listed}. Names stored in a model file are bound only to existing columns and "
        "are never compiled; to compute an input from an expression, pass it yourself: "
        "define(df, name, model, inputs=[...]) (hepsift apply --inputs ...)"
    )


def _near(name: str, existing: set[str] | Sequence[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, sorted(existing), n=n, cutoff=0.6)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_CPP_WORDS = {
    "static_cast", "float", "double", "int", "unsigned", "long", "bool", "true", "false", "std", "ROOT", "VecOps",
    "RVec", "abs", "fabs", "sqrt", "exp", "log", "pow", "sin", "cos", "tan", "atan2", "min", "max", "size",
    "Sum", "Max", "Min", "Mean", "rdfentry_", "rdfslot_", "TMath", "Pi", "hepsift", "const", "auto", "return",
}  # fmt: skip


def _expression_error(entry: str, path: str, existing: set[str], diagnostics: str) -> str:
    """Message for an input that is neither a column nor a compilable expression: the unknown
    names in it with their nearest columns, and cling's own first error line."""
    unknown = []
    for word in dict.fromkeys(_IDENTIFIER.findall(entry)):
        head = word.split(".")[0]
        if word in existing or head in existing or head in _CPP_WORDS:
            continue
        near = _near(word, existing)
        unknown.append(f"'{word}'" + (f" (did you mean {', '.join(near)}?)" if near else ""))
    text = f"input '{entry}' of model '{path}' is neither a column nor a valid RDataFrame expression"
    if unknown:
        text += f": unknown name(s) {', '.join(unknown)}"
    errors_found = [ln.strip() for ln in diagnostics.splitlines() if "error:" in ln]
    if errors_found:
        text += f"; the compiler said: {errors_found[0].split('error:', 1)[1].strip()}"
    return text


class _cling_diagnostics:
    """Capture cling's diagnostics (written to file descriptor 2) while an expression is
    tried; a failure is reported by :func:`define` itself, with the compiler's message."""

    text = ""

    def __enter__(self) -> _cling_diagnostics:
        import sys
        import tempfile

        sys.stderr.flush()
        self._saved = os.dup(2)
        self._file = tempfile.TemporaryFile()
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode("utf-8", "replace")
        self._file.close()


from hepsift.rdf._generate import generate  # noqa: E402  (needs the names above)
