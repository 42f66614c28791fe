// Sequential reader over a file that may be gzip-compressed (detected from its 1f 8b magic, not
// its name): the loaders read headers and payloads through it straight into their buffers, so a
// compressed data set is decompressed in one pass with no intermediate copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>
#include <string_view>

namespace fcnet::data_detail {

class InputFile {
 public:
  // Opens `path` for reading; throws fcnet::Error naming it when it cannot be opened.
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  // True when the file is a gzip stream (its content is the decompressed data).
  bool compressed() const { return compressed_; }
  // Size of the file on disk (compressed size for gzip).
  uint64_t disk_size() const { return disk_size_; }
  // Upper bound on the bytes of content the file can hold: its size, or for gzip its size times
  // deflate's largest expansion ratio. Lets loaders reject absurd headers before allocating.
  uint64_t max_content_size() const;

  // The next n bytes of content without consuming them (fewer at the end of the data).
  std::string_view peek(std::size_t n);
  // Reads up to n bytes into dst; returns how many (fewer only at the end of the data).
  std::size_t read(void* dst, std::size_t n);
  // Reads exactly n bytes of `what`; throws "<path>: truncated ..." when the data ends first.
  void read_exact(void* dst, std::size_t n, const std::string& what);
  // The same into `out` (resized to n). For gzip the buffer grows as data arrives, so a header that
  // claims more than the stream holds costs what actually inflates, not what it claims.
  void read_exact_into(std::vector<uint8_t>& out, std::size_t n, const std::string& what);
  // True when no content is left.
  bool at_end();
  // All remaining content.
  std::string read_all();
  // Content bytes consumed so far.
  uint64_t offset() const { return offset_; }

 private:
  std::size_t read_raw(void* dst, std::size_t n);

  std::string path_;
  void* gz_ = nullptr;  // gzFile
  bool compressed_ = false;
  uint64_t disk_size_ = 0;
  uint64_t offset_ = 0;
  std::string pending_;  // bytes peeked and not yet consumed
};

}  // namespace fcnet::data_detail
