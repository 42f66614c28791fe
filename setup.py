"""Builds fcnet's compiled module with CMake for `pip install .`; metadata is in pyproject.toml.

The same python/CMakeLists.txt that `make build` uses produces _fcnet*.so; this script runs CMake in
a build folder of its own (build-pip/) and places the module in the wheel beside the pure-Python
files. Extra CMake options can be passed in FCNET_CMAKE_ARGS, e.g. "-DFCNET_NATIVE=OFF" for a
module that runs on other CPUs than the build machine's.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def project_version():
    """The version of project(fcnet VERSION x.y.z) in CMakeLists.txt, the one place it is set."""
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(fcnet\s+VERSION\s+([0-9]+\.[0-9]+\.[0-9]+)", text)
    if not match:
        raise RuntimeError("CMakeLists.txt has no project(fcnet VERSION x.y.z)")
    return match.group(1)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        dest = Path(self.get_ext_fullpath(ext.name)).resolve()
        build_dir = ROOT / "build-pip" / "cmake"
        out_dir = build_dir / "python-package"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DFCNET_BUILD_TESTS=OFF",
            "-DFCNET_BUILD_BENCH=OFF",
            "-DFCNET_PYTHON=ON",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DFCNET_PYTHON_OUTPUT_DIR={out_dir}",
        ]
        if shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
            configure += ["-G", "Ninja"]
        configure += shlex.split(os.environ.get("FCNET_CMAKE_ARGS", ""))
        subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "_fcnet", "-j", jobs],
                       check=True)
        built = sorted((out_dir / "fcnet").glob("_fcnet*.so"))
        if not built:
            raise RuntimeError(f"CMake did not produce {out_dir / 'fcnet'}/_fcnet*.so")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], dest)


setup(
    version=project_version(),
    ext_modules=[CMakeExtension("fcnet._fcnet")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": "build-pip"}},
)
