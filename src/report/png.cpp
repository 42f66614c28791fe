#include "report/png.hpp"

#include <zlib.h>

#include "fcnet/error.hpp"

namespace fcnet::report_detail {

std::string base64_encode(const std::vector<uint8_t>& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    if (rest == 2) v |= uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// Appends one chunk: length, type, data, CRC-32 of type and data.
void put_chunk(std::vector<uint8_t>& out, const char (&type)[5], const std::vector<uint8_t>& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const std::size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + type_at, static_cast<uInt>(4 + data.size()));
  put_u32(out, static_cast<uint32_t>(crc));
}

}  // namespace

std::vector<uint8_t> encode_png(int64_t width, int64_t height, const std::vector<uint8_t>& samples,
                                const std::vector<std::array<uint8_t, 3>>& palette) {
  const char* where = "encode_png";
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
    fail(where, "image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels",
         "1..16384 pixels each way");
  if (samples.size() != static_cast<std::size_t>(width * height))
    fail(where, std::to_string(samples.size()) + " samples",
         std::to_string(width * height) + " (width x height)");
  if (palette.size() > 256) fail(where, "palette of " + std::to_string(palette.size()), "<= 256");
  if (!palette.empty()) {
    for (uint8_t s : samples)
      if (s >= palette.size())
        fail(where, "palette index " + std::to_string(s),
             "< " + std::to_string(palette.size()) + " (palette size)");
  }

  // Scanlines, each prefixed by filter type 0 (none): the images are tiny, so filtering would
  // buy little.
  const auto w = static_cast<std::size_t>(width);
  std::vector<uint8_t> raw;
  raw.reserve(static_cast<std::size_t>(height) * (w + 1));
  for (int64_t y = 0; y < height; ++y) {
    raw.push_back(0);
    const auto* row = samples.data() + static_cast<std::size_t>(y) * w;
    raw.insert(raw.end(), row, row + w);
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> packed(packed_size);
  if (compress2(packed.data(), &packed_size, raw.data(), static_cast<uLong>(raw.size()), 9) != Z_OK)
    fail(where, "zlib could not compress the image", "");
  packed.resize(packed_size);

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> header;
  put_u32(header, static_cast<uint32_t>(width));
  put_u32(header, static_cast<uint32_t>(height));
  header.push_back(8);                        // bit depth
  header.push_back(palette.empty() ? 0 : 3);  // colour type: gray or indexed
  header.insert(header.end(), {0, 0, 0});     // deflate, adaptive filtering, no interlace
  put_chunk(png, "IHDR", header);
  if (!palette.empty()) {
    std::vector<uint8_t> plte;
    for (const auto& c : palette) plte.insert(plte.end(), c.begin(), c.end());
    put_chunk(png, "PLTE", plte);
  }
  put_chunk(png, "IDAT", packed);
  put_chunk(png, "IEND", {});
  return png;
}

std::string png_data_uri(int64_t width, int64_t height, const std::vector<uint8_t>& samples,
                         const std::vector<std::array<uint8_t, 3>>& palette) {
  return "data:image/png;base64," + base64_encode(encode_png(width, height, samples, palette));
}

}  // namespace fcnet::report_detail
