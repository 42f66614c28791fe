# Thin front over CMake presets; every target does its own set-up on a fresh machine.
.PHONY: all deps build test demo build-cuda asan test-asan test-portable fuzz format bench clean

JOBS ?= $(shell nproc)

all: build

deps:
	scripts/install-deps

build: deps
	cmake --preset default >/dev/null
	cmake --build --preset default -j $(JOBS)

test: build
	ctest --preset default -j $(JOBS)

# The whole suite under ASan+UBSan in build-asan/, except the headless-browser test. CI (.ci/run)
# runs it after `make test`; it is kept out of `make test` itself because its build takes about
# 20 minutes on 2 cores (see docs/ROBUSTNESS.md).

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

test-asan: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	ctest --preset asan -j $(JOBS) -LE browser

# The Python module as `pip install .` builds it for any x86-64 (FCNET_NATIVE=OFF: no
# -march=native), into build-pip/portable/, and the Python suite run on it. CI (.ci/run) runs it.
test-portable: build
	rm -rf build-pip/portable
	FCNET_CMAKE_ARGS=-DFCNET_NATIVE=OFF CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) /usr/bin/python3 -m pip \
	  install --quiet --no-build-isolation --no-deps --no-index --target build-pip/portable .
	grep -q '^FCNET_NATIVE:BOOL=OFF' build-pip/cmake/CMakeCache.txt
	PYTHONPATH=$(CURDIR)/build-pip/portable FCNET_CLI=$(CURDIR)/build/bin/fcnet \
	  FCNET_SOURCE_DIR=$(CURDIR) /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python

# libFuzzer targets (clang) in build-fuzz/, each run for FUZZ_SECONDS on a working corpus seeded
# from fuzz/corpus/<target>/; findings land in fuzz-artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= idx gzip csv npy safetensors
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DFCNET_FUZZ=ON -DFCNET_SANITIZE=ON -DFCNET_BUILD_TESTS=OFF -DFCNET_BUILD_BENCH=OFF \
	  -DFCNET_PYTHON=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	mkdir -p fuzz-artifacts
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS)s"; \
	  ./build-fuzz/bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=fuzz-artifacts/$$t- \
	    build-fuzz/corpus/$$t fuzz/corpus/$$t; \
	done

demo: build
	./build/bin/fcnet train

build-cuda: deps
	cmake --preset cuda >/dev/null
	cmake --build --preset cuda -j $(JOBS)

format:
	git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' | xargs clang-format -i

clean:
	rm -rf build build-*
