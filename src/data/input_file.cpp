#include "data/input_file.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "fcnet/error.hpp"

namespace fcnet::data_detail {

namespace {
// Deflate cannot expand by more than about 1032:1; a little slack for the gzip framing.
constexpr uint64_t kMaxInflateRatio = 1040;
// Internal buffer of zlib's reader; reads larger than this go straight into the caller's buffer.
constexpr unsigned kGzBuffer = 1u << 18;
// gzread takes an unsigned length and returns an int: read big payloads in pieces.
constexpr std::size_t kMaxChunk = std::size_t{1} << 30;

gzFile as_gz(void* p) {
  return static_cast<gzFile>(p);
}

// zlib's error text without the "<path>: " it puts in front (the message names the file already).
std::string zlib_reason(const char* msg, const std::string& path) {
  std::string m = msg != nullptr ? msg : "read error";
  if (m.rfind(path + ": ", 0) == 0) m.erase(0, path.size() + 2);
  return m;
}
}  // namespace

InputFile::InputFile(const std::string& path) : path_(path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(path, std::string("cannot open: ") + std::strerror(errno), "an existing, readable file");
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory", "a data file");
  disk_size_ = static_cast<uint64_t>(st.st_size);
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr)
    fail(path, std::string("cannot open: ") + std::strerror(errno), "an existing, readable file");
  gz_ = f;
  gzbuffer(f, kGzBuffer);
  // gzdirect() is only meaningful once zlib has looked at the first bytes. A throwing
  // constructor runs no destructor, so close the handle here on failure.
  try {
    peek(2);
  } catch (...) {
    gzclose_r(f);
    gz_ = nullptr;
    throw;
  }
  compressed_ = gzdirect(f) == 0;
}

InputFile::~InputFile() {
  if (gz_ != nullptr) gzclose_r(as_gz(gz_));
}

uint64_t InputFile::max_content_size() const {
  if (!compressed_) return disk_size_;
  if (disk_size_ > UINT64_MAX / kMaxInflateRatio) return UINT64_MAX;
  return disk_size_ * kMaxInflateRatio;
}

std::size_t InputFile::read_raw(void* dst, std::size_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  std::size_t got = 0;
  while (got < n) {
    const auto want = static_cast<unsigned>(std::min(n - got, kMaxChunk));
    const int r = gzread(as_gz(gz_), out + got, want);
    if (r < 0) {
      int code = 0;
      const char* msg = gzerror(as_gz(gz_), &code);
      const bool gz = gzdirect(as_gz(gz_)) == 0;  // valid even before compressed_ is set
      fail(path_,
           std::string("unreadable ") + (gz ? "gzip data" : "file") + " (" +
               zlib_reason(msg, path_) + ")",
           gz ? "a valid gzip stream" : "a readable file");
    }
    if (r == 0) {
      // A gzip stream cut short reads as a short count with Z_BUF_ERROR set.
      int code = 0;
      const char* msg = gzerror(as_gz(gz_), &code);
      if (code == Z_BUF_ERROR || code == Z_DATA_ERROR)
        fail(path_, "gzip stream is damaged or cut short (" + zlib_reason(msg, path_) + ")",
             "a complete gzip file");
      break;
    }
    got += static_cast<std::size_t>(r);
  }
  return got;
}

std::string_view InputFile::peek(std::size_t n) {
  if (pending_.size() < n) {
    const std::size_t have = pending_.size();
    pending_.resize(n);
    const std::size_t got = read_raw(pending_.data() + have, n - have);
    pending_.resize(have + got);
  }
  return std::string_view(pending_).substr(0, std::min(n, pending_.size()));
}

std::size_t InputFile::read(void* dst, std::size_t n) {
  std::size_t got = 0;
  if (!pending_.empty()) {
    got = std::min(n, pending_.size());
    std::memcpy(dst, pending_.data(), got);
    pending_.erase(0, got);
  }
  if (got < n) got += read_raw(static_cast<unsigned char*>(dst) + got, n - got);
  offset_ += got;
  return got;
}

void InputFile::read_exact(void* dst, std::size_t n, const std::string& what) {
  const uint64_t start = offset_;
  const std::size_t got = read(dst, n);
  if (got != n)
    fail(path_,
         "truncated: " + what + " needs " + std::to_string(n) + " bytes from offset " +
             std::to_string(start) + " but the " +
             (compressed_ ? "decompressed data ends" : "file ends") + " after " +
             std::to_string(got),
         "a complete file");
}

void InputFile::read_exact_into(std::vector<uint8_t>& out, std::size_t n, const std::string& what) {
  if (!compressed_) {  // the file's size was checked against n already
    out.resize(n);
    read_exact(out.data(), n, what);
    return;
  }
  const uint64_t start = offset_;
  out.clear();
  std::size_t have = 0;
  while (have < n) {
    const std::size_t step = std::min(n - have, std::max<std::size_t>(have, std::size_t{1} << 20));
    out.resize(have + step);
    const std::size_t got = read(out.data() + have, step);
    have += got;
    if (got < step) {
      out.clear();
      out.shrink_to_fit();
      fail(path_,
           "truncated: " + what + " needs " + std::to_string(n) + " bytes from offset " +
               std::to_string(start) + " but the decompressed data ends after " +
               std::to_string(have),
           "a complete file");
    }
  }
}

bool InputFile::at_end() {
  return peek(1).empty();
}

std::string InputFile::read_all() {
  std::string out = std::move(pending_);
  pending_.clear();
  std::size_t have = out.size();
  // Raw files: read once at their known size; gzip: grow geometrically.
  std::size_t cap =
      std::max<std::size_t>(have + 1, compressed_ ? 4 * disk_size_ + 4096 : disk_size_ + 1);
  for (;;) {
    out.resize(cap);
    const std::size_t got = read_raw(out.data() + have, cap - have);
    have += got;
    if (have < cap) break;
    cap *= 2;
  }
  out.resize(have);
  offset_ += have;
  return out;
}

}  // namespace fcnet::data_detail
