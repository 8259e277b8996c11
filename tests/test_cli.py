"""The command registry: every command is a module with ``add_arguments`` and ``run``, and a
command imports its heavy dependencies only when it is the one chosen."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from hepsift import cli


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_registered_command_is_a_module_with_add_arguments_and_run(name):
    module, text = cli.COMMANDS[name]
    assert module == f"hepsift.cli.{name}" and text
    mod = importlib.import_module(module)
    assert callable(mod.add_arguments) and callable(mod.run)
    parser = cli._parser([name])
    sub = next(a for a in parser._actions if a.dest == "command").choices[name]
    assert sub.get_default("_run") is mod.run
    assert "--help" in sub.format_help() and sub.format_help().count("\n") > 3


def test_only_the_chosen_command_is_imported():
    code = (
        "import sys, json\n"
        "from hepsift.cli import main\n"
        "status = main(['config', '--version'])\n"
        "print(json.dumps([status, sorted(m for m in sys.modules if m.startswith('hepsift.')),\n"
        "                  sorted(m for m in ('ROOT', 'torch', 'onnxruntime', 'sklearn', 'uproot', 'pyhf')\n"
        "                         if m in sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    status, modules, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert status == 0 and heavy == []
    commands = [m for m in modules if m.startswith("hepsift.cli.") and not m.startswith("hepsift.cli._")]
    assert commands == ["hepsift.cli.config"]
    # and the library packages the other commands drive stay unimported
    assert not {"hepsift.models", "hepsift.anomaly", "hepsift.nplm", "hepsift.events", "hepsift.demo"} & set(modules)


def test_python_m_hepsift_cli_is_the_hepsift_command():
    out = subprocess.run([sys.executable, "-m", "hepsift.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for name in cli.COMMANDS:
        assert name in out.stdout
    bad = subprocess.run([sys.executable, "-m", "hepsift.cli", "aply"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid choice: 'aply'" in bad.stderr
