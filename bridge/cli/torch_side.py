"""Reaching torch-side code (onnx_export, training) from a command, with one message when it is missing."""
from __future__ import annotations

import importlib

from notabridge.cli.main import UserError


def require_torch(task: str, instead: str | None = None, *, module: str = "notabridge.onnx_export.checkpoint",
                  extra: str = "export", needs: str = "torch") -> None:
    """Fail with the extra to install when `module` (which imports torch) cannot be imported.

    `task` says what needed it ("reading a .pth checkpoint"); `instead` the torch-free way, if any;
    `extra` the install extra that brings it; `needs` what to name as missing ("torch and onnx").
    """
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if exc.name == module.split(".")[0] == "training":   # torch-side code kept in the checkout, not installed
            raise UserError(f"{task} runs from a NotaBridge checkout (its training/ folder is not part of the "
                            f"installed package): cd into the repository and run the same command there") from None
        raise UserError(f"{task} needs {needs} ({exc.name} is missing): pip install 'notabridge[{extra}]'"
                        + (f", or {instead}" if instead else "")) from None
