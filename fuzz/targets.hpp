// Entry points shared by the libFuzzer targets (fuzz_<target>, clang) and the corpus replay
// (fuzz_replay, built in every build and run by ctest): each runs one input file through the
// readers of one format.
#pragma once

#include <string>

namespace fcnet::fuzz {

enum class Target { idx, gzip, csv, npy, safetensors };

// "idx", "gzip", "csv", "npy", "safetensors"; false for other names.
bool parse_target(const std::string& name, Target& t);
const char* target_name(Target t);
// A file name extension that makes the format sniffer's name hint agree with the target.
const char* target_extension(Target t);

// Runs the file at `path` through the target's readers. The primary reader's verdict is returned:
// true when it accepted the input, false when it rejected it with fcnet::Error (its message in
// *error). The secondary readers (labels, other options) run for coverage; their fcnet::Errors
// are expected and ignored. Anything else (another exception, a crash, a sanitizer report) is a
// bug and escapes.
bool run_file(Target t, const std::string& path, std::string* error);

}  // namespace fcnet::fuzz
