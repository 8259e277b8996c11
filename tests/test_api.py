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
    assert sorted(hepsift.rdf.__all__) == ["Model", "column_names", "define", "generate", "load_library",
                                           "strategy_for"]


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
