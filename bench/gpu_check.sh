#!/usr/bin/env bash
# GPU check of fcnet's CUDA backend, in one run of under 8 minutes, on a machine with an NVIDIA GPU
# (compute capability 9.0 or newer), nvcc 13, CMake, Ninja, PyTorch 2.x with CUDA, and no network.
#
#   1. builds build-cuda/ (cmake --preset cuda, without the Python module and benchmarks);
#   2. runs the CUDA tests (build-cuda/bin/fcnet_tests --gtest_filter='Cuda*', class and example
#      weights and thread-ranks sharing the GPU among them); on a GPU none may be skipped; prints
#      which cuBLASLt epilogues each precision got; then, through the CLI, a device run stopped by
#      SIGINT and resumed from its checkpoint must end with the tensors of an uninterrupted run
#      (fp32 and bf16), and `mpirun -np 2 fcnet train --device cuda` (two ranks on the one GPU,
#      summing through the host) must end close to one process (needs mpirun and an fcnet built
#      with MPI; a packed build has no MPI, and the check then says it did not run);
#   3. prints fcnet vs PyTorch (eager and whole-step CUDA graph, bench/peers/torch_cuda.py) side by
#      side: 784-256-10 at batch 64/256/1024, 784-1024-1024-10 at 128/1024, 784-4096-4096-10 at
#      4096, each in fp32, tf32 and bf16; Adam, constant learning rate, Fashion-MNIST;
#   4. compute-sanitizer memcheck on the CUDA tests (quick mode) and on short training runs, with
#      the time that is left.
#
# Where the GPU machine lacks fcnet's build dependencies (oneDNN, CLI11, nlohmann-json, GoogleTest),
# pack a build here first with bench/gpu_pack.sh: when .gpu/ is there, step 1 uses its binaries
# and libraries instead of building, and takes the CUDA libraries from the GPU machine.
#
# Fashion-MNIST is read from the working tree: $FCNET_FASHION_MNIST_DIR, else .gpu/data, else
# ./.data/fashion-mnist (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz as in Debian's
# dataset-fashion-mnist). With $OUT set, the logs are left in $OUT/gpu_check_logs.tgz.
# FCNET_GPU_CHECK_NCU="1024,1024:128:tf32 ..." adds Nsight Compute kernel times of a few steady-
# state steps of those networks (hidden:batch:precision), before step 4. Environment:
# FCNET_GPU_CHECK_BUDGET (seconds, default 450), PYTHON (default python3), JOBS (default nproc).
# On an H100 with a packed build the whole check took about 150 s.
# Exit status: 0 when the build, the tests and memcheck passed; the benchmark only reports.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
START=$SECONDS
BUDGET=${FCNET_GPU_CHECK_BUDGET:-450}
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc)}
TMP=$(mktemp -d)
keep_logs() {
  [ -n "${OUT:-}" ] && [ -d "$OUT" ] && tar czf "$OUT/gpu_check_logs.tgz" -C "$TMP" \
    --exclude=./lib --exclude='*.safetensors' . 2>/dev/null
  rm -rf "$TMP"
}
trap keep_logs EXIT
FAILED=()
NOT_RUN=()  # checks this machine cannot run (reported, not failures)

elapsed() { echo $((SECONDS - START)); }
left() { echo $((BUDGET - (SECONDS - START))); }
# tmo WANT [RESERVE]: a timeout of WANT seconds, shortened so that RESERVE seconds of the budget
# stay for what follows (at least 5).
tmo() {
  local t=$(($(left) - ${2:-30}))
  [ "$t" -gt "$1" ] && t=$1
  [ "$t" -lt 5 ] && t=5
  echo "$t"
}
section() { printf '\n=== %s  [%ss]\n' "$1" "$(elapsed)"; }

PACKED=$ROOT/.gpu
DATA=$ROOT/.data/fashion-mnist
[ -f "$PACKED/data/train-images-idx3-ubyte.gz" ] && DATA=$PACKED/data
DATA=${FCNET_FASHION_MNIST_DIR:-$DATA}
export FCNET_FASHION_MNIST_DIR=$DATA

section "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader ||
  echo "nvidia-smi: not available"
