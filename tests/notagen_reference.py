"""The reference NotaGen text of a score: NotaGen's data scripts transcribed step by step.

Independent of notabridge.notation: xml2abc runs as the script NotaGen's 1_batch_xml2abc.py runs
(`python xml2abc.py -d 8 -c 6 -x FILE`, here abctoolkit's copy in a subprocess), then the steps
of NotaGen's 2_data_preprocess.py with abctoolkit's functions, for the version of the piece in
its own key (transposition offset 0). Used by the equality tests and bench/notagen_text.py.

NotaGen's copy of xml2abc ignores wedge/octave-shift/pedal directions of type continue, resume,
discontinue and change, where abctoolkit's raises; those elements are taken out of the file
before the script runs, which is what ignoring them amounts to; and where it finds no number in
a metronome without <per-minute>, abctoolkit's fails, so such a metronome gets an empty one.
"""
from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

IGNORED_TYPES = {"continue", "resume", "discontinue", "change"}


def _score_file(path: Path, folder: Path) -> Path:
    """A .musicxml/.xml file xml2abc reads like NotaGen's copy would (ignored directions removed)."""
    data = path.read_bytes()
    if data[:2] == b"PK":  # .mxl: the rootfile named by META-INF/container.xml
        from notabridge.notation.sources import read_mxl

        data = read_mxl(data)
    root = ET.fromstring(data)
    changed = False
    for dirtyp in root.iter("direction-type"):
        for child in list(dirtyp):
            if child.tag in ("wedge", "octave-shift", "pedal") and child.get("type") in IGNORED_TYPES:
                dirtyp.remove(child)
                changed = True
    for metronome in root.iter("metronome"):
        if metronome.find("per-minute") is None:
            ET.SubElement(metronome, "per-minute")
            changed = True
    out = folder / "score.xml"
    out.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) if changed else data)
    return out


def xml2abc_script(path: Path) -> str:
    """`python xml2abc.py -d 8 -c 6 -x FILE`, stdout decoded as NotaGen decodes it."""
    import abctoolkit.xml2abc as script

    with tempfile.TemporaryDirectory() as folder:
        score = _score_file(Path(path), Path(folder))
        result = subprocess.run([sys.executable, script.__file__, "-d", "8", "-c", "6", "-x", str(score)],
                                capture_output=True, timeout=300)
    return result.stdout.decode("utf-8")


def reference_lines(abc_text: str) -> tuple[list[str], list[str]]:
    """NotaGen's 2_data_preprocess.py on one xml2abc output, key = the piece's own key.

    Returns (header lines, one line per bar; "" for a bar where every voice rests).
    Raises what the script raises (the script then leaves the piece out).
    """
    from abctoolkit.check import check_alignment_unrotated
    from abctoolkit.convert import unidecode_abc_lines
    from abctoolkit.transpose import Key2Mode, transpose_an_abc_text
    from abctoolkit.utils import (Barlines, Quote_re, extract_barline_and_bartext_dict,
                                  extract_global_and_local_metadata, extract_metadata_and_parts,
                                  remove_bar_no_annotations, remove_information_field)

    with tempfile.TemporaryDirectory() as folder:  # written and read back as the scripts do
        file = Path(folder) / "piece.abc"
        file.write_text(abc_text, encoding="utf-8")
        with open(file, encoding="utf-8") as f:
            abc_lines = f.readlines()
    abc_lines = [line for line in abc_lines if line.strip() != ""]
    abc_lines = unidecode_abc_lines(abc_lines)
    abc_lines = remove_information_field(abc_lines=abc_lines, info_fields=["X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI"])
    abc_lines = remove_bar_no_annotations(abc_lines)
    for i, line in enumerate(abc_lines):
        if re.search(r"^[A-Za-z]:", line) or line.startswith("%"):
            continue
        if r"\"" in line:
            abc_lines[i] = abc_lines[i].replace(r"\"", "")
    for i, line in enumerate(abc_lines):
        for quote_content in re.findall(Quote_re, line):
            for barline in Barlines:
                if barline in quote_content:
                    line = line.replace(quote_content, "")
                    abc_lines[i] = line
    with contextlib.redirect_stdout(io.StringIO()):
        _, bar_no_equal_flag, _ = check_alignment_unrotated(abc_lines)
    if not bar_no_equal_flag:
        raise ValueError("Unequal bar number")
    for i, line in enumerate(abc_lines):
        for match in re.findall(r'"[^"]*"', line):
            if match == '""':
                line = line.replace(match, "")
            if match[1] in ["^", "_"]:
                sub_string = re.sub(r"([^a-zA-Z0-9])\1+", r"\1", match)
                line = line.replace(match, sub_string if len(sub_string) <= 40 else "")
        abc_lines[i] = line
    metadata_lines, _ = extract_metadata_and_parts(abc_lines)
    global_metadata, _ = extract_global_and_local_metadata(metadata_lines)
    ori_key = "C" if global_metadata["K"][0] == "none" else global_metadata["K"][0]
    mode_to_key = {mode: key for key, modes in Key2Mode.items() for mode in modes}  # finetune/train-gen.py
    text = transpose_an_abc_text(abc_lines, mode_to_key[ori_key])
    lines = [line + "\n" for line in filter(None, text.split("\n"))]
    metadata_lines, prefix, left, bar_text, right = extract_barline_and_bartext_dict(lines)
    bars = []
    for i in range(len(bar_text["V:1"])):
        line = ""
        for symbol in prefix:
            if any(c.isalpha() and c not in ["Z", "z", "X", "x"] for c in bar_text[symbol][i]):
                if i == 0:
                    line += "[" + symbol + "]" + prefix[symbol] + left[symbol][0] + bar_text[symbol][0] + right[symbol][0]
                else:
                    line += "[" + symbol + "]" + bar_text[symbol][i] + right[symbol][i]
        bars.append(line + "\n" if line else "")
    return metadata_lines, bars


def reference_text(path: str | Path) -> tuple[list[str], list[str]]:
    """Score file -> NotaGen's (header lines, bar lines) for it; raises where NotaGen drops the piece."""
    abc = xml2abc_script(Path(path))
    if not abc:
        raise ValueError("xml2abc wrote nothing")
    return reference_lines(abc)
