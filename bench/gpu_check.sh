#!/usr/bin/env bash
# GPU check of the engine: fp32 and fp16 NotaGen-small-shaped bundles on ONNX Runtime's CUDA
# provider, parity against the CPU and time per new patch at 16 / 256 / 1024 patches of context
# with the patch caches kept on the GPU (I/O binding). Prints one table (bench/gpu_check.py).
#
#   bash bench/gpu_check.sh            # about 3-5 minutes on a machine with an NVIDIA GPU
#
# Steps: (1) a GPU is there (nvidia-smi), else one line and exit 2, before anything is installed;
# (2) its own venv WORK/venv with onnxruntime-gpu (CUDA 12 and cuDNN from the nvidia-* wheels),
# numpy and abctoolkit: made once, reused; pip needs PyPI, or NOTABRIDGE_WHEELS=DIR holding the
# wheels (pip install --no-index --find-links DIR); (3) the fp32 and fp16 bundles, exported
# once with the project's Python (torch) from bench/small_shaped.py's checkpoint (the embedded
# model's trained weights at NotaGen-small's shape); (4) bench/gpu_check.py in the GPU venv.
# Environment: NOTABRIDGE_GPU_WORK (default ${TMPDIR:-/tmp}/notabridge_gpu_check), PYTHON (the
# project's Python with torch; default .venv/bin/python, else python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${NOTABRIDGE_GPU_WORK:-${TMPDIR:-/tmp}/notabridge_gpu_check}"
fail() { echo "gpu_check: $1" >&2; exit "${2:-2}"; }

if ! command -v nvidia-smi >/dev/null 2>&1; then
    fail "no NVIDIA GPU here (nvidia-smi not found): run this on a machine with a CUDA GPU and its driver"
fi
GPU="$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -n 1 || true)"
[ -n "$GPU" ] || fail "nvidia-smi finds no usable GPU (driver not loaded?): check \`nvidia-smi\`"
echo "GPU: $GPU"

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY="python3"; fi
fi
"$PY" -c "import torch, onnx" 2>/dev/null || fail "the export step needs torch and onnx in $PY: pip install 'notabridge[export]' or set PYTHON"
mkdir -p "$WORK"
cd "$ROOT"
START=$SECONDS

VENV="$WORK/venv"
if ! "$VENV/bin/python" -c "import onnxruntime, numpy, abctoolkit" 2>/dev/null; then
    echo "making $VENV with onnxruntime-gpu ..."
    "$PY" -m venv "$VENV" || fail "cannot make a venv in $VENV (python3-venv missing?)"
    PIP=("$VENV/bin/python" -m pip install -q)
    if [ -n "${NOTABRIDGE_WHEELS:-}" ]; then PIP+=(--no-index --find-links "$NOTABRIDGE_WHEELS"); fi
    "${PIP[@]}" "onnxruntime-gpu[cuda,cudnn]>=1.20" numpy abctoolkit \
        || "${PIP[@]}" "onnxruntime-gpu>=1.20" numpy abctoolkit \
        || fail "pip could not install onnxruntime-gpu into $VENV (no network? set NOTABRIDGE_WHEELS=DIR of wheels)"
fi
echo "venv ready ($((SECONDS - START)) s)"

"$PY" - "$WORK" <<'EOF' || fail "exporting the NotaGen-small-shaped bundles failed (see above)" 1
import sys
from pathlib import Path
sys.path.insert(0, "bench")
sys.path.insert(0, ".")
from small_shaped import make_small_shaped
from notabridge.onnx_export.export import export_bundle
work = Path(sys.argv[1])
fp32 = make_small_shaped(work, Path("models/default"))
fp16 = work / "small_shaped_fp16"
if not (fp16 / "config.json").is_file():
    export_bundle(work / "small_shaped.pth", fp16, fp16=True, name="small-shaped-fp16")
EOF
echo "bundles ready ($((SECONDS - START)) s)"

PYTHONPATH="$ROOT" "$VENV/bin/python" bench/gpu_check.py --fp32 "$WORK/small_shaped_bundle" \
    --fp16 "$WORK/small_shaped_fp16" --provider cuda "$@"
echo "done in $((SECONDS - START)) s"
