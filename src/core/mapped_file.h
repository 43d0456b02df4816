#pragma once
// A read-only memory map of a whole file. Model weights are used in place from this map.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/result.h"

namespace ag {

class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  // Maps `path` read-only. An empty file maps to an empty span.
  static Result<MappedFile> open(const std::string& path);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  // Locks the pages in RAM (--mlock). Returns an error naming the limit when it fails.
  Status lock();
  // Locks the pages of [begin, begin + n), a range inside the mapping.
  Status lock_range(const uint8_t* begin, size_t n);

 private:
  void release();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace ag
