#!/usr/bin/env bash
# The GPU run, in one command, on a machine with the NVIDIA driver, CUDA, Python and PyTorch but
# no .NET. Run it inside the folder scripts/gpu/publish.sh prepared (bin/mnist, mnist/, scripts/):
#   scripts/gpu/h200-check.sh
# It writes everything under $OUT (default ./out): the devices, the gradient checks on the GPU,
# `mnist bench` of the classic network, one training epoch (target: >= 98.8% test accuracy and an
# epoch <= 2 s), the PyTorch twin's epoch of the same network on the same GPU (data already on the
# device, batch 64) and summary.txt with the ratio. DEVICE=ilgpu-cpu LIMIT=256 GRADCHECK_FILTER=dense
# rehearses the script's logic anywhere (slowly, on ILGPU's CPU accelerator).
set -uo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$here"
OUT="${OUT:-$here/out}"
DEVICE="${DEVICE:-cuda}"
LIMIT="${LIMIT:-}"
GRADCHECK_FILTER="${GRADCHECK_FILTER:-}"
mkdir -p "$OUT"
export MNIST_DATA="${MNIST_DATA:-$here/mnist}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1
# MNIST_CMD runs another build instead (say `dotnet /path/mnist.dll` with a carried .NET).
read -r -a mnist <<< "${MNIST_CMD:-$here/bin/mnist}"
limit=(); twin_limit=(); test_limit=()
if [ -n "$LIMIT" ]; then limit=(--limit "$LIMIT"); twin_limit=(--limit "$LIMIT"); test_limit=(--test-limit "$LIMIT"); fi
twin_device=cpu; [ "$DEVICE" != "ilgpu-cpu" ] && twin_device=cuda
failed=0

step() { # name, seconds, command...: runs it (killed after that long), its output into $OUT/name.txt (and shown), notes a failure
    local name="$1" seconds="$2"; shift 2
    echo "== $name: $*" | tee "$OUT/$name.txt"
    local start=$SECONDS
    timeout "$seconds" "$@" 2>&1 | tee -a "$OUT/$name.txt"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/$name.txt"
    [ "$rc" -eq 0 ] || failed=1
}

{ nvidia-smi || true; uname -a; } > "$OUT/machine.txt" 2>&1
# Each step has a time limit, so one slow step cannot eat the machine's short lease; the training
# epoch comes before the bench so the accuracy is in even if the bench is cut short.
step devices 60 "${mnist[@]}" devices
filter=(); [ -n "$GRADCHECK_FILTER" ] && filter=(--filter "$GRADCHECK_FILTER")
step gradcheck 120 "${mnist[@]}" gradcheck --device "$DEVICE" "${filter[@]}"
step train 150 "${mnist[@]}" train --device "$DEVICE" --preset classic --epochs 1 "${limit[@]}" "${test_limit[@]}" --out "$OUT/model"
step bench 150 "${mnist[@]}" bench --device "$DEVICE" --preset classic --runs 3 "${limit[@]}"
# The twin trains the network we trained (its config rides in the model file) with our recipe.
model="$OUT/model/model.safetensors"
if [ -f "$model" ]; then
    step pytorch 120 python3 "$here/scripts/pytorch_twin.py" train --config "$model" --device "$twin_device" --epochs 3 \
        --batch-size 64 --optimizer nesterov --lr 0.05 --one-cycle --data-dir "$MNIST_DATA" "${twin_limit[@]}"
else
    echo "no model file under $OUT/model: the twin has nothing to train" | tee "$OUT/pytorch.txt"; failed=1
fi

# The side-by-side numbers: our median bench epoch, the twin's median epoch, their ratio.
ours=$(sed -n 's/.*median epoch \([0-9.]*\) s.*/\1/p' "$OUT/bench.txt" | head -1)
theirs=$(python3 - "$OUT/pytorch.txt" <<'PY'
import json, statistics, sys
seconds = [json.loads(l)["seconds"] for l in open(sys.argv[1]) if l.startswith("{")]
print(f"{statistics.median(seconds):.3f}" if seconds else "")
PY
)
accuracy=$(grep -i -o 'test accuracy[^,;)]*' "$OUT/train.txt" | tail -1)
{
    echo "device: $DEVICE ($(head -1 "$OUT/devices.txt" 2>/dev/null; grep -m1 '^cuda' "$OUT/devices.txt"))"
    echo "gradcheck: $(grep '^gradcheck:' "$OUT/gradcheck.txt")"
    echo "ours, classic epoch (bench median): ${ours:-?} s (target <= 2 s)"
    echo "PyTorch twin on $twin_device, classic epoch (median of 3, data on the device, batch 64): ${theirs:-?} s"
    if [ -n "$ours" ] && [ -n "$theirs" ]; then
        python3 -c "print(f'ratio ours/PyTorch: {$ours / $theirs:.2f}')"
    fi
    echo "one epoch: ${accuracy:-?} (target >= 98.8%)"
} | tee "$OUT/summary.txt"
exit $failed
