#include "kv/block_pool.h"

#include <algorithm>

#include "core/check.h"

namespace ag::kv {

BlockPool::BlockPool(int32_t n_blocks, int32_t block_size)
    : n_blocks_(n_blocks),
      block_size_(block_size),
      ref_(n_blocks, 0),
      hash_(n_blocks, 0),
      cached_(n_blocks, 0),
      prev_(n_blocks, kNoBlock),
      next_(n_blocks, kNoBlock),
      cache_(block_size) {
  AG_CHECK(n_blocks > 0 && block_size > 0, "pool of %d blocks of %d", n_blocks, block_size);
  for (BlockId b = 0; b < n_blocks; ++b) list_push_back(b);
}

void BlockPool::list_remove(BlockId id) {
  const BlockId p = prev_[id], n = next_[id];
  (p == kNoBlock ? head_ : next_[p]) = n;
  (n == kNoBlock ? tail_ : prev_[n]) = p;
  prev_[id] = next_[id] = kNoBlock;
  --n_free_;
}

void BlockPool::list_push_front(BlockId id) {
  prev_[id] = kNoBlock;
  next_[id] = head_;
  (head_ == kNoBlock ? tail_ : prev_[head_]) = id;
  head_ = id;
  ++n_free_;
}

void BlockPool::list_push_back(BlockId id) {
  next_[id] = kNoBlock;
  prev_[id] = tail_;
  (tail_ == kNoBlock ? head_ : next_[tail_]) = id;
  tail_ = id;
  ++n_free_;
}

bool BlockPool::allocate(int32_t n, std::vector<BlockId>& out) {
  AG_CHECK(n >= 0, "allocating %d blocks", n);
  if (n > n_free_) return false;
  for (int32_t i = 0; i < n; ++i) {
    const BlockId b = head_;
    list_remove(b);
    if (cached_[b]) {  // eviction: the block's old tokens are about to be overwritten
      cache_.erase(hash_[b], b);
      cached_[b] = 0;
    }
    ref_[b] = 1;
    out.push_back(b);
  }
  return true;
}

void BlockPool::retain(std::span<const BlockId> blocks) {
  for (BlockId b : blocks) {
    AG_CHECK(b >= 0 && b < n_blocks_, "block id %d", b);
    if (ref_[b] == 0) {
      AG_CHECK(cached_[b], "retaining free block %d that holds no cached tokens", b);
      list_remove(b);
    }
    ++ref_[b];
  }
}

void BlockPool::release(std::span<const BlockId> blocks) {
  for (size_t i = blocks.size(); i-- > 0;) {
    const BlockId b = blocks[i];
    AG_CHECK(b >= 0 && b < n_blocks_ && ref_[b] > 0, "double release of block %d", b);
    if (--ref_[b] == 0) {
      if (cached_[b])
        list_push_back(b);
      else
        list_push_front(b);
    }
  }
}

int32_t BlockPool::ref_count(BlockId id) const {
  AG_CHECK(id >= 0 && id < n_blocks_, "block id %d", id);
  return ref_[id];
}

bool BlockPool::is_cached(BlockId id) const {
  AG_CHECK(id >= 0 && id < n_blocks_, "block id %d", id);
  return cached_[id] != 0;
}

std::vector<BlockId> BlockPool::find_prefix(std::span<const int32_t> tokens, int32_t max_blocks,
                                            std::vector<BlockHash>* hashes) const {
  std::vector<BlockId> found;
  if (hashes) hashes->clear();
  BlockHash parent = kRootHash;
  const int32_t n_full = static_cast<int32_t>(tokens.size() / block_size_);
  for (int32_t i = 0; i < std::min(n_full, max_blocks); ++i) {
    auto block_tokens = tokens.subspan(static_cast<size_t>(i) * block_size_, block_size_);
    const BlockHash h = hash_block(parent, block_tokens);
    const BlockId b = cache_.find(h, parent, block_tokens);
    if (b == kNoBlock) break;
    found.push_back(b);
    if (hashes) hashes->push_back(h);
    parent = h;
  }
  return found;
}

int32_t BlockPool::count_free(std::span<const BlockId> blocks) const {
  int32_t n = 0;
  for (BlockId b : blocks) n += ref_[b] == 0;
  return n;
}

BlockHash BlockPool::commit(BlockId id, BlockHash parent, std::span<const int32_t> tokens) {
  AG_CHECK(id >= 0 && id < n_blocks_ && ref_[id] > 0, "committing block %d that is not in use", id);
  AG_CHECK(static_cast<int32_t>(tokens.size()) == block_size_, "only full blocks are committed");
  const BlockHash h = hash_block(parent, tokens);
  if (cached_[id]) {
    AG_CHECK(hash_[id] == h, "block %d already cached with other tokens", id);
    return h;
  }
  if (cache_.insert(h, parent, tokens, id)) {
    cached_[id] = 1;
    hash_[id] = h;
  }
  return h;
}

void BlockPool::clear_cache() {
  cache_.clear();
  for (BlockId b = 0; b < n_blocks_; ++b) cached_[b] = 0;
  // Free blocks keep their order; none of them is worth keeping now.
}

std::vector<BlockId> BlockPool::free_list() const {
  std::vector<BlockId> out;
  for (BlockId b = head_; b != kNoBlock; b = next_[b]) out.push_back(b);
  return out;
}

}  // namespace ag::kv
