#!/usr/bin/env bash
# Prepares what travels to a GPU machine that has the NVIDIA driver but no .NET: a self-contained,
# single-file, compressed `mnist` for linux-x64 (with the GPU backend, Mnist.Gpu, and ILGPU inside),
# the MNIST files and scripts/gpu/h200-check.sh with the PyTorch twin. Everything must stay under
# 64 MiB, which the untrimmed program alone nearly fills, so the framework is trimmed (TrimMode
# partial: only assemblies marked trimmable, i.e. .NET's own; ours, F#'s and ILGPU's, which builds
# its kernel launchers by reflection, are kept whole; System.Text.Json keeps its reflection, which
# the run metadata uses). The script then trains a few batches with the published program on
# ilgpu-cpu, saving the model, to prove the trimmed build still works.
#   scripts/gpu/publish.sh [OUT_DIR]      (default: artifacts/gpu-check)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/artifacts/gpu-check}"
data="${MNIST_DATA:-/work/shared/data/mnist}"
rm -rf "$out"
mkdir -p "$out/bin" "$out/mnist" "$out/scripts/gpu"
export NUGET_FEED="${NUGET_FEED:-$(dotnet nuget list source --format short | awk '/^E /{print $2; exit}')}"
dotnet publish "$root/src/Mnist.Cli/Mnist.Cli.fsproj" -c Release -r linux-x64 --self-contained true \
    -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
    -p:PublishTrimmed=true -p:TrimMode=partial -p:SuppressTrimAnalysisWarnings=true -p:JsonSerializerIsReflectionEnabledByDefault=true \
    -p:DebugType=none -o "$out/bin" >&2
rm -f "$out"/bin/*.pdb "$out"/bin/*.xml
# Only the four gzipped IDX files travel.
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ -f "$data/$f.gz" ]; then cp "$data/$f.gz" "$out/mnist/"; else gzip -c "$data/$f" > "$out/mnist/$f.gz"; fi
done
[ -f "$data/SHA256SUMS.raw" ] && cp "$data/SHA256SUMS.raw" "$out/mnist/"
cp "$root/scripts/gpu/h200-check.sh" "$out/scripts/gpu/"
# The trimmed program must still compile and run the GPU kernels (here on ILGPU's CPU accelerator).
"$out/bin/mnist" gradcheck --device ilgpu-cpu --filter "conv2d 3x3" >&2
"$out/bin/mnist" train --device ilgpu-cpu --preset light --limit 64 --test-limit 64 --epochs 1 --data-dir "$data" --out "$out/.check" >&2
rm -rf "$out/.check"
cp "$root/scripts/pytorch_twin.py" "$out/scripts/"
size=$(du -sb "$out" | cut -f1)
echo "prepared $out: $((size / 1024 / 1024)) MiB ($size bytes)"
if [ "$size" -ge $((64 * 1024 * 1024)) ]; then echo "error: $out is over 64 MiB" >&2; exit 1; fi
