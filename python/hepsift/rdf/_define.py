"""hepsift.rdf.define: the score of a model as a column of an RDataFrame node."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from typing import Any

from hepsift import errors
from hepsift.rdf._library import _reraise, load_library
from hepsift.rdf._model import Model

__all__ = ["define", "column_names", "strategy_for"]

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
_FLOAT_RVEC = ("ROOT::VecOps::RVec<float>", "ROOT::VecOps::RVec<Float_t>")
_RVEC_ALIASES = {"ROOT::RVecF": "float", "ROOT::RVecD": "double", "ROOT::RVecI": "int", "ROOT::RVecB": "bool"}

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
    max_objects: int | None = None,
    index: str | None = None,
    jets: str | None = None,
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
        all features. Default: the feature names stored in the model (for a set model the
        ``columns`` of its ``hepsift.inputs`` entry of kind ``objects``), bound only to existing
        columns. A set model (``Model.input_kind == "set"``) takes its F features per object
        from F RVec columns of one collection (e.g. ``["PFCand_pt", "PFCand_eta",
        "PFCand_phi"]``), equal in length in every event (else :class:`hepsift.EvaluationError`
        naming the columns and the entry). Where the columns are jagged branches of the tree
        (``Jet_pt[nJet]``, as NanoAOD and uproot write them) and ``df`` is the RDataFrame
        itself, the score is streamed (see ``strategy``); elsewhere each event is one model call
        with its own number of objects. An event without objects gets one zero object with mask 0 from a model with a
        ``mask`` input and raises :class:`hepsift.EvaluationError` without one. The column is
        ``float`` for one score per event, ``ROOT::RVec<float>`` for a per-object score
        (aligned with the collection; objects beyond ``max_objects`` hold NaN). An image model
        (``Model.input_kind == "image"``) takes one ``ROOT::RVec<float>`` column of C*H*W values
        per event (e.g. from :func:`hepsift.images.define_jet_image`); an event whose image has
        another size raises :class:`hepsift.EvaluationError` naming the column, the entry and
        both sizes. A grouped set model (``Model.input_kind == "grouped-set"``, such as
        :class:`hepsift.models.JetTagger`: objects ``[N, J, P, F]``, mask ``[N, J, P]``, a score
        per jet) takes its F constituent columns the same way, plus ``index`` and ``jets``; the
        column is a ``ROOT::RVec<float>`` of one score per jet, aligned with the jet collection.
    provider, threads, allow_fallback, output :
        Passed to :class:`Model` when ``model`` is a path. ``threads`` defaults to 1.
    check_finite : bool
        Raise :class:`hepsift.NonFiniteInputError` (naming column and entry) on a NaN or
        infinite input; ``False`` passes such values to the model.
    batch_size : int, optional
        Events per model call of the batched paths (default 4096, ``hepsift::kDefaultBatchSize``:
        in ``bench/rdf_scoring.py`` it is as fast as any larger batch, and on the CPU the model
        runs in calls of at most ``Model(cpu_chunk=4096)`` events whatever the batch size). 1
        with ``strategy="auto"``: per event. For a streamed set model: the events of one block
        read from the tree, evaluated in groups of equal numbers of objects.
    strategy : {"auto", "per-event", "stream", "two-pass"}
        How the score is computed. ``"auto"`` (default) is the rule of ``hepsift::chooseStrategy``,
        the same for C++'s ``hepsift::DefineScore``: **streamed in batches wherever that applies,
        per event elsewhere** (or in two passes when ``batch_size > 1`` is given); it never runs
        an event loop at define time unless a ``batch_size`` is given.

        ``"stream"``: nothing runs now; in the analysis' own loop, when an entry's score is
        first needed, its slot reads the inputs of the next ``batch_size`` entries of its tree
        range straight from the file (ROOT bulk I/O) and scores them in one call; memory does
        not grow with the number of events. It needs ``df`` to be the RDataFrame itself over a
        TTree/TChain read from files (no Filter or Range before the score, no entry list) and
        the inputs to be scalar branches of the tree without systematic variations.
        ``"two-pass"``: works on any node and any columns (Defines, expressions, vectors,
        RNTuple): a first event loop over ``df`` runs *now*, feeding the model ``batch_size``
        events per call and storing the scores (4 bytes per event and score); the returned
        column reads them in the analysis' loop. Actions already booked on the data frame run
        in that first loop too. ``"per-event"``: one model call per event, on any node.

        Systematic variations (``df.Vary``) of an input, directly or through the Defines it is
        computed from: batched scores would be computed from the nominal inputs, so ``"auto"``
        scores per event (the score then has the variations, e.g. for
        ``ROOT.RDF.Experimental.VariationsFor``) and ``"stream"``/``"two-pass"`` are refused.
        :func:`strategy_for` tells which path a score takes.

        Set models follow the same rule. ``"stream"`` needs the F inputs to be jagged branches
        of the tree (variable-length arrays with a count branch, ``Jet_pt[nJet]``; not
        ``std::vector`` branches): each slot reads the next ``batch_size`` events of its tree
        range and evaluates them grouped by equal numbers of objects (one model call per group,
        at most ``Model(cpu_chunk=4096)`` objects per call), so no padding enters the model and
        models without a mask or with a per-object score are batched too. ``"two-pass"``
        evaluates a masked set model with a score per event ``batch_size`` events per call,
        padded to the longest event of each batch with mask 0; set models without a mask or
        with a per-object score refuse it (and ``"auto"`` scores them per event where they
        cannot be streamed).
    max_objects : int, optional
        Set models only: keep the first ``max_objects`` objects of each event (collection
        order); default all. Grouped set models: the first ``max_objects`` constituents of
        each jet.
    index : str, optional
        Grouped set models only: the column with each constituent's jet (an ``RVec`` of
        integers, -1 for none; default: ``grouped_by`` of the model's ``hepsift.inputs``, e.g.
        ``PFCand_fatJetIdx``). An index below -1 or at least the event's number of jets raises
        :class:`hepsift.EvaluationError` naming the column and the entry.
    jets : str, optional
        Grouped set models only: the column that gives the number of jets, an ``RVec`` column
        of the jet collection (its size) or an integer count. Default, for the collection
        ``per`` of the model's ``hepsift.inputs`` (e.g. ``FatJet``): ``nFatJet`` when the frame
        has it, else ``FatJet_pt``, else the first ``FatJet_*`` column of the frame (the rule
        of :class:`hepsift.models.JetTagger`). Each event is one model call with its J jets
        padded to the largest number of constituents of one of them; a jet without
        constituents gets the model's score of an empty jet (0 for a ``JetTagger``, as in
        ``predict_jets``), an event without jets an empty ``RVec`` (no model call).
        ``strategy`` ``"stream"`` and ``"two-pass"`` are refused.

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
    if type(df).__module__.startswith("ROOT._distrdf"):
        from hepsift.rdf._distributed import define_distributed

        return define_distributed(df, name, model, inputs, check_finite, batch_size, str(strategy))
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
    sets = ("set", "grouped-set")
    if max_objects is not None and (model.input_kind not in sets or isinstance(max_objects, bool)
                                    or int(max_objects) < 1):
        raise errors.ConfigurationError(
            f"max_objects applies to set models and must be a positive integer; got {max_objects!r} for a "
            f"{model.input_kind} model")
    if batch_size is not None and int(batch_size) < 1:
        raise errors.ConfigurationError(f"batch_size must be None or a positive integer, got {batch_size}")
    if (index is not None or jets is not None) and model.input_kind != "grouped-set":
        raise errors.ConfigurationError(
            f"index= and jets= apply to grouped set models (the objects of every jet, such as a JetTagger's); "
            f"model '{model.path}' takes {model.input_kind} inputs")
    if model.input_kind in sets:
        scalar = [f"'{i}' ({node.GetColumnType(c)})" for i, c, v in zip(inputs, columns, vector) if not v]
        if scalar or len(columns) != model.n_features:
            raise errors.InputMismatchError(
                f"{model.input_kind.replace('-', ' ')} model '{model.path}' takes {model.n_features} features per "
                f"object: give {model.n_features} RVec columns of one collection (got {len(columns)}: "
                f"{', '.join(inputs)}" + (f"; not vectors: {', '.join(scalar)}" if scalar else "") + ")")
    if model.input_kind == "grouped-set":
        index_col, jets_col = _grouping(model, node, index, jets)
        try:
            define_grouped = ROOT.hepsift.pyroot.defineGroupedSetScore[", ".join(
                [_column_type(node, index_col, "index"), _column_type(node, jets_col, "jets"), *types])]
            return define_grouped(node, name, model._ptr, columns, index_col, jets_col, bool(check_finite),
                                  str(strategy), int(max_objects or 0), list(inputs))
        except errors.HepsiftError as exc:
            _reraise(exc)
    if model.input_kind == "set":
        try:
            define_set = ROOT.hepsift.pyroot.defineSetScore[", ".join(types)]
            return define_set(node, name, model._ptr, columns, bool(check_finite), str(strategy),
                              int(batch_size or 0), int(max_objects or 0), list(inputs))
        except errors.HepsiftError as exc:
            _reraise(exc)
    if model.input_kind == "image" and (len(columns) != 1 or types[0] not in _FLOAT_RVEC):
        got = ", ".join(f"'{i}' ({node.GetColumnType(c)})" for i, c in zip(inputs, columns))
        raise errors.InputMismatchError(
            f"model '{model.path}' takes images of {' x '.join(map(str, model.input_shape))} = {model.n_features} "
            f"values per event: give one ROOT::RVec<float> column holding them row-major (e.g. from "
            f"hepsift.images.define_jet_image), not {got}"
        )
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
    try:
        define_score = ROOT.hepsift.pyroot.defineScore[", ".join(types)]
        return define_score(node, name, model._ptr, columns, bool(check_finite), str(strategy), int(batch_size or 0),
                            list(inputs))
    except errors.HepsiftError as exc:
        _reraise(exc)


def strategy_for(df: Any, inputs: Sequence[str], strategy: str = "auto", batch_size: int | None = None,
                 model: str | os.PathLike[str] | Model | None = None) -> str:
    """The path :func:`define` takes for a score of ``inputs`` (column names) on ``df``:
    ``"stream"``, ``"two-pass"`` or ``"per-event"``, by ``hepsift::chooseStrategy`` (the one rule,
    shared with C++'s ``hepsift::DefineScore`` and ``hepsift::DefineSetScore``); a refused
    explicit ``strategy`` raises :class:`hepsift.ConfigurationError` saying why.

    The rule is the same for every model: streamed wherever that applies (``df`` the
    RDataFrame itself over a TTree, ``inputs`` branches of the tree without variations), per
    event elsewhere, or in two passes when ``batch_size > 1`` is given. What "branches" means
    depends on the model, so pass ``model`` for a set model (``Model.input_kind == "set"``): its
    inputs stream when they are jagged branches (``Jet_pt[nJet]``), a flat model's when they are
    scalar branches (the default, ``model=None``). A set model without a ``mask`` input or with a
    per-object score cannot be padded, so it refuses ``"two-pass"`` and is scored per event
    where it does not stream."""
    return _choose(df, inputs, strategy, batch_size, model)[0]


def _choose(df: Any, inputs: Sequence[str], strategy: str, batch_size: int | None,
            model: str | os.PathLike[str] | Model | None = None) -> tuple[str, int, str]:
    """(path, batch size, why it does not stream) from ``hepsift::chooseStrategy`` (or
    ``chooseSetStrategy`` for a set model)."""
    ROOT = load_library()
    columns = [str(i) for i in inputs]
    if type(df).__module__.startswith("ROOT._distrdf"):
        df = df.proxied_node.rdf_node  # the client's local copy of a distributed graph
    if model is not None and not isinstance(model, Model):
        model = Model(model)
    try:
        node = ROOT.RDF.AsRNode(df)
        if model is not None and model.input_kind == "set":
            found = ROOT.hepsift.pyroot.chooseSet(node, model._ptr, columns, str(strategy), int(batch_size or 0),
                                                   columns)
        else:
            found = ROOT.hepsift.pyroot.choose(node, columns, str(strategy), int(batch_size or 0), columns)
        path, batch, why = (str(x) for x in found)
    except errors.HepsiftError as exc:
        _reraise(exc)
    return path, int(batch), why


def _objects_entry(model: Model) -> dict[str, Any]:
    """The entry of kind ``objects`` of a set model's ``hepsift.inputs`` ({} when there is none)."""
    try:
        entries = json.loads(model.metadata.get("hepsift.inputs", "[]"))
    except ValueError as exc:
        raise errors.MetadataError(f"model '{model.path}': its metadata field 'hepsift.inputs' is not JSON ({exc}); "
                                   "pass inputs=[...] with the collection's columns") from exc
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("kind") == "objects":
            return entry
    return {}


def _model_inputs(model: Model) -> list[str]:
    """The feature names stored in the model, as the default inputs of :func:`define`."""
    names = model.feature_names
    if model.input_kind in ("set", "grouped-set"):
        columns = _objects_entry(model).get("columns")
        if columns:
            names = [str(c) for c in columns]
    if model.input_kind == "image":
        raise errors.InputMismatchError(
            f"model '{model.path}' takes images of {' x '.join(map(str, model.input_shape))} values per event and "
            "its file names no column for them: pass inputs=[image column] (one ROOT::RVec<float> column, e.g. "
            "from hepsift.images.define_jet_image)"
        )
    if not names:
        raise errors.InputMismatchError(
            f"model '{model.path}' stores no feature names (a plain ONNX model); "
            f"pass inputs=[...] with its {model.n_features} input columns or expressions in order"
        )
    return names


def _grouping(model: Model, node: Any, index: str | None, jets: str | None) -> tuple[str, str]:
    """The index and jet-count columns of a grouped set model: the caller's, else from the
    model's ``hepsift.inputs`` (``grouped_by``; ``n<per>``, ``<per>_pt`` or the first ``<per>_*``
    column of the frame). Names read from the file are bound only to existing columns."""
    existing = column_names(node)
    entry = _objects_entry(model)
    for what, given in (("index", index), ("jets", jets)):
        if given is not None and (not isinstance(given, str) or given not in existing):
            raise errors.MissingBranchError(str(given), existing, "the data frame", what="column",
                                            note=f"{what}= names a column (Define an expression first)")
    if index is None:
        index = entry.get("grouped_by")
        if not isinstance(index, str) or not index:
            raise errors.MetadataError(f"model '{model.path}' names no index column ('grouped_by' of its "
                                       "'hepsift.inputs'); pass index= (e.g. index='PFCand_fatJetIdx')")
        if index not in existing:
            raise errors.MissingBranchError(index, existing, "the data frame", what="column",
                                            note=f"model '{model.path}' groups its objects by this column; pass "
                                                 "index= with the column of each object's jet")
    if jets is None:
        per = entry.get("per") or model.metadata.get("hepsift.output_collection", "")
        if not isinstance(per, str) or not per:
            raise errors.MetadataError(f"model '{model.path}' names no jet collection ('per' of its "
                                       "'hepsift.inputs'); pass jets= (e.g. jets='nFatJet')")
        found = [c for c in (f"n{per}", f"{per}_pt") if c in existing] + [c for c in existing
                                                                          if c.startswith(f"{per}_")]
        if not found:
            raise errors.MissingBranchError(f"n{per}", existing, "the data frame", what="column",
                                            note=f"model '{model.path}' scores the collection '{per}': pass jets= "
                                                 f"with its count or one of its RVec columns")
        jets = found[0]
    return index, jets


def _column_type(node: Any, column: str, what: str) -> str:
    """C++ type of the index (an RVec of integers) or jets (an RVec, or an integer count) column."""
    ctype = str(node.GetColumnType(column))
    resolved = _element_type(ctype)
    not_integer = ("float", "Float_t", "double", "Double_t", "Float16_t", "Double32_t", "bool", "Bool_t")
    if resolved is not None:
        cpp_type, is_vector = resolved
        element = cpp_type[cpp_type.index("<") + 1:-1].strip() if is_vector else cpp_type
        integer = element not in not_integer
        if (what == "index" and is_vector and integer) or (what == "jets" and (is_vector or integer)):
            return cpp_type
    need = "an RVec of integers (each object's jet)" if what == "index" else \
        "an RVec column of the jet collection or an integer count"
    raise errors.InputMismatchError(f"the {what} column '{column}' has type {ctype}; it must be {need}")


def _check_model_names(model: Model, names: Sequence[str], existing: set[str]) -> None:
    """Names read from a model file are data: each must be an existing column of the frame.

    They are never handed to cling as expressions, so a model file cannot run code; an
    expression must come from the caller's ``inputs=``.
    """
    bad = [(k, n) for k, n in enumerate(names) if n not in existing]
    if not bad:
        return
    listed = "; ".join(
        f"feature {k} {n!r}" + (f" (nearest columns: {', '.join(near)})" if (near := errors.near_names(n, sorted(existing))) else "")
        for k, n in bad
    )
    raise errors.MetadataError(
        f"model '{model.path}': its metadata field 'hepsift.features' names {len(bad)} input(s) that are not "
        f"columns of the data frame: {listed}. Names stored in a model file are bound only to existing columns and "
        "are never compiled; to compute an input from an expression, pass it yourself: "
        "define(df, name, model, inputs=[...]) (hepsift apply --inputs ...)"
    )


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_CPP_WORDS = {
    "static_cast", "float", "double", "int", "unsigned", "long", "bool", "true", "false", "std", "ROOT", "VecOps",
    "RVec", "abs", "fabs", "sqrt", "exp", "log", "pow", "sin", "cos", "tan", "atan2", "min", "max", "size",
    "Sum", "Max", "Min", "Mean", "rdfentry_", "rdfslot_", "TMath", "Pi", "hepsift", "const", "auto", "return",
}  # fmt: skip


def _expression_error(entry: str, path: str, existing: set[str], diagnostics: str) -> str:
    """Message for an input that is neither a column nor a compilable expression."""
    text = f"input '{entry}' of model '{path}' is neither a column nor a valid RDataFrame expression"
    return text + expression_problem(entry, existing, diagnostics)


def expression_problem(entry: str, existing: set[str] | Sequence[str], diagnostics: str) -> str:
    """Why an RDataFrame expression did not compile: the unknown names in it with their
    nearest columns, and cling's first error line (``""`` when neither is known)."""
    existing = set(existing)
    unknown = []
    for word in dict.fromkeys(_IDENTIFIER.findall(entry)):
        head = word.split(".")[0]
        if word in existing or head in existing or head in _CPP_WORDS:
            continue
        near = errors.near_names(word, sorted(existing))
        unknown.append(f"'{word}'" + (f" (did you mean {', '.join(near)}?)" if near else ""))
    text = ""
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
