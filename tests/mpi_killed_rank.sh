#!/usr/bin/env bash
# A rank killed with SIGKILL in the middle of `mpirun -np 3 fcnet train` must end the whole job,
# with a non-zero exit and a message naming the rank; no rank may be left running. The waits below
# are bounds on a hang (a job that would wait for the dead rank for ever), not measures of speed.
# Usage: mpi_killed_rank.sh FCNET_CLI MPIEXEC
set -u
cli=$1
mpiexec=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export ASAN_OPTIONS=detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
  OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_plm_rsh_agent=false \
  OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none

fail() {
  echo "FAIL: $*"
  echo "--- stderr of mpirun:"
  cat "$dir/err"
  exit 1
}

# More epochs than any machine finishes before the kill: the job ends by the kill (or the timeout).
timeout 300 "$mpiexec" -np 3 "$cli" train --data fashion-mnist --hidden 64 --epochs 100000 \
  --batch 32 --threads 1 --test-data none --out "$dir/m.safetensors" >"$dir/out" 2>"$dir/err" &
launcher=$!

# The ranks are the children of mpirun (itself the child of timeout); each one's environment
# says which rank it is.
rank_pid() {
  local mp p
  mp=$(pgrep -P "$launcher" | head -n 1)
  [ -n "$mp" ] || return
  for p in $(pgrep -P "$mp"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      echo "$p"
      return
    fi
  done
}

# Wait until rank 0 has logged the start of training (every rank has then loaded its share).
for _ in $(seq 600); do
  grep -q "^training " "$dir/err" && break
  kill -0 $launcher 2>/dev/null || fail "the job ended before training started"
  sleep 0.1
done
grep -q "^training " "$dir/err" || fail "training did not start within 60 s"
sleep 1
victim=$(rank_pid 1)
[ -n "$victim" ] || fail "rank 1 not found"
pids=$(for r in 0 2; do rank_pid $r; done)
[ "$(wc -w <<<"$pids")" -eq 2 ] || fail "ranks 0 and 2 not both found (got: $pids)"
kill -KILL "$victim"
for _ in $(seq 600); do
  kill -0 $launcher 2>/dev/null || break
  sleep 0.1
done
if kill -0 $launcher 2>/dev/null; then
  kill -KILL $launcher $pids 2>/dev/null
  fail "the job was still running 60 s after rank 1 was killed (hung)"
fi
wait $launcher
rc=$?
echo "job ended after rank 1 was killed, exit code $rc"
[ "$rc" -ne 0 ] || fail "exit code 0 after a rank was killed"
[ "$rc" -ne 124 ] || fail "the job ran into its timeout"
grep -q "rank 1" "$dir/err" || fail "no message names rank 1"
# mpirun may return while the ranks it killed are still being torn down: allow a moment.
for p in $pids; do
  for _ in $(seq 50); do
    [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] || break
    sleep 0.1
  done
  if [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
    kill -KILL "$p"
    fail "rank process $p still running 5 s after the job ended"
  fi
done
[ ! -e "$dir/m.safetensors" ] || fail "a model was written"
echo "PASS"
