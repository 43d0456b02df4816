#pragma once
// Anonymous memory for large buffers that are streamed end to end (repacked weights, the bandwidth
// probe's array): mapped on a 2 MiB boundary with transparent huge pages requested (madvise
// MADV_HUGEPAGE, which is what THP's default "madvise" mode waits for). Reading 4 KiB pages costs a
// TLB miss and a page walk every 4 KiB; a 2 MiB page covers 512 of them. Where THP is off the
// advice is ignored and the buffer works the same with 4 KiB pages.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/result.h"

namespace ag {

// At least `bytes` of zeroed memory, 2 MiB aligned; unmapped when the last owner goes.
Result<std::shared_ptr<uint8_t>> map_huge_buffer(size_t bytes);

}  // namespace ag
