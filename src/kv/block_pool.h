#pragma once
// The paged-KV block pool: ids, reference counts, a free list in eviction order, and the prefix
// cache. No tensor memory: block id b addresses slot range [b * block_size, (b + 1) * block_size)
// of the KV storage that kv_cache.h owns.
//
// Life of a block:
//   free (uncached) ──allocate──► in use (ref 1) ──release──► free; stays findable if committed
//   in use ──commit (block full)──► findable by its token chain; other sequences may retain it
//   free + cached ──retain (prefix hit)──► in use again, KV reused without recomputation
//   free + cached ──allocate (evicted, LRU)──► in use for new tokens, no longer findable
//
// Free list order (head is evicted first): uncached free blocks sit at the head (reusing them
// loses nothing), cached ones join the tail when released, so the least recently used cached
// block goes first. A sequence's blocks are released last-to-first, so the deepest block of a
// chain (the one least likely to be shared) is evicted before its parents.
#include <cstdint>
#include <span>
#include <vector>

#include "kv/prefix_cache.h"

namespace ag::kv {

class BlockPool {
 public:
  BlockPool(int32_t n_blocks, int32_t block_size);

  int32_t n_blocks() const { return n_blocks_; }
  int32_t block_size() const { return block_size_; }
  // Blocks with no user (including cached ones, which allocation may evict).
  int32_t n_free() const { return n_free_; }
  int32_t n_used() const { return n_blocks_ - n_free_; }
  // Blocks findable in the prefix cache (in use or free).
  int32_t n_cached() const { return static_cast<int32_t>(cache_.size()); }

  // Takes n blocks off the head of the free list (evicting cached ones), each with ref count 1,
  // and appends them to `out`. When fewer than n are free, takes nothing and returns false.
  bool allocate(int32_t n, std::vector<BlockId>& out);

  // One more user of each block (a prefix hit). A free block leaves the free list.
  void retain(std::span<const BlockId> blocks);

  // One user fewer of each block, last block first. Blocks reaching 0 return to the free list.
  void release(std::span<const BlockId> blocks);

  int32_t ref_count(BlockId id) const;
  bool is_cached(BlockId id) const;

  // The cached blocks holding the longest run of leading full blocks of `tokens`, at most
  // max_blocks of them. Nothing is retained: call retain() on the ones used. `hashes` receives
  // their chain hashes (the last one is the parent of the next block).
  std::vector<BlockId> find_prefix(std::span<const int32_t> tokens, int32_t max_blocks,
                                   std::vector<BlockHash>* hashes = nullptr) const;

  // How many of `blocks` are free now (retaining them takes them out of the free count).
  int32_t count_free(std::span<const BlockId> blocks) const;

  // Block `id` (in use) now holds exactly `tokens` (a full block) after the block whose chain
  // hash is `parent`. Makes it findable unless another block already holds the same chain link.
  // Returns the chain hash of this block (the parent of the next one).
  BlockHash commit(BlockId id, BlockHash parent, std::span<const int32_t> tokens);

  // Forgets every cached chain (e.g. when KV memory was cleared). Blocks in use stay in use.
  void clear_cache();

  // Free-list order, head first (for tests and debugging).
  std::vector<BlockId> free_list() const;

 private:
  void list_remove(BlockId id);
  void list_push_front(BlockId id);
  void list_push_back(BlockId id);

  int32_t n_blocks_;
  int32_t block_size_;
  int32_t n_free_ = 0;
  std::vector<int32_t> ref_;          // [n_blocks] users of each block
  std::vector<BlockHash> hash_;       // [n_blocks] chain hash, valid when cached_[b]
  std::vector<uint8_t> cached_;       // [n_blocks] 1 = findable in cache_
  std::vector<BlockId> prev_, next_;  // [n_blocks] intrusive doubly linked free list
  BlockId head_ = kNoBlock, tail_ = kNoBlock;
  PrefixCache cache_;
};

}  // namespace ag::kv
