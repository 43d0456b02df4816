#include "kv/prefix_cache.h"

#include <algorithm>

#include "core/check.h"

namespace ag::kv {

namespace {
// splitmix64 finaliser: every input bit affects every output bit, so chained hashes of blocks
// that differ in one token differ everywhere.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent ^ (0x100000001b3ull * (tokens.size() + 1)));
  for (int32_t t : tokens) h = mix64(h ^ static_cast<uint32_t>(t));
  return h;
}

std::vector<BlockHash> hash_block_chain(std::span<const int32_t> tokens, int32_t block_size) {
  AG_CHECK(block_size > 0, "block size %d", block_size);
  const size_t n_full = tokens.size() / static_cast<size_t>(block_size);
  std::vector<BlockHash> hashes(n_full);
  BlockHash parent = kRootHash;
  for (size_t i = 0; i < n_full; ++i) {
    parent = hash_block(parent, tokens.subspan(i * block_size, block_size));
    hashes[i] = parent;
  }
  return hashes;
}

PrefixCache::PrefixCache(int32_t block_size) : block_size_(block_size) {
  AG_CHECK(block_size > 0, "block size %d", block_size);
}

BlockId PrefixCache::find(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const {
  auto it = map_.find(hash);
  if (it == map_.end()) return kNoBlock;
  const Entry& e = it->second;
  if (e.parent != parent || !std::equal(tokens.begin(), tokens.end(), e.tokens.begin(), e.tokens.end()))
    return kNoBlock;
  return e.id;
}

bool PrefixCache::insert(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens,
                         BlockId id) {
  AG_CHECK(static_cast<int32_t>(tokens.size()) == block_size_, "only full blocks are cached");
  auto [it, inserted] = map_.try_emplace(hash);
  if (!inserted) return false;
  it->second.id = id;
  it->second.parent = parent;
  it->second.tokens.assign(tokens.begin(), tokens.end());
  return true;
}

void PrefixCache::erase(BlockHash hash, BlockId id) {
  auto it = map_.find(hash);
  if (it != map_.end() && it->second.id == id) map_.erase(it);
}

}  // namespace ag::kv
