"""Results of a job on a MusicXML file written into copies of the user's own file."""
from __future__ import annotations

from typing import Callable

from notabridge.cli.main import UserError


def write_into_file(result, output: str, splice: Callable[[list[dict]], bytes]) -> None:
    """Each variant's measures put into a copy of the user's file by `splice` (musicxml_splice's
    splice_continue or splice_infill, bound to the file and its excerpt); nothing else changes."""
    from notabridge.cli.generate import variant_paths
    from notabridge.cli.output_path import write_error
    from notabridge.notation import NotationError
    from notabridge.notation.files import file_format, mxl_bytes

    for path, variant in zip(variant_paths(output, len(result.variants)), result.variants):
        try:
            data = splice(variant["excerpt"]["measures"])
        except NotationError as exc:
            raise UserError(f"cannot write {path}: {exc}") from None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(mxl_bytes(data) if file_format(path) == "mxl" else data)
        except OSError as exc:
            raise write_error(path, exc) from None
        print(f"wrote {path}")
