// Image encoding for the HTML report: small PNG files (8-bit grayscale or 8-bit palette) written
// by hand around zlib's deflate, and base64 for data: URIs.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fcnet::report_detail {

// RFC 4648 base64 with padding.
std::string base64_encode(const std::vector<uint8_t>& bytes);

// PNG of width×height 8-bit samples (row-major). With an empty palette the samples are gray
// levels (colour type 0); otherwise they index `palette` (colour type 3, at most 256 entries).
// Throws fcnet::Error on bad sizes.
std::vector<uint8_t> encode_png(int64_t width, int64_t height, const std::vector<uint8_t>& samples,
                                const std::vector<std::array<uint8_t, 3>>& palette = {});

// "data:image/png;base64,..." of encode_png's result.
std::string png_data_uri(int64_t width, int64_t height, const std::vector<uint8_t>& samples,
                         const std::vector<std::array<uint8_t, 3>>& palette = {});

}  // namespace fcnet::report_detail
