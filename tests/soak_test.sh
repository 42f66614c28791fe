#!/usr/bin/env bash
# Soak test of interruptions: trains, and at a random moment kills the run with SIGKILL or
# interrupts it with SIGINT, then resumes from the checkpoint (interrupting resumes too, at random)
# until the run finishes. Every run must end with exit 0, 130 or death by SIGKILL; every file left
# must load; no temporary file may remain; and the finished weights must equal, bit for bit, those
# of a run that was never interrupted (same seed and thread count).
# Usage: soak_test.sh FCNET_CLI WORK_DIR [ITERATIONS] [SEED]
set -u
cli=$1
dir=$2
iterations=${3:-5}
RANDOM=${4:-1}
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir" || exit 1

/usr/bin/python3 - <<'PY' || { echo "FAIL: could not generate the data"; exit 1; }
import numpy as np
rng = np.random.default_rng(0)
y = rng.integers(0, 4, 20000)
X = (rng.normal(size=(20000, 64)) + 0.3 * y[:, None]).astype(np.float32)
np.save("x.npy", X)
np.save("y.npy", y.astype(np.int64))
PY

# Compares the W/b tensors of two model files byte for byte; prints the first that differs.
same_weights() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in h.items() if k[0] in "Wb" and k[1:].isdigit()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
bad = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
print("differ: " + ", ".join(bad) if bad else "same")
sys.exit(1 if bad else 0)
PY
}

train=(train --data x.npy --labels y.npy --test-data none --hidden 256,128 --batch 16 --epochs 5
       --optimizer adam --dropout 0.1 --val-split 0.1 --seed 5 --threads 1 --quiet)
start=$(date +%s%N)
"$cli" "${train[@]}" --out ref.safetensors >ref.log 2>&1 || { echo "FAIL: reference run"; cat ref.log; exit 1; }
# Interruptions are drawn over 1.2 times the length of an uninterrupted run on this machine (at
# least 0.1 s), so they land at every stage whatever its speed; nothing is asserted on time.
span_ms=$((($(date +%s%N) - start) * 12 / 10000000))
((span_ms >= 100)) || span_ms=100

fail() {
  echo "FAIL (iteration $i): $*"
  ls -la
  exit 1
}

kills=0 ints=0 resumes=0
for ((i = 1; i <= iterations; ++i)); do
  rm -f m.safetensors ck.safetensors ./*.tmp-*
  args=("${train[@]}" --out m.safetensors --checkpoint ck.safetensors)
  for ((attempt = 0; ; ++attempt)); do
    ((attempt < 50)) || fail "the run did not finish in 50 attempts"
    "$cli" "${args[@]}" >run.log 2>&1 &
    pid=$!
    # A random moment of the run (or after it has ended).
    ms=$(((RANDOM * 32768 + RANDOM) % span_ms))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    if ((RANDOM % 2)); then
      kill -KILL $pid 2>/dev/null && ((kills++))
    else
      kill -INT $pid 2>/dev/null && ((ints++))
    fi
    wait $pid 2>/dev/null
    rc=$?
    case $rc in
      0) break ;;
      130 | 137) ;;
      *) cat run.log; fail "exit code $rc" ;;
    esac
    # Whatever was left must load.
    for f in m.safetensors ck.safetensors; do
      [ ! -e "$f" ] || "$cli" info --model "$f" >/dev/null 2>info.log || { cat info.log; fail "$f does not load"; }
    done
    if [ -e ck.safetensors ]; then
      args=(train --resume ck.safetensors --quiet)
      ((resumes++))
    else
      args=("${train[@]}" --out m.safetensors --checkpoint ck.safetensors)
    fi
  done
  "$cli" info --model m.safetensors >/dev/null 2>info.log || { cat info.log; fail "the model does not load"; }
  verdict=$(same_weights ref.safetensors m.safetensors) || fail "weights $verdict from the uninterrupted run"
  ls ./*.tmp-* >/dev/null 2>&1 && fail "temporary files left: $(ls ./*.tmp-*)"
done
echo "PASS: $iterations iterations (interrupts drawn over ${span_ms} ms), $kills SIGKILL, $ints SIGINT, $resumes resumes; weights equal the uninterrupted run's"
