#include "kv/kv_cache.h"

#include <cstring>
#include <new>

#include "core/check.h"

namespace ag {

namespace {

size_t element_bytes(DType type) { return type == DType::F16 ? 2 : 4; }

}  // namespace

uint64_t KvCache::bytes_for(const HParams& hp, int n_blocks, int block_size, DType type) {
  return 2ull * static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(n_blocks) *
         static_cast<uint64_t>(block_size) * static_cast<uint64_t>(hp.n_embd_kv()) *
         element_bytes(type);
}

KvCache::KvCache(const HParams& hp, int n_blocks, int block_size, DType type)
    : n_layer_(hp.n_layer),
      n_blocks_(n_blocks),
      block_size_(block_size),
      n_head_kv_(hp.n_head_kv),
      head_dim_(hp.head_dim),
      type_(type) {
  AG_CHECK(type == DType::F16 || type == DType::F32, "KV cache type must be F16 or F32");
  AG_CHECK(n_blocks >= 1 && block_size >= 1 && hp.n_layer >= 1 && hp.n_embd_kv() >= 1,
           "empty KV cache");
  slot_bytes_ = static_cast<size_t>(hp.n_embd_kv()) * element_bytes(type);
  block_bytes_ = slot_bytes_ * static_cast<size_t>(block_size);
  total_bytes_ = static_cast<size_t>(bytes_for(hp, n_blocks, block_size, type));
  // Zeroed, which also touches every page now: the cache is resident from the start (as llama.cpp
  // clears its KV buffer and vLLM pre-allocates its pool), so the process's peak RSS is known at
  // load (autoglm plan predicts it) and decoding never stalls on first-touch page faults.
  data_ = std::make_unique<uint8_t[]>(total_bytes_);
}

Result<std::unique_ptr<KvCache>> KvCache::create(const HParams& hp, int n_blocks, int block_size,
                                                 DType type) {
  if (type != DType::F16 && type != DType::F32)
    return error("KV cache type must be f16 or f32, not {}", dtype_name(type));
  if (n_blocks < 1) return error("KV cache needs at least one block, got {}", n_blocks);
  if (block_size < 1) return error("KV cache block size must be at least 1, got {}", block_size);
  if (hp.n_layer < 1 || hp.n_embd_kv() < 1)
    return error("KV cache for a model with {} layers and {} KV dimensions", hp.n_layer,
                 hp.n_embd_kv());
  const uint64_t bytes = bytes_for(hp, n_blocks, block_size, type);
  // bytes_for cannot overflow for int arguments and sane hparams; refuse what no machine holds.
  if (bytes > (uint64_t{1} << 46))
    return error("KV cache of {} blocks x {} positions needs {} GiB", n_blocks, block_size,
                 bytes >> 30);
  try {
    return std::make_unique<KvCache>(hp, n_blocks, block_size, type);
  } catch (const std::bad_alloc&) {
    return error("cannot allocate a KV cache of {:.1f} MiB ({} blocks x {} positions)",
                 static_cast<double>(bytes) / (1 << 20), n_blocks, block_size);
  }
}

uint8_t* KvCache::slot_ptr(int kv, int layer, int block, int slot) {
  AG_CHECK(layer >= 0 && layer < n_layer_ && block >= 0 && block < n_blocks_ && slot >= 0 &&
           slot < block_size_,
           "KV slot out of range");
  const size_t plane = static_cast<size_t>(layer) * 2 + static_cast<size_t>(kv);
  return data_.get() + (plane * static_cast<size_t>(n_blocks_) + static_cast<size_t>(block)) *
                           block_bytes_ +
         static_cast<size_t>(slot) * slot_bytes_;
}

void KvCache::copy_block(int src, int dst) {
  AG_CHECK(src >= 0 && src < n_blocks_ && dst >= 0 && dst < n_blocks_, "block %d -> %d", src, dst);
  if (src == dst) return;
  for (int layer = 0; layer < n_layer_; ++layer) {
    std::memcpy(k_slot(layer, dst, 0), k_slot(layer, src, 0), block_bytes_);
    std::memcpy(v_slot(layer, dst, 0), v_slot(layer, src, 0), block_bytes_);
  }
}

}  // namespace ag
