#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace ag {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }
}  // namespace

Result<std::shared_ptr<uint8_t>> map_huge_buffer(size_t bytes) {
  const size_t size = round_up(bytes, kHugePage) + kHugePage;  // room to align the start
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return error("cannot map {} bytes: {}", size, std::strerror(errno));
  auto* aligned = reinterpret_cast<uint8_t*>(round_up(reinterpret_cast<uintptr_t>(base), kHugePage));
#if defined(MADV_HUGEPAGE)
  madvise(aligned, round_up(bytes, kHugePage), MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
  return std::shared_ptr<uint8_t>(aligned, [base, size](uint8_t*) { munmap(base, size); });
}

}  // namespace ag
