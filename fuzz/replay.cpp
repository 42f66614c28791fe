// Replays a committed corpus through the fuzz targets' entry points (run by ctest in every
// build, sanitizer builds included): usage fuzz_replay <target> <folder>.
// Every file must be read or rejected with fcnet::Error, nothing else. File names state what is
// expected of the primary reader: "bad-*" must be rejected with a message that starts with the
// file's path and says what was expected ("expected" in it); "ok-*" must be accepted; other
// names (inputs found by fuzzing) only must not crash.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "targets.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fcnet::fuzz::Target t{};
  if (argc != 3 || !fcnet::fuzz::parse_target(argv[1], t)) {
    std::fprintf(stderr, "usage: fuzz_replay idx|gzip|csv|npy|safetensors FOLDER\n");
    return 2;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(argv[2]))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int failures = 0, bad = 0, ok = 0;
  for (const auto& p : files) {
    const std::string name = p.filename().string();
    std::string error;
    const bool accepted = fcnet::fuzz::run_file(t, p.string(), &error);
    if (name.rfind("bad-", 0) == 0) {
      ++bad;
      if (accepted) {
        std::fprintf(stderr, "FAIL %s: accepted, expected a rejection\n", name.c_str());
        ++failures;
      } else if (error.rfind(p.string(), 0) != 0 || error.find("expected") == std::string::npos) {
        std::fprintf(stderr, "FAIL %s: message does not name the file and the expectation: %s\n",
                     name.c_str(), error.c_str());
        ++failures;
      }
    } else if (name.rfind("ok-", 0) == 0) {
      ++ok;
      if (!accepted) {
        std::fprintf(stderr, "FAIL %s: rejected: %s\n", name.c_str(), error.c_str());
        ++failures;
      }
    }
  }
  std::printf("%s: %zu files (%d malformed, %d valid), %d failures\n", argv[1], files.size(), bad,
              ok, failures);
  return failures == 0 && !files.empty() ? 0 : 1;
}
