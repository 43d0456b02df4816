#pragma once
// Paged KV storage: for each layer, K and V each [n_blocks, block_size, n_head_kv, head_dim] of F16
// (default, as llama.cpp) or F32. Which block belongs to which sequence is the block pool's business
// (kv/block_pool.h); this class only owns the memory and addresses slots.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/result.h"
#include "model/hparams.h"
#include "tensor/dtype.h"

namespace ag {

class KvCache {
 public:
  // type must be F16 or F32; n_blocks, block_size >= 1 (checked: a bug otherwise). The memory is
  // allocated and zeroed up front, so all of it is resident from construction.
  KvCache(const HParams& hp, int n_blocks, int block_size, DType type);
  // Same with validation of user-chosen sizes, and allocation failure as an error.
  static Result<std::unique_ptr<KvCache>> create(const HParams& hp, int n_blocks, int block_size,
                                                 DType type);
  // Bytes create() would allocate.
  static uint64_t bytes_for(const HParams& hp, int n_blocks, int block_size, DType type);

  int n_layer() const { return n_layer_; }
  int n_blocks() const { return n_blocks_; }
  int block_size() const { return block_size_; }
  int n_head_kv() const { return n_head_kv_; }
  int head_dim() const { return head_dim_; }
  DType type() const { return type_; }
  size_t bytes() const { return total_bytes_; }
  // Bytes of one position of one layer's K (or V): n_head_kv * head_dim elements.
  size_t slot_bytes() const { return slot_bytes_; }

  // [n_head_kv, head_dim] K / V of position `slot` of physical block `block` in layer `layer`.
  uint8_t* k_slot(int layer, int block, int slot) { return slot_ptr(0, layer, block, slot); }
  uint8_t* v_slot(int layer, int block, int slot) { return slot_ptr(1, layer, block, slot); }
  const uint8_t* k_slot(int layer, int block, int slot) const {
    return const_cast<KvCache*>(this)->slot_ptr(0, layer, block, slot);
  }
  const uint8_t* v_slot(int layer, int block, int slot) const {
    return const_cast<KvCache*>(this)->slot_ptr(1, layer, block, slot);
  }

  // Copies all layers' K and V of block `src` into block `dst` (copy-on-write of a shared prefix
  // block). Costs 2 * n_layer * block_size * slot_bytes() bytes of copying.
  void copy_block(int src, int dst);

 private:
  uint8_t* slot_ptr(int kv, int layer, int block, int slot);

  int n_layer_ = 0;
  int n_blocks_ = 0;
  int block_size_ = 0;
  int n_head_kv_ = 0;
  int head_dim_ = 0;
  DType type_ = DType::F16;
  size_t slot_bytes_ = 0;
  size_t block_bytes_ = 0;  // block_size * slot_bytes
  size_t total_bytes_ = 0;
  // [n_layer][2 (K, V)][n_blocks][block_size][n_head_kv][head_dim] elements
  std::unique_ptr<uint8_t[]> data_;
};

}  // namespace ag
