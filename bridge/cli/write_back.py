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


def run_and_write(job, args, score: dict, splice: Callable[[list[dict]], bytes], **splice_options) -> int:
    """Run `job` and write its variants to args.output: into copies of the user's own MusicXML
    file through `splice` when both are MusicXML, else as new files of the output's format
    (spliced into `score` by write_variants with `splice_options`), saying first what that
    format cannot hold of a MusicXML score."""
    from notabridge.cli.generate import run_job, write_variants
    from notabridge.notation.files import FORMAT_LIMITS, file_format

    source_kind, output_kind = file_format(args.score), file_format(args.output)
    if source_kind in ("musicxml", "mxl") and output_kind in ("musicxml", "mxl"):
        write_into_file(run_job(job, args), args.output, splice)
        return 0
    if source_kind in ("musicxml", "mxl") and output_kind in FORMAT_LIMITS:
        print(f"warning: {FORMAT_LIMITS[output_kind]} (write a .musicxml file to keep them)")
    write_variants(run_job(job, args), args.output, job.prompt, score=score, **splice_options)
    return 0
