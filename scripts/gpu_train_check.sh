#!/usr/bin/env bash
# One-shot GPU training run: `openfsgan train-gpu` in a time budget, results under $OUT.
#
#   usage: scripts/gpu_train_check.sh CROPS.tar.xz [MINUTES]      (run from the repository root)
#
# CROPS.tar.xz: the packed 256² crop set (docs/training.md, "Training on a GPU": how to make it;
# research data, never committed). MINUTES (default 7) is the training time of the four stages
# together; the whole script takes about 1.5 minutes more (unpacking, start-up, ONNX exports).
#
# Environment:
#   OUT               folder for the results (default ./gpu-out); at most 8 files land there:
#                     <stage>.tar x 4 (config.json + float16 model.safetensors of each trained
#                     generator, < 16 MiB each; `openfsgan export-onnx` makes the ONNX files
#                     again), losses.csv, summary.json, train.log
#   WORK              working folder of the run (default /tmp/openfsgan-gpu): the unpacked data,
#                     the resumable runs and the 256² ONNX exports; the same WORK resumes
#   DLIB_RESNET_DAT   dlib_face_recognition_resnet_model_v1.dat, when the package
#                     face-recognition-models is not installed (the perceptual and identity
#                     losses read dlib's face descriptor network from it)
#   DEVICE            cuda (default); cpu only to try the script on a machine without one
#   EXTRA             more train-gpu options, e.g. "--batch-size 32 --num-workers 12"
set -uo pipefail
CROPS=${1:?usage: scripts/gpu_train_check.sh CROPS.tar.xz [MINUTES]}
MINUTES=${2:-7}
OUT=${OUT:-$PWD/gpu-out}
WORK=${WORK:-/tmp/openfsgan-gpu}
mkdir -p "$OUT" "$WORK"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}

# dlib's descriptor file without its package: a two-line stand-in that points at the file
if ! $PY -c "import face_recognition_models" 2>/dev/null; then
    if [ -n "${DLIB_RESNET_DAT:-}" ] && [ -f "$DLIB_RESNET_DAT" ]; then
        mkdir -p "$WORK/shim/face_recognition_models"
        printf 'def face_recognition_model_location():\n    return %s\n' \
            "'$(realpath "$DLIB_RESNET_DAT")'" > "$WORK/shim/face_recognition_models/__init__.py"
        export PYTHONPATH="$PYTHONPATH:$WORK/shim"
    else
        echo "face-recognition-models is missing: set DLIB_RESNET_DAT to" \
             "dlib_face_recognition_resnet_model_v1.dat" >&2
        exit 2
    fi
fi

# everything train-gpu imports, checked before any GPU time is spent on it
$PY - <<'PY' || exit 3
import importlib, sys
missing = []
for name in ("torch", "numpy", "cv2", "yaml", "safetensors", "onnx", "onnxruntime", "tqdm",
             "scipy", "openfsgan.training.gpu", "openfsgan.training.stages",
             "openfsgan.export.onnx", "openfsgan.nn.features"):
    try:
        importlib.import_module(name)
    except Exception as error:  # report every missing piece at once
        missing.append(f"{name}: {error}")
import torch
print(f"torch {torch.__version__}, CUDA {torch.cuda.is_available()}"
      + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
if missing:
    print("missing:\n  " + "\n  ".join(missing), file=sys.stderr)
    sys.exit(1)
PY

started=$(date +%s)
# the time budget, and a hard stop 5 minutes after it (train-gpu checkpoints on SIGTERM)
timeout --signal=TERM $(( ${MINUTES%.*} * 60 + 300 )) \
    $PY -m openfsgan train-gpu --data "$CROPS" --minutes "$MINUTES" --out "$WORK" \
    --device "${DEVICE:-cuda}" ${EXTRA:-} 2>&1 | tee "$OUT/train.log"
status=${PIPESTATUS[0]}

for stage in reenactment segmentation inpainting blending; do
    folder="$WORK/models/$stage"
    if [ -f "$folder/model.safetensors" ]; then
        tar -cf "$OUT/$stage.tar" -C "$folder" config.json model.safetensors
    fi
done
for name in losses.csv summary.json; do
    [ -f "$WORK/$name" ] && cp "$WORK/$name" "$OUT/$name"
done

echo "---- summary (exit $status, $(( $(date +%s) - started )) s) ----"
$PY - "$WORK/summary.json" <<'PY'
import json, sys
try:
    summary = json.load(open(sys.argv[1]))
except OSError:
    sys.exit("no summary.json: the run did not finish a stage")
for stage, done in summary["stages"].items():
    sizes = ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in done["files"].items())
    print(f"{stage:12s} {done['steps']:6d} steps  {done['status']:10s} {done['seconds']:7.0f} s  "
          f"{json.dumps(done['last_losses'])}  [{sizes}]")
PY
ls -l "$OUT"
exit "$status"
