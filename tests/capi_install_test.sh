#!/usr/bin/env bash
# The installed tree works on its own: `cmake --install` the already-built tree into a temporary
# prefix, build examples/c/predict.c with plain cc and `pkg-config --cflags --libs fcnet`, and
# examples/cpp with a fresh CMake project that finds the package (CMAKE_PREFIX_PATH), against that
# prefix only; train a small model with the installed CLI and check that both programs print the
# labels and probabilities `fcnet predict --output labels,probs` prints for the same rows (to 1e-5:
# the CLI writes 6 significant digits). Every file goes under WORK (the install manifest that
# cmake --install writes into the build folder is put back as it was).
# usage: capi_install_test.sh BUILD_DIR SOURCE_DIR WORK CXX_COMPILER [EXTRA_FLAGS]
# (EXTRA_FLAGS: compiler flags for both examples, the -fsanitize ones of a sanitizer build.)
set -euo pipefail
build=$1 src=$2 work=$3 cxx=$4 extra=${5:-}
prefix=$work/prefix

rm -rf "$work"
mkdir -p "$work"
manifest=$build/install_manifest.txt
if [ -e "$manifest" ]; then cp -p "$manifest" "$work/manifest.saved"; fi
restore_manifest() {
  if [ -e "$work/manifest.saved" ]; then mv -f "$work/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
}
trap restore_manifest EXIT
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
restore_manifest
trap - EXIT

libdir=$(dirname "$(find "$prefix" -name fcnet.pc -path '*/pkgconfig/*')")/..
libdir=$(cd "$libdir" && pwd)
fail() { echo "capi_install: $*" >&2; exit 1; }

# The library: libfcnet.so → libfcnet.so.SOVERSION → libfcnet.so.MAJOR.MINOR.PATCH (SOVERSION:
# MAJOR.MINOR before 1.0, then MAJOR), exporting only the C API.
version=$(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --modversion fcnet)
[ "$("$prefix/bin/fcnet" --version)" = "fcnet $version" ] || fail "fcnet --version is not $version"
major=${version%%.*}
soversion=$major
[ "$major" = 0 ] && soversion=$(echo "$version" | cut -d. -f1,2)
[ "$(readlink "$libdir/libfcnet.so")" = "libfcnet.so.$soversion" ] || fail "libfcnet.so link"
[ "$(readlink "$libdir/libfcnet.so.$soversion")" = "libfcnet.so.$version" ] || fail "soname link"
exports=$(nm -D --defined-only "$libdir/libfcnet.so" | awk '$2 != "A" {print $3}')
[ -n "$exports" ] || fail "libfcnet.so exports nothing"
others=$(echo "$exports" | grep -v '^fcnet_' || true)
[ -z "$others" ] || fail "libfcnet.so exports more than fcnet_*: $(echo "$others" | head -5)"

# A small table: four numeric columns, three named classes.
awk 'BEGIN {
  s = 12345; print "a,b,c,d,label"
  for (i = 0; i < 240; ++i) {
    for (j = 0; j < 4; ++j) { s = (s * 1103515245 + 12345) % 2147483648; v[j] = s / 2147483648 * 4 - 2 }
    k = (v[0] + 0.5 * v[1] > 0.4) ? "high" : ((v[2] - v[3] > 0) ? "mid" : "low")
    printf "%.7f,%.7f,%.7f,%.7f,%s\n", v[0], v[1], v[2], v[3], k
  }
}' >"$work/train.csv"
head -1 "$work/train.csv" | cut -d, -f1-4 >"$work/rows.csv"
awk -F, 'NR > 1 && NR % 8 == 0 {print $1 "," $2 "," $3 "," $4}' "$work/train.csv" >>"$work/rows.csv"
rows=$(($(wc -l <"$work/rows.csv") - 1))

"$prefix/bin/fcnet" train --data "$work/train.csv" --test-data none --hidden 16 --epochs 2 \
  --threads 1 --out "$work/model.safetensors" 2>"$work/train.log"
"$prefix/bin/fcnet" predict --model "$work/model.safetensors" --data "$work/rows.csv" \
  --output labels,probs >"$work/cli.csv"

# C: plain cc and pkg-config, nothing of the build tree.
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $extra "$src/examples/c/predict.c" \
  $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs fcnet) -o "$work/predict_c"
LD_LIBRARY_PATH=$libdir "$work/predict_c" "$work/model.safetensors" "$work/rows.csv" >"$work/c.csv"
loaded=$(LD_LIBRARY_PATH=$libdir ldd "$work/predict_c")
[[ $loaded == *"=> $libdir/libfcnet.so.$soversion "* ]] || fail "predict_c does not load $libdir/libfcnet.so"

# C++: a fresh CMake project with find_package(fcnet).
cmake -S "$src/examples/cpp" -B "$work/cpp-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror $extra" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/cpp-configure.log"
found=$(sed -n 's/^fcnet_DIR:PATH=//p' "$work/cpp-build/CMakeCache.txt")
[ "$found" = "$libdir/cmake/fcnet" ] || fail "find_package(fcnet) found $found, not the prefix's"
cmake --build "$work/cpp-build" >"$work/cpp-build.log"
tail -n +2 "$work/rows.csv" | "$work/cpp-build/fcnet_predict_cpp" "$work/model.safetensors" \
  >"$work/cpp.csv" 2>"$work/cpp.err"
[ "$(cat "$work/cpp.err")" = "inputs: a b c d" ] || fail "the C++ example lists: $(cat "$work/cpp.err")"

compare() {  # compare NAME FILE: the same header and labels as the CLI, probabilities to 1e-5
  awk -F, -v name="$1" -v rows="$rows" '
    NR == FNR { want[FNR] = $0; n = FNR; next }
    FNR == 1 { if ($0 != want[1]) { print name ": header " $0 " != " want[1]; bad = 1 }; next }
    {
      split(want[FNR], w, ",")
      if ($1 != w[1]) { print name ": row " FNR - 1 " label " $1 " != " w[1]; bad = 1 }
      for (j = 2; j <= NF; ++j) {
        d = $j - w[j]; if (d < 0) d = -d
        if (d > 1e-5) { print name ": row " FNR - 1 " prob " j - 1 " " $j " != " w[j]; bad = 1 }
      }
      labels[$1] = 1; got = FNR - 1
    }
    END {
      if (got != rows || n - 1 != rows) { print name ": " got " rows, the CLI " n - 1 ", expected " rows; bad = 1 }
      k = 0; for (l in labels) ++k
      if (k < 2) { print name ": only " k " distinct label"; bad = 1 }
      exit bad
    }' "$work/cli.csv" "$2" || fail "$1 differs from fcnet predict"
}
compare "C example" "$work/c.csv"
compare "C++ example" "$work/cpp.csv"
echo "capi_install: $rows rows agree (C, C++ and fcnet predict), version $version"
