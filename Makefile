# Thin front over CMake presets; every target does its own set-up on a fresh machine.
.PHONY: all deps build test demo build-cuda asan test-asan fuzz format bench clean

JOBS ?= $(shell nproc)

all: build

deps:
	scripts/install-deps

build: deps
	cmake --preset default >/dev/null
	cmake --build --preset default -j $(JOBS)

test: build
	ctest --preset default -j $(JOBS)

demo: build
	./build/bin/fcnet train

build-cuda: deps
	cmake --preset cuda >/dev/null
	cmake --build --preset cuda -j $(JOBS)

format:
	git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' | xargs clang-format -i

clean:
	rm -rf build build-*
