"""The public API is pinned: it changes only on purpose."""

import hepsift
import hepsift.export
import hepsift.rdf


def test_top_level_api():
    assert hepsift.__all__ == [
        "__version__", "HepsiftError", "ConfigurationError", "ModelError", "MetadataError", "InputMismatchError",
        "ProviderError", "EvaluationError", "NonFiniteInputError", "FitError", "DataError", "MissingBranchError",
        "NotFittedError", "DependencyError", "OutputError", "WorkerError", "load",
    ]


def test_rdf_api():
    assert sorted(hepsift.rdf.__all__) == ["Model", "column_names", "define", "load_library", "sample"]


def test_export_api():
    assert sorted(hepsift.export.__all__) == ["KINDS", "add_metadata", "onnx_predict", "read_metadata", "to_onnx",
                                             "verify_digest"]


def test_error_hierarchy():
    for name in hepsift.__all__[1:-1]:
        assert issubclass(getattr(hepsift, name), hepsift.HepsiftError)
    assert issubclass(hepsift.NonFiniteInputError, hepsift.EvaluationError)
    assert issubclass(hepsift.FitError, hepsift.EvaluationError)
    assert issubclass(hepsift.ModelError, hepsift.ConfigurationError)
    assert issubclass(hepsift.MetadataError, hepsift.ModelError)
    assert str(hepsift.MissingBranchError("no branch 'x'")) == "no branch 'x'"


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, hepsift; hepsift.load; "
            "print(any(m in sys.modules for m in ('ROOT', 'torch', 'onnxruntime', 'sklearn', 'skops')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_deprecated_aliases_warn_and_give_the_new_objects():
    import importlib
    import sys

    import pytest

    import hepsift.events

    with pytest.warns(DeprecationWarning, match="use hepsift.rdf.sample"):
        assert hepsift.rdf.generate is hepsift.rdf.sample
    sys.modules.pop("hepsift.generate", None)
    with pytest.warns(DeprecationWarning, match="use hepsift.events"):
        old = importlib.import_module("hepsift.generate")
    assert old.generate is hepsift.events.generate and old.__all__ == hepsift.events.__all__
    assert importlib.import_module("hepsift.generate.core") is importlib.import_module("hepsift.events.core")
    for name in [k for k in sys.modules if k == "hepsift.generate" or k.startswith("hepsift.generate.")]:
        del sys.modules[name]
