#!/usr/bin/env bash
# The GPU check (issue 14, point 4): on a CUDA machine, every chapter's `full` smoke mode on the
# GPU, and a ResNet-50 training step at 224 px (batch 64, AMP, channels_last) timed with
# harlearn's loop against timm's own step; one short table at the end. Without CUDA it says so
# and exits 0.
#
#   bash benchmarks/gpu_check.sh            # from the repository root; about 5 minutes on one H200
#
# Needs no network: the Stanford40 / VOC trees are written by harlearn.data.testing and every
# pretrained checkpoint is a random stand-in (HARLEARN_SMOKE=1, harlearn.pretrained_source).
# Python packages the machine lacks (a GPU image without Jupyter: IPython, ipywidgets, pooch)
# can travel as wheels in .whl/ (benchmarks/gpu_wheels.sh downloads them on a connected
# machine); they are installed into a temporary folder, never into the system.
#
# Settings (environment): PYTHON (python3), GPU_CHECK_OUT (where the table, JSON and logs go;
# default $OUT when set, else _build/gpu-check), GPU_CHECK_JOBS (chapters at a time, 4),
# GPU_CHECK_CHAPTER_TIMEOUT (s per chapter, 120), GPU_CHECK_BUDGET (s for all chapters, 300),
# GPU_CHECK_ONLY (chapter prefixes, e.g. "04 07").
# The chapters use their own `full` settings (recipes with AMP; channels_last where the recipe
# sets it); nothing here overrides them.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False, or no torch): nothing was run."
    exit 0
fi

work=$(mktemp -d /tmp/harlearn-gpu-check.XXXXXX)
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" .whl/*.whl \
        || { echo "gpu_check: installing the wheels in .whl/ failed"; exit 1; }
    export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # harlearn from this checkout, ahead of any installed copy

missing=$("$PYTHON" - <<'EOF'
import importlib
names = ["harlearn", "timm", "torchvision", "numpy", "PIL", "pandas", "sklearn", "matplotlib", "tqdm",
         "pooch", "IPython", "ipywidgets"]
out = []
for name in names:
    try:
        importlib.import_module(name)
    except Exception as err:  # noqa: BLE001
        out.append(f"{name} ({type(err).__name__})")
print(", ".join(out))
EOF
)
if [ -n "$missing" ]; then
    echo "gpu_check: missing here: $missing; chapters that import them will fail."
    echo "           (on a connected machine: bash benchmarks/gpu_wheels.sh, then carry .whl/)"
fi

data="$work/data"
"$PYTHON" -m harlearn.data.testing "$data" || { echo "gpu_check: could not write the smoke trees"; exit 1; }

export HARLEARN_PROFILE=full HARLEARN_SMOKE=1 HARLEARN_DATA="$data" MPLBACKEND=Agg PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TORCH_HOME="$work/torch"  # nothing may be fetched: stand-ins only
jobs=${GPU_CHECK_JOBS:-4}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / jobs > 0 ? $(nproc) / jobs : 1 ))}
out_dir=${GPU_CHECK_OUT:-${OUT:-_build/gpu-check}}
mkdir -p "$out_dir"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
"$PYTHON" -c "import torch, torchvision, timm; print('torch', torch.__version__, '| torchvision', torchvision.__version__, '| timm', timm.__version__)"

start=$(date +%s)
"$PYTHON" benchmarks/gpu_check.py --out "$work/run" --jobs "$jobs" \
    --chapter-timeout "${GPU_CHECK_CHAPTER_TIMEOUT:-120}" --budget "${GPU_CHECK_BUDGET:-300}" \
    ${GPU_CHECK_ONLY:+--only $GPU_CHECK_ONLY}
status=$?
echo "gpu_check: $(( $(date +%s) - start )) s in all"

# Three files (the device tool brings back at most eight): the table, the JSON, every log.
cp "$work/run/gpu_check.txt" "$work/run/gpu_check.json" "$out_dir/" 2>/dev/null
tar -czf "$out_dir/gpu_check_logs.tar.gz" -C "$work/run" . 2>/dev/null
echo "gpu_check: table, JSON and logs in $out_dir"
exit $status
