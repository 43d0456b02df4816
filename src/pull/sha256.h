#pragma once
// SHA-256 (FIPS 180-4), streaming. Used to verify downloaded model files against the checksum
// Hugging Face publishes for LFS files (X-Linked-Etag) or one given with --sha256.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ag::pull {

class Sha256 {
 public:
  Sha256();
  void update(std::span<const uint8_t> data);
  void update(std::string_view data);
  std::array<uint8_t, 32> finish();  // the object must not be updated afterwards

 private:
  void block(const uint8_t* p);  // one 64-byte block
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t n_buf_ = 0;
  uint64_t n_bytes_ = 0;
};

std::string to_hex(std::span<const uint8_t> bytes);
std::string sha256_hex(std::string_view data);
// Reads the file in 1 MiB pieces; error names the file.
Result<std::string> sha256_file(const std::string& path);
// True when `s` is 64 hex digits (either case).
bool is_sha256_hex(std::string_view s);

}  // namespace ag::pull
