#!/usr/bin/env bash
# Runs every command of the README's Usage block, in order, in a fresh folder, and checks that each
# succeeds and writes what it names. The CSV and NPY files the block refers to (train.csv,
# test.csv, new.csv, x.npy, y.npy) are generated here; Fashion-MNIST comes from its Debian package.
# Usage: readme_usage_test.sh FCNET_CLI README.md WORK_DIR
set -u
cli=$1
readme=$2
dir=$3
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir" || exit 1

# Three Gaussian blobs in 6 features, with a header; new.csv has no label column.
/usr/bin/python3 - <<'PY' || { echo "FAIL: could not generate the data files"; exit 1; }
import numpy as np
rng = np.random.default_rng(0)
cols = ["f%d" % i for i in range(6)]
def blobs(n):
    y = rng.integers(0, 3, n)
    return rng.normal(size=(n, 6)) + 2.0 * y[:, None], y
for name, n in (("train", 300), ("test", 100)):
    X, y = blobs(n)
    np.savetxt(name + ".csv", np.column_stack([y, X]), delimiter=",", header=",".join(["label"] + cols),
               comments="", fmt="%.6g")
X, y = blobs(50)
np.savetxt("new.csv", X, delimiter=",", header=",".join(cols), comments="", fmt="%.6g")
np.save("x.npy", X.astype(np.float32))
np.save("y.npy", y.astype(np.int64))
PY

# The lines of the first sh block after "## Usage", comments removed.
mapfile -t commands < <(awk '/^## Usage/ {u = 1; next} u && /^```sh/ {b = 1; next} b && /^```/ {exit}
                              b {sub(/[ \t]+#.*$/, ""); if (NF) print}' "$readme")
((${#commands[@]} >= 5)) || { echo "FAIL: found ${#commands[@]} commands in the Usage block of $readme"; exit 1; }

failed=0
for c in "${commands[@]}"; do
  [[ $c == fcnet\ * ]] || { echo "FAIL: not an fcnet command: $c"; failed=1; continue; }
  read -r -a words <<<"${c#fcnet }"
  echo "== fcnet ${words[*]}"
  if ! "$cli" "${words[@]}" >out.txt 2>err.txt </dev/null; then
    echo "FAIL (exit $?): fcnet ${words[*]}"
    tail -n 20 err.txt
    failed=1
    continue
  fi
  # Every file the command was asked to write exists and is not empty.
  for ((i = 0; i < ${#words[@]} - 1; ++i)); do
    case ${words[i]} in
      --out | --report | --grads-out)
        [ -s "${words[i + 1]}" ] || { echo "FAIL: fcnet ${words[*]} did not write ${words[i + 1]}"; failed=1; } ;;
    esac
  done
done
[ -s fcnet-model.safetensors ] || { echo "FAIL: the default model fcnet-model.safetensors was not written"; failed=1; }
((failed == 0)) && echo "PASS: ${#commands[@]} commands"
exit $failed
