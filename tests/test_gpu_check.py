"""bench/gpu_check.sh fails in one clear line without a GPU; its measuring half runs (on the CPU here)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA GPU")
def test_gpu_check_says_there_is_no_gpu_and_installs_nothing(tmp_path):
    work = tmp_path / "work"
    result = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], capture_output=True, text=True,
                            env=os.environ | {"NOTABRIDGE_GPU_WORK": str(work)}, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_check: no NVIDIA GPU here"), result.stderr
    assert not work.exists()          # nothing made or installed before the check


def test_gpu_check_measures_parity_and_speed_on_a_provider(tmp_path, tiny_checkpoint, tiny_bundle):
    """The same script on the CPU provider: parity rows for fp32 and fp16 and a time per context."""
    from notabridge.onnx_export.export import export_bundle

    export_bundle(tiny_checkpoint, tmp_path / "half", fp16=True)
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--fp32", str(tiny_bundle),
                             "--fp16", str(tmp_path / "half"), "--provider", "cpu", "--contexts", "4", "32",
                             "--patches", "2", "--parity-patches", "40"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("fp32 ", "fp16 "))]
    assert [r[0] for r in rows] == ["fp32", "fp16"]
    assert all(r[1] == "CPUExecutionProvider" and r[4] == "ok" and float(r[5]) > 0 and float(r[6]) > 0 for r in rows)
    assert float(rows[0][2]) < 1e-4         # fp32 against itself on the same provider
