#!/usr/bin/env bash
# Renders the HTML training report in headless Chromium and checks that it is a working,
# self-contained page: no console errors, no failed or remote loads, every image decodes, every plot
# is in the DOM with a real size. Leaves report.html, dom.html and report.png in OUT_DIR.
#
# Usage: report_browser_test.sh SAMPLE_EXE OUT_DIR     (SAMPLE_EXE writes the report)
#        report_browser_test.sh --html FILE OUT_DIR    (check an existing report file)
# Chromium is /usr/bin/chromium (scripts/install-deps) or $FCNET_CHROMIUM. Without it the test
# fails: a skipped browser test would hide a broken page.
set -euo pipefail

fail() {
  echo "report_browser_test: FAIL: $*" >&2
  exit 1
}

[[ $# -eq 2 || ($# -eq 3 && $1 == --html) ]] || fail "usage: $0 SAMPLE_EXE OUT_DIR | --html FILE OUT_DIR"
out=${*: -1}
rm -rf "$out"
mkdir -p "$out"
report=$out/report.html
if [[ $1 == --html ]]; then
  cp "$2" "$report"
  sample_mode=0
else
  "$1" "$report" || fail "$1 could not write the sample report"
  sample_mode=1
fi
[[ -s $report ]] || fail "no report at $report"

chromium=${FCNET_CHROMIUM:-}
if [[ -z $chromium ]]; then
  chromium=$(command -v chromium || true)
  [[ -z $chromium && -x /usr/bin/chromium ]] && chromium=/usr/bin/chromium
fi
[[ -n $chromium && -x $chromium ]] ||
  fail "chromium not found; install it with scripts/install-deps (or set FCNET_CHROMIUM)"

# 1. The file itself names no remote or external resource and carries no script.
if grep -Eion 'https?://|(src|href)="//|url\(|@import|<script|<link|<iframe|<object|<embed' \
  "$report" | head -5 >"$out/static.txt" && [[ -s $out/static.txt ]]; then
  cat "$out/static.txt" >&2
  fail "the report references an external resource or contains a script"
fi

flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --no-first-run --disable-quic
  "--host-resolver-rules=MAP * ~NOTFOUND" --hide-scrollbars
  --enable-logging=stderr --v=0)

run_chromium() {  # run_chromium LOG ARGS... ; a fresh profile per run
  local log=$1 profile
  shift
  profile=$(mktemp -d "$out/profile.XXXXXX")
  local rc=0
  timeout 120 "$chromium" "${flags[@]}" "--user-data-dir=$profile" "$@" 2>"$log" || rc=$?
  rm -rf "$profile"
  [[ $rc -eq 0 ]] || { tail -20 "$log" >&2; fail "chromium exited with status $rc"; }
}

no_console_messages() {  # the page itself logs nothing, so any console line is a problem
  if grep -E 'CONSOLE|Refused to|Uncaught' "$1" >&2; then fail "console messages in $1"; fi
}

# 2. A copy with a probe script placed before the page's Content-Security-Policy (a policy only
# governs what follows it). The probe records errors of any kind and, after load, writes what it
# found into the DOM, which --dump-dom returns.
probe=$out/probe.html
probe_js='<script>
(function () {
  var problems = [];
  function note(kind, text) { problems.push(kind + ": " + text); }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window) note("load", String(t.src || t.href || t.tagName).slice(0, 100));
    else note("script", e.message);
  }, true);
  document.addEventListener("securitypolicyviolation", function (e) {
    note("csp", e.violatedDirective + " " + e.blockedURI);
  });
  ["error", "warn"].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      note("console." + level, Array.prototype.join.call(arguments, " "));
      original.apply(console, arguments);
    };
  });
  window.addEventListener("load", function () {
    var images = document.images, broken = 0, tiny = 0, i;
    for (i = 0; i < images.length; i++)
      if (!images[i].complete || images[i].naturalWidth === 0) broken++;
    var plots = document.querySelectorAll("svg.chart, svg.heatmap");
    for (i = 0; i < plots.length; i++) {
      var box = plots[i].getBoundingClientRect();
      if (box.width < 200 || box.height < 120) tiny++;
    }
    var r = document.createElement("pre");
    r.id = "probe-result";
    r.setAttribute("data-problems", problems.length);
    r.setAttribute("data-images", images.length);
    r.setAttribute("data-broken-images", broken);
    r.setAttribute("data-plots", plots.length);
    r.setAttribute("data-tiny-plots", tiny);
    r.setAttribute("data-resources", performance.getEntriesByType("resource").length);
    r.textContent = problems.join("\n");
    document.body.appendChild(r);
  });
})();
</script>'
PROBE="$probe_js" awk '{ print } /^<head>$/ && !done { print ENVIRON["PROBE"]; done = 1 }' \
  "$report" >"$probe"
