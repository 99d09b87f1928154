"""The layers of docs/architecture.md, checked on the source: a lower layer never imports a higher
one, the runtime never imports torch, and setup.cfg installs every package folder."""
from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# layer (the folder under bridge/, or the installed subpackage) -> rank: a module may import its
# own layer and any layer of a lower rank, never a higher one nor another layer of its rank
RANK = {
    "notabridge": 0, "errors": 0, "limits": 0,      # shared base: errors.py (and limits.py, the limits table)
    "models": 0, "musescore_plugin": 0,             # package data
    "cancel": 0.5,                     # cancellation checkpoints: raise errors.Cancelled anywhere below a job
    "abc": 1,                          # ABC text rules
    "engine": 2, "notation": 2,        # both build on abc, neither on the other
    "jobs": 3, "onnx_export": 3,       # jobs drive engine + notation; export writes what engine reads
    "daemon": 4, "ui": 4,              # front doors and the panel (a client of the daemon)
    "cli": 5,                          # commands may start any of them
}

# imports that break the rule today; phase 2 of issue 12 removes them (and then these entries)
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()   # none left: bar_check reads ABC through abc.syntax


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    return cfg


def _package_dir() -> dict[str, str]:
    """Installed package name -> repository folder, as setup.cfg maps them."""
    lines = [line.split("=") for line in _setup_cfg()["options"]["package_dir"].strip().splitlines()]
    return {name.strip(): folder.strip() for name, folder in lines}


def _modules() -> dict[str, Path]:
    """Every installed module: import name -> source file."""
    out = {}
    for package, folder in _package_dir().items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Absolute names of what a module imports (anywhere in it, lazy imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:   # `from notabridge import notation` imports a module
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return found


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _edges() -> list[tuple[str, str]]:
    known = _modules()
    return [(name, target) for name, path in known.items() for target in sorted(_imports(name, path, known))
            if target.split(".")[0] == "notabridge"]


def test_every_module_belongs_to_a_layer():
    unplaced = sorted(name for name in _modules() if _layer(name) not in RANK)
    assert not unplaced, f"modules outside the layers of docs/architecture.md (place them, add to RANK): {unplaced}"


def test_a_lower_layer_never_imports_a_higher_one():
    found = set()
    for source, target in _edges():
        a, b = _layer(source), _layer(target)
        if a != b and RANK.get(b, 99) >= RANK.get(a, -1):
            found.add((source, target))
    assert found - KNOWN_EXCEPTIONS == set(), "imports against the layers (docs/architecture.md): " + "; ".join(
        f"{s} ({_layer(s)}) imports {t} ({_layer(t)})" for s, t in sorted(found - KNOWN_EXCEPTIONS))
    assert KNOWN_EXCEPTIONS - found == set(), f"fixed, remove from KNOWN_EXCEPTIONS: {KNOWN_EXCEPTIONS - found}"


def test_the_runtime_never_imports_torch():
    known = _modules()
    runtime = {n: p for n, p in known.items() if _layer(n) != "onnx_export"}
    direct = sorted(n for n, p in runtime.items() if any(t.split(".")[0] == "torch" for t in _imports(n, p, known)))
    assert not direct, f"torch imported by runtime modules: {direct}"
    # and loading every runtime module (the panel's included) pulls in nothing that imports torch
    code = ("import importlib, sys\n"
            f"for name in {sorted(runtime)!r}:\n    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"importing the runtime loaded torch: {done.stdout}"


def test_setup_cfg_installs_every_package_folder():
    listed = set(_setup_cfg()["options"]["packages"].split())
    on_disk = {name for name, path in _modules().items() if path.name == "__init__.py"}
    assert listed == on_disk, (f"setup.cfg [options] packages: missing {sorted(on_disk - listed)}, "
                               f"no such folder {sorted(listed - on_disk)} (a non-editable install would lack them)")
    assert not any(name.split(".")[0] != "notabridge" for name in listed)   # one import name, nothing generic
