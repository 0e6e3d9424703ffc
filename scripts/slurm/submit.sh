#!/usr/bin/env bash
# Submits a sweep to Slurm: an array of <tasks> tasks, each training one shard of the sweep
# (mnist-task.sbatch), and a merge job that runs once every task has succeeded
# (--dependency=afterok) and folds their results into one results folder with its reports.
#
#   scripts/slurm/submit.sh <sweep name or file> <tasks> [sbatch options...]
#
# Run it again (same sweep, same task count) to resubmit after a failure or a pre-emption: each
# task skips its finished runs and resumes the one in progress from its checkpoint, and merging
# twice changes nothing. --array=1,3 among the options resubmits only those tasks (0-based).
#
# Environment: MNIST_RESULTS (default ./results, on storage every node sees), MNIST_REGISTRY
# (a postgres:// URL: tasks then share that registry and the results folder, and nothing needs
# merging), MNIST_DATA (MNIST on every node; default: each node's per-user cache),
# MNIST_EXPERIMENTS (default: this checkout's experiments/), MNIST_CLI (a mnist.dll or a
# command; default: this checkout's Release build, else `mnist` on the PATH).
set -euo pipefail

usage() { echo "usage: $0 <sweep name or file> <tasks> [sbatch options...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
submitted=("$@")
sweep=$1 tasks=$2
shift 2
[[ $tasks =~ ^[1-9][0-9]*$ ]] || { echo "error: <tasks> must be a positive whole number, got '$tasks'" >&2; exit 2; }
command -v sbatch >/dev/null || { echo "error: sbatch not found: run this where Slurm's commands are (a login node)" >&2; exit 1; }

scripts=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$scripts/../.." && pwd)
results=$(realpath -m "${MNIST_RESULTS:-results}")
experiments=$(realpath -m "${MNIST_EXPERIMENTS:-$repo/experiments}")
if [ -f "$sweep" ]; then
  sweep=$(realpath "$sweep")
  label=$(basename "$sweep" .json)
else
  label=$sweep
fi
cli=${MNIST_CLI:-$repo/src/Mnist.Cli/bin/Release/net10.0/mnist.dll}
if [ ! -f "$cli" ] && [ -z "${MNIST_CLI:-}" ]; then
  cli=$(command -v mnist) || { echo "error: no mnist build at $cli and no mnist command: build first (dotnet fsi build.fsx -t Build)" >&2; exit 1; }
fi

# The whole array, unless the options name the tasks to (re)submit.
array="0-$((tasks - 1))"
options=()
for option in "$@"; do
  case $option in
    --array=*) array=${option#--array=} ;;
    *) options+=("$option") ;;
  esac
done

logs="$results/.slurm"
mkdir -p "$logs"
export MNIST_CLI=$cli MNIST_SCRIPTS=$scripts MNIST_SWEEP=$sweep MNIST_EXPERIMENTS=$experiments
export MNIST_RESULTS=$results MNIST_SHARD_COUNT=$tasks MNIST_TASKS_DIR="$results/.tasks/$label"

array_job=$(sbatch --parsable --job-name="mnist-$label" --array="$array" --output="$logs/%x-%A_%a.out" \
  "${options[@]}" "$scripts/mnist-task.sbatch")
array_job=${array_job%%;*}

# The merge waits for this array, and for any earlier submission of the sweep still in the queue.
dependency="afterok:$array_job"
for other in $(squeue --noheader --name="mnist-$label" --format=%F | sort -u); do
  [ "$other" = "$array_job" ] || dependency+=",afterany:$other"
done
merge_job=$(sbatch --parsable --job-name="mnist-merge-$label" --dependency="$dependency" --output="$logs/%x-%j.out" \
  "${options[@]}" "$scripts/mnist-merge.sbatch")
merge_job=${merge_job%%;*}

# A merge job of an earlier submission whose tasks failed can never run: this one replaces it.
stale=$(squeue --noheader --name="mnist-merge-$label" --states=PENDING --format="%i %r" |
  awk -v keep="$merge_job" '$1 != keep && $2 == "DependencyNeverSatisfied" { print $1 }')
[ -z "$stale" ] || scancel $stale

registry=${MNIST_REGISTRY:-$results/runs.db}
echo "array job $array_job: sweep $label in $tasks task(s), submitted tasks $array"
echo "merge job $merge_job: runs when those tasks have succeeded ($dependency)"
echo "results: $results/$label/index.html, registry $(sed -E 's#^([^:/]+://[^:@/]*):[^@/]*@#\1:***@#' <<<"$registry")"
echo "logs: $logs/"
echo "watch: squeue --name=mnist-$label,mnist-merge-$label"
echo "after a failure, the same command resumes what is missing: $0 ${submitted[*]}"
