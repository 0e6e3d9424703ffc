#!/bin/sh
# Renders a sweep's report and each run report in headless Chromium with networking cut off
# (every request goes to a dead proxy, every host name fails to resolve), and checks that every
# chart on each page was drawn. Screenshots land in $OUT (default /tmp/report-shots).
#   scripts/check-reports-offline.sh [results-folder] [sweep]      (needs: apt-get install chromium)
set -eu
RESULTS=$(cd "${1:-results}" && pwd)
SWEEP=${2:-quick}
OUT=${OUT:-/tmp/report-shots}
mkdir -p "$OUT"
status=0
check() {
    page=$1; name=$2
    profile=$(mktemp -d)
    set -- --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
        --user-data-dir="$profile" --proxy-server=http://127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" \
        --virtual-time-budget=8000
    drawn=$(chromium "$@" --dump-dom "file://$page" 2>/dev/null | grep -o 'class="plot-container plotly"' | wc -l)
    chromium "$@" --window-size=1300,3000 --screenshot="$OUT/$name.png" "file://$page" >/dev/null 2>&1 || true
    rm -rf "$profile"
    expected=$(grep -o 'Plotly.newPlot' "$page" | wc -l)
    if [ "$drawn" -eq "$expected" ] && [ "$expected" -gt 0 ]; then
        echo "ok      $name: $drawn of $expected charts drawn offline"
    else
        echo "FAILED  $name: $drawn of $expected charts drawn offline"; status=1
    fi
}
check "$RESULTS/$SWEEP/index.html" "$SWEEP"
for report in "$RESULTS/$SWEEP"/*/report.html; do
    check "$report" "$SWEEP-$(basename "$(dirname "$report")")"
done
echo "screenshots in $OUT"
exit $status
