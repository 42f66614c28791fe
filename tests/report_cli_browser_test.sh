#!/usr/bin/env bash
# Reports written by the real CLI, rendered in headless Chromium by report_browser_test.sh, and
# the page of `fcnet explain --html`.
#
# Usage: report_cli_browser_test.sh FCNET OUT_DIR
set -euo pipefail

fail() {
  echo "report_cli_browser_test: FAIL: $*" >&2
  exit 1
}

[[ $# -eq 2 ]] || fail "usage: $0 FCNET OUT_DIR"
fcnet=$1
out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf "$out"
mkdir -p "$out"

# A short Fashion-MNIST run: 1% of the training set trains (the rest validates), three epochs.
"$fcnet" train --data fashion-mnist --val-split 0.99 --hidden 32 --epochs 3 --batch 50 --seed 2 \
  --threads 2 --quiet --out "$out/model.safetensors" --report "$out/train.html" ||
  fail "fcnet train --report failed"
[[ -s $out/train.html ]] || fail "fcnet train wrote no report"
grep -q 'id="misclassified-grid"' "$out/train.html" || fail "no grid of misclassified images"
grep -q '(test split)' "$out/train.html" || fail "the train report is not on the test split"
grep -q 'Ankle boot' "$out/train.html" || fail "no Fashion-MNIST class names in the train report"

"$fcnet" report --model "$out/model.safetensors" --data fashion-mnist --threads 2 --quiet \
  --out "$out/report.html" || fail "fcnet report failed"
[[ -s $out/report.html ]] || fail "fcnet report wrote no report"
rows=$(grep -o 'id="epoch-table".*' "$out/report.html" | grep -o '<tr><td class="num">' | wc -l)
[[ $rows == 3 ]] ||
  fail "fcnet report did not redraw the three epochs from the model's history"

bash "$here/report_browser_test.sh" --html "$out/train.html" "$out/train-browser"
bash "$here/report_browser_test.sh" --html "$out/report.html" "$out/report-browser"
# fcnet explain --html: the page of tables also loads with no console output at all.
"$fcnet" explain --html "$out/explain.html" || fail "fcnet explain --html failed"
chromium=${FCNET_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}
profile=$(mktemp -d "$out/profile.XXXXXX")
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
  "--host-resolver-rules=MAP * ~NOTFOUND" --enable-logging=stderr --v=0 \
  "--user-data-dir=$profile" --dump-dom "file://$(realpath "$out/explain.html")" \
  >"$out/explain-dom.html" 2>"$out/explain.log" || fail "chromium could not load explain.html"
rm -rf "$profile"
if grep -E 'CONSOLE|Refused to|Uncaught' "$out/explain.log" >&2; then
  fail "console messages while loading explain.html"
fi
grep -q 'id="dW2"' "$out/explain-dom.html" || fail "explain.html has no dW2 table when rendered"

echo "report_cli_browser_test: ok"
