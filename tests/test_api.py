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
    assert sorted(hepsift.rdf.__all__) == ["Model", "column_names", "define", "generate", "load_library"]


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


def test_weak_api():
    import hepsift.weak

    assert sorted(hepsift.weak.__all__) == [
        "BumpHuntResult", "CWoLaHunt", "DijetToy", "FITS", "HuntRow", "SculptingResult", "TOY_FEATURES", "bump_hunt",
        "cwola_hunt", "cwola_scores", "dijet_function", "dijet_toy", "discovery_significance", "sculpting_check",
        "sideband_threshold",
    ]


def test_images_api():
    import hepsift.images

    assert sorted(hepsift.images.__all__) == sorted([
        "PARTICLE_TYPES", "CHANNELS", "EVENT_CHANNELS", "JET_IMAGE_COLUMNS", "EVENT_IMAGE_COLUMNS", "channel_masks",
        "jet_images", "event_images", "define_jet_image", "define_event_image", "stack_images",
    ])  # fmt: skip


def test_anomaly_api():
    import hepsift.anomaly

    assert sorted(hepsift.anomaly.__all__) == sorted([
        "AutoEncoder", "AutoEncoderConfig", "DeepSVDD", "DeepSVDDConfig", "IsolationForest", "IsolationForestConfig",
        "HBOS", "HBOSConfig", "Detector", "ConfigBase", "DETECTORS", "EFFICIENCIES", "MISSING", "efficiency_key",
        "sanitised_features", "load", "LimitCell", "LimitTable", "limit_table", "limit_table_from_root",
    ])
