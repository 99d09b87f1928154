"""The one way the commands that run the model (serve, generate, continue, accompany,
suggest-prompt) load it: a missing or broken bundle is a UserError saying what to pass."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from notabridge.cli.main import UserError

if TYPE_CHECKING:
    from notabridge.engine import Engine


def load_engine(model: str | None, device: str, speculative: bool | None = None) -> "Engine":
    """The Engine on bundle folder `model` (None: the embedded default model); `speculative`: draft
    characters with the bundle's n-gram table (serve --speculative / --no-speculative; None: the
    Engine's default)."""
    from notabridge.engine import Engine

    if model is None:
        from notabridge.engine.bundle import DEFAULT_BUNDLE as default

        if not (default / "config.json").is_file():
            raise UserError(f"no model named and the embedded default model is missing ({default}); "
                            "pass --model BUNDLE (a folder written by `notabridge export`)")
    elif not Path(model).is_dir():
        raise UserError(f"--model {model}: no such bundle folder")
    try:
        options = {} if speculative is None else {"speculative": speculative}
        return Engine(model, device=device, **options)
    except (OSError, ValueError) as exc:   # BundleError is a ValueError: the bundle is incomplete or corrupt
        raise UserError(f"cannot load the model: {exc}") from None
