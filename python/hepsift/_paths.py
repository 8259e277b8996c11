"""Where the installed C++ parts of hepsift live (library, headers, CMake package)."""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

from hepsift.errors import ConfigurationError, DependencyError

__all__ = ["package_dir", "library_path", "include_dir", "cmake_dir", "onnxruntime_library", "root_dir", "root_flags"]

#: ROOT libraries an RDataFrame program that includes hepsift/Scorer.hxx links against.
ROOT_LIBRARIES = ("ROOTDataFrame", "ROOTVecOps", "ROOTNTuple", "Tree", "RIO", "Hist", "MathCore", "Imt", "Thread",
                  "Core")


def package_dir() -> Path:
    """Folder of the installed ``hepsift`` package (also the CMake prefix of its C++ part)."""
    return Path(__file__).resolve().parent


def _source_root() -> Path | None:
    root = package_dir().parent.parent
    return root if (root / "cpp" / "include" / "hepsift").is_dir() else None


def library_path() -> Path:
    """Path of ``libhepsift.so``: ``$HEPSIFT_LIBRARY``, the installed package, or a source build."""
    candidates = []
    if os.environ.get("HEPSIFT_LIBRARY"):
        candidates.append(Path(os.environ["HEPSIFT_LIBRARY"]))
    candidates.append(package_dir() / "lib" / "libhepsift.so")
    src = _source_root()
    if src is not None:
        candidates.append(src / "build" / "cpp" / "libhepsift.so")
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigurationError(
        "hepsift's C++ library libhepsift.so was not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "). Install hepsift with `pip install .` from its source folder (or scripts/setup.sh), "
        "or set HEPSIFT_LIBRARY."
    )


def include_dir() -> Path:
    """Folder holding ``hepsift/Model.hxx`` and ``hepsift/Scorer.hxx``."""
    candidates = []
    if os.environ.get("HEPSIFT_INCLUDE_DIR"):
        candidates.append(Path(os.environ["HEPSIFT_INCLUDE_DIR"]))
    candidates.append(package_dir() / "include")
    src = _source_root()
    if src is not None:
        candidates.append(src / "cpp" / "include")
    for c in candidates:
        if (c / "hepsift" / "Model.hxx").is_file():
            return c
    raise ConfigurationError("hepsift's C++ headers were not found in " + ", ".join(map(str, candidates)))


def cmake_dir() -> Path:
    """Folder of ``hepsiftConfig.cmake`` (for ``-Dhepsift_DIR=``)."""
    return library_path().parent / "cmake" / "hepsift"


def onnxruntime_library() -> Path:
    """The ONNX Runtime shared library of the installed ``onnxruntime`` (or ``-gpu``) wheel."""
    if os.environ.get("HEPSIFT_ONNXRUNTIME_LIB"):
        return Path(os.environ["HEPSIFT_ONNXRUNTIME_LIB"])
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        raise DependencyError(
            "the onnxruntime Python package is not installed: `pip install onnxruntime` "
            "(or onnxruntime-gpu on a GPU machine), or set HEPSIFT_ONNXRUNTIME_LIB"
        )
    found = sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "capi", "libonnxruntime.so*")))
    if not found:
        raise DependencyError(f"no libonnxruntime.so in the onnxruntime package at {os.path.dirname(spec.origin)}")
    return Path(found[-1])


def root_dir() -> Path | None:
    """Folder of the ROOT Python module (``ROOT/include``, ``ROOT/lib``), or None."""
    spec = importlib.util.find_spec("ROOT")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def root_flags() -> tuple[list[str], list[str]] | None:
    """Compiler and linker flags of ROOT for an RDataFrame program, or None without ROOT.

    A full ROOT installation answers through ``root-config``. The PyPI wheel of ROOT ships a
    ``root-config`` that points at its build prefix, so there the flags are made from the
    Python module's ``include`` and ``lib`` folders, with an rpath and
    ``--allow-shlib-undefined`` (the wheel's bundled libraries resolve some symbols at run time).
    """
    import shutil
    import subprocess

    root = root_dir()
    if root is not None and (root / "include" / "ROOT" / "RDataFrame.hxx").is_file():
        lib = root / "lib"
        return (
            [f"-I{root / 'include'}"],
            [f"-L{lib}", *(f"-l{name}" for name in ROOT_LIBRARIES), f"-Wl,-rpath,{lib}", "-Wl,--allow-shlib-undefined",
             "-pthread"],
        )
    exe = shutil.which("root-config")
    if exe is None:
        return None
    try:
        cflags = subprocess.run([exe, "--cflags"], capture_output=True, text=True, check=True).stdout.split()
        libs = subprocess.run([exe, "--libs"], capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    libdir = next((f[2:] for f in libs if f.startswith("-L")), None)
    extra = ["-lROOTDataFrame", "-lROOTVecOps"] + ([f"-Wl,-rpath,{libdir}"] if libdir else [])
    return [f for f in cflags if not f.startswith("-std=")], libs + extra
