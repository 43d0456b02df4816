#pragma once
// Prefix cache: maps the token chain of a full KV block to the physical block that holds it.
//
// A full block is identified by the hash of (its parent block's hash, its block_size tokens), so
// the hash of block i covers every token of blocks 0..i. Two prompts that share their first
// k * block_size tokens share the first k block hashes and can share those blocks. Entries also
// store the parent hash and the tokens, and a lookup compares them, so a 64-bit hash collision
// between different blocks can never hand out the wrong KV.
//
// Pure bookkeeping over ids: the block pool (block_pool.h) decides when blocks become findable
// and evicts them; this class only answers "which block holds this chain link".
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace ag::kv {

using BlockId = int32_t;
using BlockHash = uint64_t;

inline constexpr BlockId kNoBlock = -1;
// Parent hash of the first block of every sequence.
inline constexpr BlockHash kRootHash = 0x6a09e667f3bcc908ull;

// Hash of one full block: its tokens chained after the parent's hash.
BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens);

// Hashes of the leading full blocks of `tokens` ([tokens.size() / block_size] entries).
std::vector<BlockHash> hash_block_chain(std::span<const int32_t> tokens, int32_t block_size);

class PrefixCache {
 public:
  explicit PrefixCache(int32_t block_size);

  // The block holding `tokens` after `parent` (hash = hash_block(parent, tokens)), or kNoBlock.
  BlockId find(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const;

  // Makes `id` findable under `hash`. Returns false (and records nothing) when another block
  // already holds this chain link: the caller keeps its block as an ordinary, uncached one.
  bool insert(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens, BlockId id);

  // Forgets `hash` if it maps to `id` (the block is being reused for other tokens).
  void erase(BlockHash hash, BlockId id);

  size_t size() const { return map_.size(); }
  void clear() { map_.clear(); }

 private:
  struct Entry {
    BlockId id = kNoBlock;
    BlockHash parent = 0;
    std::vector<int32_t> tokens;  // [block_size] the block's token ids, to rule out collisions
  };
  int32_t block_size_;
  std::unordered_map<BlockHash, Entry> map_;
};

}  // namespace ag::kv
