"""`notabridge export` and `notabridge inspect` on the command line."""
from __future__ import annotations

import json

from notabridge.onnx_export.prompts import read_prompts
from tests.model_helpers import run_notabridge

PROMPTS_TXT = """# NotaGen's prompts.txt style
Baroque_Bach, Johann Sebastian_Choral
Romantic_Chopin, Frederic_Keyboard

Classical_Mozart, Wolfgang Amadeus_Chamber
"""


def test_export_then_inspect_a_bundle(tmp_path, tiny_checkpoint):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(PROMPTS_TXT)
    out = tmp_path / "bundle"
    result = run_notabridge("export", tiny_checkpoint, out, "--prompts", prompts, "--name", "tiny-cli", "--fp16")
    assert result.returncode == 0, result.stderr
    assert "3 prompts" in result.stdout and "fp16" in result.stdout
    assert json.loads((out / "prompts.json").read_text())[2] == ["Classical", "Mozart, Wolfgang Amadeus", "Chamber"]

    shown = run_notabridge("inspect", out)
    assert shown.returncode == 0, shown.stderr
    for text in ("tiny-cli", "d=128 (2 heads), 2 patch layers, 2 char layers", "64 patches of 16 characters",
                 "precision     fp16", "checksums     verified", "Romantic / Chopin, Frederic / Keyboard"):
        assert text in shown.stdout, shown.stdout
    info = json.loads(run_notabridge("inspect", out, "--json").stdout)
    checkpoint_info = json.loads(run_notabridge("inspect", tiny_checkpoint, "--json").stdout)
    assert info["parameters"] == checkpoint_info["parameters"] > 1_000_000
    assert len(info["prompts"]) == 3 and checkpoint_info["prompts"] is None

    # a changed graph no longer matches its checksum
    graph = out / "char_decoder.onnx"
    graph.write_bytes(graph.read_bytes()[:-10] + b"0123456789")
    broken = run_notabridge("inspect", out)
    assert broken.returncode == 1 and "sha256" in broken.stderr and "Traceback" not in broken.stderr

    # the folder is not empty any more: export refuses to write over it without --force
    again = run_notabridge("export", tiny_checkpoint, out)
    assert again.returncode == 1 and "--force" in again.stderr


def test_json_prompt_list_and_bad_prompt_files(tmp_path, tiny_checkpoint):
    good = tmp_path / "prompts.json"
    good.write_text(json.dumps([["Baroque", "Bach, Johann Sebastian", "Keyboard"],
                                {"period": "Romantic", "composer": "Liszt, Franz", "instrumentation": "Keyboard"}]))
    assert read_prompts(good) == [("Baroque", "Bach, Johann Sebastian", "Keyboard"), ("Romantic", "Liszt, Franz", "Keyboard")]

    bad = tmp_path / "bad.txt"
    bad.write_text("Baroque_Bach\n")
    refused = run_notabridge("export", tiny_checkpoint, tmp_path / "c", "--prompts", bad)
    assert refused.returncode == 1 and "bad.txt:1" in refused.stderr and "Period_Composer_Instrumentation" in refused.stderr
    assert not (tmp_path / "c").exists()