grep -q 'id = "probe-result"' "$probe" || fail "no <head> line to put the probe after"

dom=$out/dom.html
run_chromium "$out/probe.log" --dump-dom "file://$(realpath "$probe")" >"$dom"
no_console_messages "$out/probe.log"
result=$(grep -o '<pre id="probe-result"[^>]*>' "$dom" || true)
[[ -n $result ]] || fail "the probe did not report (page did not finish loading?)"
echo "report_browser_test: probe: $result"
attr() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$result"; }
if [[ $(attr data-problems) != 0 ]]; then
  sed -n '/<pre id="probe-result"/,/<\/pre>/p' "$dom" >&2
  fail "$(attr data-problems) errors while loading the page"
fi
[[ $(attr data-broken-images) == 0 ]] || fail "$(attr data-broken-images) images did not decode"
[[ $(attr data-resources) == 0 ]] || fail "the page loaded $(attr data-resources) resources"
[[ $(attr data-tiny-plots) == 0 ]] || fail "$(attr data-tiny-plots) plots are (almost) empty"

# 3. The sections and plots are in the rendered DOM.
for id in summary curves schedule confusion norms first-layer misclassified epochs \
  chart-loss chart-accuracy chart-lr chart-weight-norms chart-grad-norms confusion-matrix \
  per-class; do
  grep -q "id=\"$id\"" "$dom" || fail "no element with id=\"$id\" in the rendered page"
done
if ((sample_mode)); then
  # The sample has validation data, 3 layers, 64 first-layer units and 48 misclassified images.
  for cls in 'series train' 'series val' 'series layer layer-3'; do
    grep -q "<g class=\"$cls\">" "$dom" || fail "no series <g class=\"$cls\"> in the rendered page"
  done
  [[ $(attr data-plots) == 7 ]] || fail "$(attr data-plots) plots, expected 6 charts + 1 heat map"
  [[ $(attr data-images) == 112 ]] || fail "$(attr data-images) images, expected 64 + 48"
  # 2 + 2 lines (loss, accuracy), 1 + 1 (learning rate, time), 3 + 3 (norms of 3 layers).
  lines=$(grep -o '<path class="line" d="M' "$dom" | wc -l)
  [[ $lines == 12 ]] || fail "$lines line paths in the charts, expected 12"
  [[ $(grep -o '<rect ' "$dom" | wc -l) -ge 100 ]] || fail "the heat map lacks its 10x10 cells"
fi

# 4. The page as shipped (no probe): no console output at all, and a screenshot to look at.
shot=$out/report.png
run_chromium "$out/screenshot.log" "--screenshot=$shot" --window-size=1280,2400 \
  "file://$(realpath "$report")"
no_console_messages "$out/screenshot.log"
[[ -s $shot ]] || fail "no screenshot written"
[[ $(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
  fail "the screenshot is not a PNG"
size=$(stat -c %s "$shot")
((size > 60000)) || fail "the screenshot is only $size bytes: a blank page?"

echo "report_browser_test: ok; screenshot $shot ($size bytes)"
