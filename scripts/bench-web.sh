#!/usr/bin/env bash
# Loopback load test of the prediction API: starts `mnist serve` on a free-ish port, fires
# requests at it with bench/Mnist.WebBench (latency percentiles, throughput, the server's resident
# memory), then stops the server. Build first: dotnet build Mnist.Experiments.sln -c Release
#   scripts/bench-web.sh <model.safetensors> [requests] [concurrency] [pixels|png]
# BACKOFF=yes makes refused clients wait the Retry-After they are given (default: ask again at
# once); SERVE_ARGS adds options to `mnist serve` (say --prediction-queue 8).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/bench-web.sh <model.safetensors> [requests] [concurrency] [pixels|png]}
requests=${2:-20000}
concurrency=${3:-4}
payload=${4:-pixels}
port=${PORT:-5097}
# MNIST comes from MNIST_DATA or the per-user cache, as for every command (mnist data fetch).

dotnet src/Mnist.Cli/bin/Release/net10.0/mnist.dll serve --model "$model" --port "$port" --results "$(mktemp -d)" ${SERVE_ARGS:-} &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet bench/Mnist.WebBench/bin/Release/net10.0/Mnist.WebBench.dll --url "http://127.0.0.1:$port" \
  -n "$requests" -c "$concurrency" --payload "$payload" --pid "$server" --backoff "${BACKOFF:-no}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
