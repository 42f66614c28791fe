// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum fcnet stores per tensor.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fcnet::io_detail {

// CRC-32C of n bytes: the SSE4.2 crc32 instruction where the CPU has it, else a table.
uint32_t crc32c(const void* data, std::size_t n);

// The table version alone (what crc32c uses without SSE4.2).
uint32_t crc32c_table(const void* data, std::size_t n);

// Reference: one bit at a time, straight from the polynomial (the test oracle).
uint32_t crc32c_ref(const void* data, std::size_t n);

}  // namespace fcnet::io_detail
