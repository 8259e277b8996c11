"""The public API is pinned: it changes only on purpose."""

import hepsift
import hepsift.export
import hepsift.rdf


def test_top_level_api():
    assert sorted(hepsift.__all__) == sorted([
        "__version__", "HepsiftError", "ConfigurationError", "ModelError", "MetadataError", "InputMismatchError",
        "ProviderError", "EvaluationError", "NonFiniteInputError", "FitError", "DataError", "MissingBranchError",
        "UnknownNameError", "NotFittedError", "DependencyError", "OutputError", "WorkerError", "load",
    ])


def test_rdf_api():
    assert sorted(hepsift.rdf.__all__) == ["Model", "column_names", "define", "load_library", "sample",
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
    assert issubclass(hepsift.MissingBranchError, (hepsift.DataError, KeyError))
    assert issubclass(hepsift.UnknownNameError, (hepsift.ConfigurationError, KeyError))


def test_lookup_errors_rank_near_names_with_one_wording():
    import pickle

    from hepsift.errors import near_names

    names = ["Jet_pt", "Jet_eta", "MET_pt", *(f"b{i}" for i in range(12))]
    err = hepsift.MissingBranchError("Jet_ptt", names, "tree 'Events' of 'f.root'")
    assert str(err) == ("no branch 'Jet_ptt' in tree 'Events' of 'f.root'; did you mean 'Jet_pt', 'MET_pt' or "
                        "'Jet_eta'? (15 branches: Jet_pt, Jet_eta, MET_pt, b0, b1, b2, b3, b4, b5, b6, b7, b8, ...)")
    assert err.key == "Jet_ptt" and err.near == {"Jet_ptt": ["Jet_pt", "MET_pt", "Jet_eta"]}
    assert str(pickle.loads(pickle.dumps(err))) == str(err)  # crosses worker processes intact
    two = hepsift.MissingBranchError(["Jet_ptt", "zzz"], ["Jet_pt"], "'f.root'", what="column", note="pass --inputs")
    assert str(two) == ("no columns 'Jet_ptt', 'zzz' in 'f.root'; did you mean 'Jet_pt' for 'Jet_ptt'? "
                        "(1 column: Jet_pt); pass --inputs")
    assert str(hepsift.UnknownNameError("qcdd", ["ttbar", "qcd"], what="process")) == (
        "no process 'qcdd'; did you mean 'qcd'? (2 processes: ttbar, qcd)")
    assert str(hepsift.MissingBranchError("x", [], "'f.root'", what="tree")) == "no tree 'x' in 'f.root' (0 trees)"
    assert near_names("events", ["Events", "Evts", "weight"]) == ["Events", "Evts"]  # case counts for nothing
    assert near_names("zzz", ["Jet_pt"]) == []


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
        "BumpHuntResult", "CWoLaHunt", "DijetEvents", "DijetToy", "FITS", "HuntRow", "SculptingResult", "TOY_FEATURES",
        "bump_hunt", "cwola_hunt", "cwola_scores", "dijet_events", "dijet_function", "dijet_toy",
        "discovery_significance", "inject_signal", "sculpting_check", "sideband_threshold",
    ]


def test_images_api():
    import hepsift.images

    assert sorted(hepsift.images.__all__) == sorted([
        "PARTICLE_TYPES", "CHANNELS", "EVENT_CHANNELS", "JET_IMAGE_COLUMNS", "EVENT_IMAGE_COLUMNS", "channel_masks",
        "jet_images", "event_images", "define_jet_image", "define_event_image", "stack_images",
    ])  # fmt: skip


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


def test_learner_and_data_apis():
    import hepsift.anomaly
    import hepsift.data
    import hepsift.models
    from hepsift._estimator import Estimator

    assert sorted(hepsift.models.__all__) == [
        "BDTClassifier", "BDTConfig", "CNNClassifier", "CNNConfig", "Config", "DeepSetsClassifier", "DeepSetsConfig",
        "Estimator", "JetTagger", "JetTaggerConfig", "LCNNClassifier", "LCNNConfig", "LeaveOneMassOut",
        "MLPClassifier", "MLPConfig", "PRESETS", "ParameterizedClassifier", "ParameterizedConfig",
        "RandomForestClassifier", "RandomForestConfig", "group_by_jet",
        "leave_one_mass_out", "load", "make", "pad_sets", "validation_split"]
    assert sorted(hepsift.anomaly.__all__) == [
        "AutoEncoder", "AutoEncoderConfig", "DETECTORS", "DeepSVDD", "DeepSVDDConfig", "Detector", "EFFICIENCIES",
        "HBOS", "HBOSConfig", "IsolationForest", "IsolationForestConfig", "LimitCell", "LimitTable", "MISSING", "efficiency_key",
        "limit_table", "limit_table_from_root", "load", "sanitised_features"]
    assert sorted(hepsift.data.__all__) == ["Dataset", "FEATURE_SETS", "MISSING", "MISSING_POLICIES", "assign_background_masses"]
    # one base: the models' Estimator is the one every learner derives from
    assert hepsift.models.Estimator is Estimator and issubclass(hepsift.anomaly.Detector, Estimator)
def test_generative_api():
    import hepsift.generative

    assert sorted(hepsift.generative.__all__) == sorted([
        "AlphaVAE", "AlphaVAEConfig", "BetaVAE", "BetaVAEConfig", "NormalizingFlow", "NormalizingFlowConfig",
        "Generator", "GENERATED_FEATURES_KEY", "NOISE_PREFIX", "fidelity", "generation_speed", "two_sample_auc",
        "load", "ObjectListGenerator", "ObjectListGeneratorConfig", "OBJECT_LISTS_KEY", "OBJECT_TYPES", "counter_noise",
    ])
