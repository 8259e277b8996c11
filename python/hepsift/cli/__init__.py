"""The ``hepsift`` command: one group, its subcommands registered in :data:`COMMANDS`.

Examples::

    hepsift demo                                   # the whole chain on the embedded data
    hepsift info model.onnx                        # inputs, outputs, metadata of a model
    hepsift apply model.onnx events.root -o scored.root --threads 2
    hepsift config --cflags --ldflags              # flags for C++ programs and ROOT macros

Every command is one module of this package (``hepsift/cli/<command>.py``) with two functions:

* ``add_arguments(parser: argparse.ArgumentParser) -> None`` adds its options (with an
  example in the description or epilog; ``--seed`` where anything is random);
* ``run(args: argparse.Namespace) -> int`` runs it and returns the exit status.

To add a command, say ``cwola``: write ``hepsift/cli/cwola.py`` with those two functions,
importing its heavy dependencies (torch, ROOT, the library sub-packages it drives) inside
``run`` (or ``add_arguments`` when its choices need them), and add one line to
:data:`COMMANDS`: ``"cwola": ("hepsift.cli.cwola", "one-line help")``. Only the chosen
command's module is imported, so ``hepsift --help`` and the other commands stay fast and work
without that command's optional dependencies. Shared argument checks (``int_at_least``,
``UsageError``, ``check_root_input``, ...) live in :mod:`hepsift.cli._args`; read ROOT input
through :func:`hepsift.io.read_tree` (or :meth:`hepsift.data.Dataset.from_root`). Test it as a
user runs it: ``[sys.executable, "-m", "hepsift.cli", "cwola", ...]``.

The CLI sits above the library: nothing in ``hepsift`` outside this package and
:mod:`hepsift.demo` imports it (``tests/test_layering.py``).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from hepsift import errors
from hepsift._version import __version__
from hepsift.cli import _args

__all__ = ["main", "COMMANDS"]

#: name -> (module, one-line help). Each module has ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "anomaly": ("hepsift.cli.anomaly", "train an anomaly detector on background and export it to ONNX"),
    "apply": ("hepsift.cli.apply", "score ROOT files with a model inside RDataFrame and write the result"),
    "config": ("hepsift.cli.config", "print flags and paths for C++ programs, ROOT macros and CMake"),
    "cwola": ("hepsift.cli.cwola", "weakly supervised bump hunt (CWoLa hunting) on ROOT files"),
    "demo": ("hepsift.cli.demo", "run the whole chain on the embedded default data"),
    "generate": ("hepsift.cli.generate", "generate events with Pythia 8 and the detector model"),
    "info": ("hepsift.cli.info", "show a model's inputs, outputs and metadata"),
    "limits": ("hepsift.cli.limits", "CLs upper limits from score histograms"),
    "nplm": ("hepsift.cli.nplm", "model-independent NPLM test"),
    "train": ("hepsift.cli.train", "train a classifier on ROOT or DarkMachines CSV files and export it to ONNX"),
    "tune": ("hepsift.cli.tune", "hyper-parameter search (genetic algorithm, Bayesian optimisation)"),
}


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The command group; only the chosen command's module is imported."""
    parser = _args.Parser(
        prog="hepsift",
        description="Machine learning for new-physics searches inside ROOT analyses.",
        epilog="example: hepsift apply model.onnx events.root -o scored.root --threads 2",
    )
    parser.add_argument("--version", action="version", version=f"hepsift {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name in sorted(COMMANDS):
        module, text = COMMANDS[name]
        p = sub.add_parser(name, help=text, description=text)
        if name == chosen:
            try:
                mod = importlib.import_module(module)
            except ImportError as exc:
                raise errors.DependencyError(f"`hepsift {name}` needs {exc.name or module}: {exc}") from exc
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
    return parser


#: Exit status of an error class: 2 for a wrong command line (argument, output refused), 1 for
#: a failure while running (file contents, model, events).
def _status(exc: BaseException) -> int:
    return 2 if isinstance(exc, (_args.UsageError, errors.OutputError)) else 1


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    if "=>" in text:  # an exception raised through cppyy: "<C++ signature> =>\n    <Class>: <what()>"
        text = text.split("=>", 1)[1].strip()
        head, sep, rest = text.partition(": ")
        if sep and head.isidentifier():
            text = rest
    text = " ".join(text.split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hepsift`` command; returns the exit status.

    Exit status: 0 success; 1 a failure while running; 2 a wrong command line (bad argument,
    output refused); 130 Ctrl-C (SIGINT); 143 SIGTERM. Every failure is one line on stderr;
    ``--debug`` shows the traceback instead.
    """
    from hepsift.cli import _signals

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    _signals.install()
    prog = "hepsift"
    try:
        try:
            parser = _parser(argv)
        except errors.HepsiftError as exc:
            print(f"hepsift: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return 2
        prog = f"hepsift {args.command}"
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted by SIGINT; previous files unchanged", file=sys.stderr)
        return _signals.EXIT_CODES[signal.SIGINT]
    except _signals.Terminated:
        print(f"{prog}: interrupted by SIGTERM; previous files unchanged", file=sys.stderr)
        return _signals.EXIT_CODES[signal.SIGTERM]
    except errors.HepsiftError as exc:
        if debug:
            raise
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return _status(exc)
    except Exception as exc:
        if debug:
            raise
        print(f"{prog}: error: unexpected {type(exc).__name__}: {_one_line(exc)} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return 1
