"""Reaching onnx_export (which needs torch) from a command, with one message when it is missing."""
from __future__ import annotations

from notabridge.cli.main import UserError


def require_torch(task: str, instead: str) -> None:
    """Fail with the extra to install when torch (the 'export' extra) is absent.

    `task` says what needed it ("reading a .pth checkpoint"); `instead` the torch-free way.
    """
    try:
        import notabridge.onnx_export.checkpoint  # noqa: F401  (imports torch)
    except ImportError as exc:
        raise UserError(f"{task} needs torch ({exc.name} is missing): "
                        f"pip install 'notabridge[export]', or {instead}") from None
