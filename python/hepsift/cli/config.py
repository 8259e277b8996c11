"""``hepsift config``: flags and paths for C++ programs, ROOT macros and CMake.

Example::

    g++ prog.cxx $(hepsift config --cflags --ldflags) -o prog
"""

from __future__ import annotations

import argparse
import sys

from hepsift import _paths
from hepsift._version import __version__

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``hepsift config``."""
    for flag, text in [
        ("--cflags", "compiler flags (C++17, hepsift's and ROOT's include folders)"),
        ("--ldflags", "linker flags for libhepsift and ROOT's RDataFrame libraries (with rpaths)"),
        ("--libdir", "folder of libhepsift.so"),
        ("--includedir", "folder holding hepsift/*.hxx"),
        ("--cmake-prefix", "prefix for CMAKE_PREFIX_PATH (find_package(hepsift))"),
        ("--cmake-dir", "folder of hepsiftConfig.cmake (-Dhepsift_DIR=)"),
        ("--onnxruntime-lib", "the ONNX Runtime library hepsift loads"),
        ("--env", "shell lines that let ROOT macros and programs find hepsift"),
        ("--version", "hepsift version"),
    ]:
        p.add_argument(flag, action="store_true", help=text)


def run(args: argparse.Namespace) -> int:
    """Print the flags asked for; returns the exit status."""
    lib = _paths.library_path()
    inc = _paths.include_dir()
    out: list[str] = []
    if args.version:
        out.append(__version__)
    root = _paths.root_flags()
    if args.cflags:
        out.append(" ".join([f"-std=c++17 -I{inc}", *(root[0] if root else [])]))
    if args.ldflags:
        out.append(" ".join([f"-L{lib.parent} -lhepsift -Wl,-rpath,{lib.parent}", *(root[1] if root else [])]))
    if args.libdir:
        out.append(str(lib.parent))
    if args.includedir:
        out.append(str(inc))
    if args.cmake_prefix:
        out.append(str(lib.parent.parent))
    if args.cmake_dir:
        out.append(str(_paths.cmake_dir()))
    if args.onnxruntime_lib:
        out.append(str(_paths.onnxruntime_library()))
    if args.env:
        out += [
            f"export HEPSIFT_ONNXRUNTIME_LIB={_paths.onnxruntime_library()}",
            f"export LD_LIBRARY_PATH={lib.parent}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}",
            f"export ROOT_INCLUDE_PATH={inc}${{ROOT_INCLUDE_PATH:+:$ROOT_INCLUDE_PATH}}",
            f"export CMAKE_PREFIX_PATH={lib.parent.parent}${{CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}}",
        ]
    if not out:
        print("nothing asked: pass e.g. --cflags --ldflags (see hepsift config --help)", file=sys.stderr)
        return 2
    print(" ".join(out) if not args.env else "\n".join(out))
    return 0