nvcc --version | tail -n 2
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available())' || echo "PyTorch: not importable with $PYTHON"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz; do
  if [ ! -f "$DATA/$f" ]; then
    echo "missing $DATA/$f: copy Debian's /usr/share/datasets/fashion-mnist/*.gz there" \
      "(or set FCNET_FASHION_MNIST_DIR)"
    exit 1
  fi
done

# The directory holding a library that the dynamic loader cannot find by itself: the CUDA
# toolkit's, or the one inside PyTorch's nvidia-* packages.
find_lib() {
  local hit
  hit=$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }')
  [ -n "$hit" ] && { dirname "$hit"; return; }
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
    /usr/local/cuda-*/lib64; do
    [ -e "$d/$1" ] && { echo "$d"; return; }
  done
  hit=$(timeout 20 find /usr /opt -xdev -name "$1" -print 2>/dev/null | head -n 1)
  [ -n "$hit" ] && dirname "$hit"
}

if [ -x "$PACKED/bin/fcnet" ] && [ -x "$PACKED/bin/fcnet_tests" ]; then
  section "packed build (.gpu/, from bench/gpu_pack.sh)"
  mkdir -p "$TMP/lib"
  cp "$PACKED"/lib/*.so.* "$TMP/lib/" 2>/dev/null
  for z in "$PACKED"/lib/*.xz; do xz -dc "$z" >"$TMP/lib/$(basename "$z" .xz)"; done
  LIBS=$TMP/lib
  for l in libcublasLt.so.13 libcudart.so.13; do
    d=$(find_lib "$l")
    if [ -n "$d" ]; then LIBS=$LIBS:$d; else echo "$l: not found on this machine"; fi
  done
  export LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  FCNET=$PACKED/bin/fcnet
  TESTS=$PACKED/bin/fcnet_tests
  if ldd "$FCNET" | grep "not found"; then
    echo "the packed fcnet cannot be loaded here"
    exit 1
  fi
  export FCNET_TEST_CLI=$FCNET
else
  section "build (build-cuda/)"
  if ! cmake --preset cuda -DFCNET_PYTHON=OFF -DFCNET_BUILD_BENCH=OFF >"$TMP/configure.log" 2>&1; then
    tail -n 40 "$TMP/configure.log"
    echo "configure failed (missing dependency? scripts/install-deps lists them)"
    exit 1
  fi
  if ! timeout "$(tmo 270 150)" cmake --build --preset cuda -j "$JOBS" >"$TMP/build.log" 2>&1; then
    grep -E "error|Error" "$TMP/build.log" | head -n 40
    tail -n 20 "$TMP/build.log"
    echo "build failed"
    exit 1
  fi
  echo "built in $(elapsed)s: $(ls build-cuda/bin)"
  FCNET=$ROOT/build-cuda/bin/fcnet
  TESTS=$ROOT/build-cuda/bin/fcnet_tests
fi

section "devices"
"$FCNET" info --devices || FAILED+=("info --devices")

section "CUDA tests"
timeout "$(tmo 150 60)" "$TESTS" --gtest_filter='Cuda*' --gtest_color=no >"$TMP/tests.log" 2>&1
rc=$?
grep -E "^\[ +(OK|FAILED|SKIPPED) +\]|^\[  PASSED|^\[  FAILED|Failure|plan " "$TMP/tests.log" | head -n 80
if [ $rc -ne 0 ]; then
  FAILED+=("CUDA tests (exit $rc)")
  tail -n 30 "$TMP/tests.log"
fi
if grep -q "^\[  SKIPPED \] CudaGpu" "$TMP/tests.log"; then
  FAILED+=("CUDA tests skipped on a GPU machine")
  grep -m 3 "no usable GPU" "$TMP/tests.log"
fi

section "CLI: a run stopped by SIGINT and resumed ends with the uninterrupted run's weights"
# Tensor bytes of two model files compared (the metadata holds timings, so it differs).
same_tensors() {
  "$PYTHON" - "$1" "$2" <<'PY'
import json, struct, sys
def tensors(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
sys.exit(0 if a == b else 1)
PY
}
for prec in fp32 bf16; do
  args=(train -q --device cuda --precision "$prec" --hidden 256 --epochs 20 --dropout 0.2
        --val-split 0.1 --test-data none --threads 1)
  timeout "$(tmo 60 200)" "$FCNET" "${args[@]}" --out "$TMP/full-$prec.safetensors" >"$TMP/r.log" 2>&1 ||
    { FAILED+=("uninterrupted cuda run $prec"); tail -n 5 "$TMP/r.log"; continue; }
  timeout "$(tmo 60 200)" "$FCNET" "${args[@]}" --checkpoint "$TMP/ck-$prec.safetensors" \
    --out "$TMP/part-$prec.safetensors" >"$TMP/r.log" 2>&1 &
  pid=$!
  sleep 3
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  if [ $rc -eq 130 ] && [ -f "$TMP/ck-$prec.safetensors" ]; then
    timeout "$(tmo 60 200)" "$FCNET" train -q --resume "$TMP/ck-$prec.safetensors" \
      --out "$TMP/resumed-$prec.safetensors" >>"$TMP/r.log" 2>&1 &&
      same_tensors "$TMP/full-$prec.safetensors" "$TMP/resumed-$prec.safetensors" &&
      echo "$prec: interrupted (exit 130), resumed, weights identical" ||
      { FAILED+=("cuda resume $prec"); tail -n 5 "$TMP/r.log"; }
  elif [ $rc -eq 0 ]; then
    echo "$prec: the run ended before the signal (3 s); nothing to resume"
  elif [ $rc -eq 130 ]; then
    echo "$prec: the signal came before training started (no checkpoint); nothing to resume"
  else
    FAILED+=("cuda interrupted run $prec (exit $rc)")
    tail -n 5 "$TMP/r.log"
  fi
done

section "CLI: mpirun -np 2 fcnet train --device cuda (two ranks on one GPU) against one process"
MPIRUN=$(command -v mpirun || true)
if [ -z "$MPIRUN" ]; then
  echo "mpirun not found: not run"
  NOT_RUN+=("2-rank CUDA run (no mpirun)")
elif ! ldd "$FCNET" | grep -q libmpi; then
  echo "$FCNET was built without MPI (as a packed build is): not run"
  NOT_RUN+=("2-rank CUDA run (fcnet without MPI)")
else
  args=(train --device cuda --hidden 128 --batch 128 --epochs 2 --max-steps 80 --val-split 0.1
        --test-data none --dropout 0 --threads 1 --seed 4 --json)
  if ! timeout "$(tmo 60 120)" "$FCNET" "${args[@]}" --out "$TMP/one.safetensors" \
    >"$TMP/one.json" 2>"$TMP/one.log"; then
    FAILED+=("one-process cuda run for the 2-rank comparison")
    tail -n 5 "$TMP/one.log"
  elif ! OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout "$(tmo 90 100)" \
    "$MPIRUN" -np 2 --oversubscribe --bind-to none "$FCNET" "${args[@]}" \
    --out "$TMP/two.safetensors" >"$TMP/two.json" 2>"$TMP/two.log"; then
    FAILED+=("mpirun -np 2 fcnet train --device cuda")
    tail -n 10 "$TMP/two.log"
  else
    # Train losses within 1e-4 (relative) epoch by epoch, weights within 1e-3 of the largest.
    "$PYTHON" - "$TMP/one.json" "$TMP/two.json" "$TMP/one.safetensors" "$TMP/two.safetensors" <<'PY' ||
import array, json, struct, sys
one, two = (json.load(open(p)) for p in sys.argv[1:3])
def tensors(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: array.array("f", b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in h.items()}
a, b = tensors(sys.argv[3]), tensors(sys.argv[4])
big = max(abs(x) for t in a.values() for x in t)
diff = max(abs(x - y) for k in a for x, y in zip(a[k], b[k]))
la = [e["train_loss"] for e in one["epochs"]]; lb = [e["train_loss"] for e in two["epochs"]]
print("ranks", two.get("ranks"), "train loss one", la, "two", lb, "max weight diff", diff, "of", big)
ok = two.get("ranks") == 2 and len(la) == len(lb) and a.keys() == b.keys()
ok = ok and all(abs(x - y) <= 1e-4 * abs(x) for x, y in zip(la, lb)) and diff <= 1e-3 * big
sys.exit(0 if ok else 1)
PY
      FAILED+=("2 ranks on one GPU differ from one process")
  fi
fi

section "fcnet vs PyTorch: examples/s (higher is better), Adam, constant lr, Fashion-MNIST"
CONFIGS=("256:64" "256:256" "256:1024" "1024,1024:128" "1024,1024:1024" "4096,4096:4096")
PRECISIONS=(fp32 tf32 bf16)
: >"$TMP/fcnet.jsonl"
: >"$TMP/torch.jsonl"
for cfg in "${CONFIGS[@]}"; do
  hidden=${cfg%%:*}
  batch=${cfg##*:}
  arch="784-${hidden//,/-}-10"
  if [ "$(left)" -lt 90 ]; then
    echo "skipping $arch b$batch and later: time budget"
    break
  fi
  # Small steps need more epochs for a stable rate; the first epoch (plans, graph capture) is
  # left out of the rate.
  epochs=4
  [ "$batch" -ge 1024 ] && epochs=3
  for prec in "${PRECISIONS[@]}"; do
    if timeout "$(tmo 45 60)" "$FCNET" train --device cuda --precision "$prec" --hidden "$hidden" \
      --batch "$batch" --epochs "$epochs" --optimizer adam --lr 1e-3 --schedule constant \
      --test-data none --quiet --json --out "$TMP/m.safetensors" >"$TMP/run.json" 2>"$TMP/run.err"; then
      "$PYTHON" - "$arch" "$batch" "$prec" "$TMP/run.json" >>"$TMP/fcnet.jsonl" <<'EOF'
import json, sys
arch, batch, prec, path = sys.argv[1:]
r = json.load(open(path))
later = r["epochs"][1:] or r["epochs"]
best = max(e["examples"] / e["seconds"] for e in later)
print(json.dumps({"arch": arch, "batch": int(batch), "precision": prec,
                  "examples_per_second": best, "loss": r["epochs"][-1]["train_loss"]}))
EOF
    else
      echo "fcnet $arch b$batch $prec failed: $(tail -n 2 "$TMP/run.err")"
    fi
  done
  timeout "$(tmo 90 40)" "$PYTHON" bench/peers/torch_cuda.py --data "$DATA" --config "$arch:$batch" \
    --precision fp32,tf32,bf16 --repeats 2 >>"$TMP/torch.jsonl" 2>"$TMP/torch.err" ||
    echo "PyTorch $arch b$batch failed: $(tail -n 3 "$TMP/torch.err")"
done
"$PYTHON" - "$TMP/fcnet.jsonl" "$TMP/torch.jsonl" <<'EOF'
import json, sys
def rows(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out
fc = {(r["arch"], r["batch"], r["precision"]): r for r in rows(sys.argv[1])}
tr = {}
for r in rows(sys.argv[2]):
    if "arch" in r:
        tr[(r["arch"], r["batch"], r["precision"], r["mode"])] = r
    else:
        print("peer:", r)
hdr = ("network", "batch", "prec", "fcnet", "torch eager", "torch graph", "vs eager",
       "vs graph", "fcnet loss", "torch loss")
print("%-18s %6s %5s %12s %12s %12s %9s %9s %10s %10s" % hdr)
keys = sorted({k for k in fc} | {k[:3] for k in tr}, key=lambda k: (len(k[0]), k[0], k[1], k[2]))
def f(v):
    return "%12.0f" % v if v else "%12s" % "-"
for k in keys:
    a = fc.get(k, {}).get("examples_per_second")
    e = tr.get(k + ("eager",), {}).get("examples_per_second")
    g = tr.get(k + ("graph",), {}).get("examples_per_second")
    re = "%8.2fx" % (a / e) if a and e else "%9s" % "-"
    rg = "%8.2fx" % (a / g) if a and g else "%9s" % "-"
    fl = fc.get(k, {}).get("loss")
    tl = tr.get(k + ("graph",), {}).get("loss")
    print("%-18s %6d %5s %s %s %s %s %s %10s %10s" % (k[0], k[1], k[2], f(a), f(e), f(g), re, rg,
          "%.4f" % fl if fl is not None else "-", "%.4f" % tl if tl is not None else "-"))
print("targets: fcnet >= 2x the PyTorch CUDA graph on 784-256-10 b256 and 784-1024-1024-10 b128")
EOF

if [ -n "${FCNET_GPU_CHECK_NCU:-}" ] && command -v ncu >/dev/null && [ "$(left)" -gt 100 ]; then
  # Kernel times of steady-state steps (graph nodes one by one): where a step's time goes.
  for spec in $FCNET_GPU_CHECK_NCU; do  # e.g. "1024,1024:128:tf32 256:256:fp32"
    IFS=: read -r hidden batch prec <<<"$spec"
    csv=$TMP/ncu_${hidden//,/-}_${batch}_$prec.csv
    section "kernel times, 784-${hidden//,/-}-10 b$batch $prec (ncu, steady-state steps)"
    timeout "$(tmo 60 40)" ncu --csv --metrics gpu__time_duration.sum --graph-profiling node \
      --launch-skip 2000 --launch-count 40 "$FCNET" train --device cuda --precision "$prec" \
      --hidden "$hidden" --batch "$batch" --epochs 1 --max-steps 400 --optimizer adam \
      --schedule constant --test-data none --quiet --out "$TMP/n.safetensors" \
      >"$csv" 2>"$TMP/ncu.err" || tail -n 5 "$TMP/ncu.err"
    "$PYTHON" - "$csv" <<'EOF'
import csv, sys
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
if not rows:
    sys.exit("no kernel rows")
h = rows[0]
ix = {k: h.index(k) for k in ("Kernel Name", "Grid Size", "Block Size", "Metric Value", "Metric Unit")}
total = 0.0
for r in rows[1:]:
    v = float(r[ix["Metric Value"]].replace(",", ""))
    unit = r[ix["Metric Unit"]]
    v = v / 1000 if unit in ("ns", "nsecond") else v * 1000 if unit in ("ms", "msecond") else v
    total += v
    print("%8.2f us  %-14s %-12s %s" % (v, r[ix["Grid Size"]], r[ix["Block Size"]], r[ix["Kernel Name"]][:90]))
print("%8.2f us  total of %d kernels" % (total, len(rows) - 1))
EOF
  done
fi

section "compute-sanitizer memcheck"
SANITIZER=$(command -v compute-sanitizer || true)
[ -z "$SANITIZER" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ] && SANITIZER=/usr/local/cuda/bin/compute-sanitizer
if [ -z "$SANITIZER" ]; then
  echo "compute-sanitizer not found: memcheck not run"
  FAILED+=("memcheck not run")
elif [ "$(left)" -lt 45 ]; then
  echo "memcheck skipped: $(left)s left of the budget"
  FAILED+=("memcheck not run (time)")
else
  t=$(tmo 200 25)
  FCNET_CUDA_TEST_QUICK=1 timeout "$t" "$SANITIZER" --tool memcheck --error-exitcode 9 \
    --leak-check no "$TESTS" --gtest_filter='CudaGpu.*' --gtest_color=no >"$TMP/memcheck.log" 2>&1
  rc=$?
  grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED)|Invalid|out of bounds" "$TMP/memcheck.log" | head -n 20
  case $rc in
    0) echo "memcheck on the tests: clean" ;;
    124) echo "memcheck on the tests: stopped by the time limit ($t s)"; FAILED+=("memcheck timed out") ;;
    *) echo "memcheck on the tests: exit $rc"; tail -n 30 "$TMP/memcheck.log"; FAILED+=("memcheck on the tests") ;;
  esac
  for prec in fp32 bf16; do
    [ "$(left)" -lt 20 ] && break
    timeout "$(tmo 60 10)" "$SANITIZER" --tool memcheck --error-exitcode 9 --leak-check no \
      "$FCNET" train --device cuda --precision "$prec" --hidden 96,40 --batch 100 --epochs 2 \
      --max-steps 30 --val-split 0.01 --dropout 0.2 --test-data none --quiet \
      --out "$TMP/mc.safetensors" >"$TMP/mc.log" 2>&1
    rc=$?
    grep -E "ERROR SUMMARY" "$TMP/mc.log" | head -n 2
    [ $rc -eq 0 ] && echo "memcheck on training ($prec): clean" ||
      { echo "memcheck on training ($prec): exit $rc"; tail -n 20 "$TMP/mc.log"; FAILED+=("memcheck on training $prec"); }
  done
fi

section "summary"
[ ${#NOT_RUN[@]} -gt 0 ] && printf 'not run: %s\n' "${NOT_RUN[@]}"
if [ ${#FAILED[@]} -eq 0 ]; then
  echo "all checks passed in $(elapsed)s"
  exit 0
fi
printf 'failed: %s\n' "${FAILED[@]}"
echo "(in $(elapsed)s)"
exit 1
