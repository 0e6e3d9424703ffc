#!/usr/bin/env bash
# The cluster test (dotnet fsi build.fsx -t ClusterTest; the Test target runs it too): starts a
# one-node Slurm cluster (local-cluster.sh), then
#   1. runs the smoke sweep through submit.sh as a 2-task array and a merge job;
#   2. runs a 3-epoch variant, kills one array task mid-run, resubmits that task alone;
# and checks each time that every run is complete exactly once (trained by one task, never
# twice), the killed run resumed from its checkpoint, and the reports are drawn. It stops every
# daemon it started, by pid, and deletes its folder however it ends. Its last line is the one the
# Test target counts: tests: N passed, M failed, K skipped.
set -uo pipefail

scripts=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$scripts/../.." && pwd)
cli=$repo/src/Mnist.Cli/bin/Release/net10.0/mnist.dll
checks=2

closing() { echo "tests: $1 passed, $2 failed, $3 skipped"; }
skip() {
  echo "cluster test skipped: $*"
  closing 0 0 "$checks"
  exit 0
}
[ "$(id -u)" = 0 ] || skip "a local Slurm cluster needs root"
for program in munged slurmctld slurmd sbatch; do
  command -v "$program" >/dev/null || skip "Slurm is not installed (apt-get install slurm-wlm munge; .ci/run does it as root)"
