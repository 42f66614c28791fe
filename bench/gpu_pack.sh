#!/usr/bin/env bash
# Packs a CUDA build of fcnet into .gpu/ for a GPU machine that lacks fcnet's build dependencies
# (oneDNN, CLI11, nlohmann-json, GoogleTest): bench/gpu_check.sh uses .gpu/ instead of building
# when it is there.
#
#   .gpu/bin/   fcnet and fcnet_tests, built in build-gpu/ for any x86-64 (no -march=native,
#               libstdc++ linked statically, no MPI, NCCL or Python: a GPU check has one GPU,
#               whose ranks sum through the host, and libnccl is too large to pack)
#   .gpu/lib/   libdnnl.so.2 (xz-compressed, unpacked by gpu_check.sh), libgomp.so.1,
#               libOpenCL.so.1 (oneDNN's dependencies); the CUDA libraries come from the GPU machine
#   .gpu/data/  Fashion-MNIST's training files (the benchmark trains on them)
#
# Needs nvcc 13 and the packages of scripts/install-deps. .gpu/ is ignored by git and is under
# 64 MiB, so it can travel with a working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${FCNET_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
cmake -G Ninja -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DFCNET_CUDA=ON -DFCNET_NATIVE=OFF \
  -DFCNET_MPI=OFF -DFCNET_NCCL=OFF -DFCNET_PYTHON=OFF -DFCNET_BUILD_BENCH=OFF -DFCNET_WERROR=ON \
  "-DCMAKE_EXE_LINKER_FLAGS=-static-libstdc++ -static-libgcc" >/dev/null
cmake --build build-gpu --target fcnet_cli fcnet_tests
rm -rf .gpu
mkdir -p .gpu/bin .gpu/lib .gpu/data
cp build-gpu/bin/fcnet build-gpu/bin/fcnet_tests .gpu/bin/
strip .gpu/bin/fcnet .gpu/bin/fcnet_tests
lib() { readlink -f "$(ldconfig -p | awk -v n="$1" '$1 == n { print $NF; exit }')"; }
xz -T2 -6 -c "$(lib libdnnl.so.2)" >.gpu/lib/libdnnl.so.2.xz
cp "$(lib libgomp.so.1)" .gpu/lib/libgomp.so.1
cp "$(lib libOpenCL.so.1)" .gpu/lib/libOpenCL.so.1
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz; do
  cp "$DATA/$f" .gpu/data/
done
du -sh .gpu