done
if [ ! -f "$cli" ]; then
  echo "error: $cli is not built (dotnet fsi build.fsx -t Build)"
  closing 0 "$checks" 0
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mnist-cluster-XXXXXX")
cleanup() {
  "$scripts/local-cluster.sh" stop "$work/cluster" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! setup=$("$scripts/local-cluster.sh" start "$work/cluster"); then
  echo "FAILED: the local Slurm cluster did not start"
  closing 0 "$checks" 0
  exit 1
fi
eval "$setup"
echo "one-node Slurm cluster up: $(sinfo --noheader --format='%P %D node(s), %c CPUs, %T')"

mnist() { dotnet "$cli" "$@"; }
passed=0 failed=0 problems=()

# expect <what> <command...>: the command must succeed, else <what> is a problem of this check.
expect() { "${@:2}" || problems+=("$1"); }

# Ends a check: ok, or FAILED with its problems and the logs that may say why.
conclude() {
  local name=$1 results=$2
  if [ ${#problems[@]} -eq 0 ]; then
    echo "ok: $name"
    passed=$((passed + 1))
  else
    echo "FAILED: $name"
    printf '  - %s\n' "${problems[@]}"
    tail -n 15 "$results"/.slurm/*.out 2>/dev/null | sed 's/^/    /'
    failed=$((failed + 1))
  fi
  problems=()
}

# Waits until the queue is empty (at most 15 minutes).
drain() {
  local deadline=$((SECONDS + 900))
  while [ -n "$(squeue --noheader 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
  [ -z "$(squeue --noheader 2>/dev/null)" ] || problems+=("jobs still queued after 15 minutes: $(squeue --noheader)")
}

state_of() { scontrol show job "$1" --oneliner 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
is_state() { [ "$(state_of "$1")" = "$2" ] || { echo "  job $1 is $(state_of "$1"), not $2"; false; }; }
job_of() { sed -n "s/^$1 job \([0-9]*\).*/\1/p" <<<"$2"; }

# Every run of the sweep complete once in the merged registry, each trained by exactly one
# task, no epoch trained twice, the reports drawn.
verify_sweep() {
  local sweep=$1 results=$2 runs=$3 listing ids id log e
  expect "$sweep: summary.json says the whole sweep is complete" grep -q "\"runs\": $runs" "$results/$sweep/summary.json"
  expect "$sweep: sweep report drawn" test -f "$results/$sweep/index.html"
  expect "$sweep: one run report per run" test "$(ls "$results/$sweep"/*/report.html 2>/dev/null | wc -l)" = "$runs"
  listing=$(mnist runs --results "$results" --sweep "$sweep" --all) || problems+=("mnist runs failed")
  expect "$sweep: $runs complete runs listed" grep -q "^$runs complete run(s)" <<<"$listing"
  expect "$sweep: no unfinished run" test -z "$(grep -E ' (running|interrupted) ' <<<"$listing")"
  # Each task logs "[i/n id] test accuracy ..." once per run it trains to the end.
  ids=$(cat "$results"/.slurm/mnist-"$sweep"-*.out | grep -oE '\[[0-9]+/[0-9]+ [0-9a-f]{12}\] test accuracy' |
    grep -oE '[0-9a-f]{12}' | sort)
  expect "$sweep: $runs distinct runs trained" test "$(uniq <<<"$ids" | grep -c .)" = "$runs"
  expect "$sweep: no run trained twice" test -z "$(uniq -d <<<"$ids")"
  for log in "$results/$sweep"/*/log.txt; do
    for e in $(seq 1 9); do
      expect "$(basename "$(dirname "$log")"): epoch $e trained at most once" \
        test "$(grep -c "epoch $e/" "$log")" -le 1
    done
  done
}

# 1. The smoke sweep as a 2-task array and a merge job.
results=$work/smoke
if submitted=$(MNIST_RESULTS=$results "$scripts/submit.sh" smoke 2); then
  echo "$submitted" | sed 's/^/  /'
  array=$(job_of array "$submitted") merge=$(job_of merge "$submitted")
  drain
  expect "task 0 completed" is_state "${array}_0" COMPLETED
  expect "task 1 completed" is_state "${array}_1" COMPLETED
  expect "the merge job completed" is_state "$merge" COMPLETED
  verify_sweep smoke "$results" 4
else
  problems+=("submit.sh failed")
fi
conclude "smoke sweep as a 2-task Slurm array and a merge job: every run complete once, reports drawn" "$results"

# 2. Kill one task mid-run, resubmit it alone.
results=$work/longer
sed -e 's/"name": "smoke"/"name": "smoke3"/' -e 's/"epochs": 1/"epochs": 3/' "$repo/experiments/smoke.json" >"$work/smoke3.json"
if submitted=$(MNIST_RESULTS=$results "$scripts/submit.sh" "$work/smoke3.json" 2); then
  array=$(job_of array "$submitted")
  checkpoint=
  for _ in $(seq 1 3000); do
    checkpoint=$(ls "$results"/.tasks/smoke3/*/.partial/*/checkpoint.safetensors 2>/dev/null | head -n 1)
    [ -n "$checkpoint" ] && break
    sleep 0.1
  done
  if [ -z "$checkpoint" ]; then
    problems+=("no task reached a checkpoint")
  else
    shard=$(basename "${checkpoint%%/.partial/*}") # k-of-2
    task=$((${shard%%-*} - 1))
    killed=$(basename "$(dirname "$checkpoint")")
    scancel "${array}_$task"
    echo "  killed task $task of job $array during run $killed (after its first epoch)"
    for _ in $(seq 1 600); do
      [ -z "$(squeue --noheader --jobs="${array}_$task" 2>/dev/null)" ] && break
      sleep 0.1
    done
    expect "the killed task is cancelled" is_state "${array}_$task" CANCELLED
    if resubmitted=$(MNIST_RESULTS=$results "$scripts/submit.sh" "$work/smoke3.json" 2 --array="$task"); then
      echo "$resubmitted" | sed 's/^/  /'
      drain
      expect "the resubmitted task completed" is_state "$(job_of array "$resubmitted")_$task" COMPLETED
      expect "the new merge job completed" is_state "$(job_of merge "$resubmitted")" COMPLETED
      verify_sweep smoke3 "$results" 4
      expect "run $killed resumed from its checkpoint" grep -q "resuming after epoch" "$results/smoke3/$killed/log.txt"
      grep -E "resuming|epoch [0-9]+/|test accuracy" "$results/smoke3/$killed/log.txt" | cut -c 22- | sed "s/^/    $killed: /"
    else
      problems+=("resubmitting task $task failed")
    fi
  fi
else
  problems+=("submit.sh failed")
fi
conclude "a task killed mid-run and resubmitted: the sweep finishes, the run resumes, nothing is trained twice" "$results"

closing "$passed" "$failed" 0
[ "$failed" -eq 0 ]
