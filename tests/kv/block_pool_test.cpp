// Block pool and prefix cache: every block returns, hits and misses, eviction order, refcounts.
#include "kv/block_pool.h"

#include <algorithm>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

namespace ag::kv {
namespace {

std::vector<int32_t> iota_tokens(int n, int start = 0) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), start);
  return t;
}

TEST(PrefixHash, ChainCoversAllEarlierTokens) {
  auto a = iota_tokens(12);
  auto b = a;
  b[1] = 99;  // differs in block 0 only
  auto ha = hash_block_chain(a, 4), hb = hash_block_chain(b, 4);
  ASSERT_EQ(ha.size(), 3u);
  ASSERT_EQ(hb.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_NE(ha[i], hb[i]) << i;  // later blocks differ through the chain
  EXPECT_EQ(hash_block_chain(a, 5).size(), 2u);               // partial block not hashed
  EXPECT_EQ(hash_block_chain(a, 4), hash_block_chain(iota_tokens(13), 4));
}

TEST(PrefixCache, LookupVerifiesTokensAndParent) {
  PrefixCache cache(2);
  std::vector<int32_t> t = {5, 6};
  const BlockHash h = hash_block(kRootHash, t);
  EXPECT_TRUE(cache.insert(h, kRootHash, t, 7));
  EXPECT_FALSE(cache.insert(h, kRootHash, t, 8));  // first holder wins
  EXPECT_EQ(cache.find(h, kRootHash, t), 7);
  std::vector<int32_t> other = {5, 7};
  EXPECT_EQ(cache.find(h, kRootHash, other), kNoBlock);  // same hash, other tokens: a collision
  EXPECT_EQ(cache.find(h, 123, t), kNoBlock);
  cache.erase(h, 8);  // not the holder: ignored
  EXPECT_EQ(cache.size(), 1u);
  cache.erase(h, 7);
  EXPECT_EQ(cache.find(h, kRootHash, t), kNoBlock);
}

TEST(BlockPool, AllocateAllAndReturnAll) {
  BlockPool pool(8, 4);
  EXPECT_EQ(pool.n_free(), 8);
  std::vector<BlockId> a, b;
  ASSERT_TRUE(pool.allocate(5, a));
  EXPECT_EQ(pool.n_free(), 3);
  EXPECT_FALSE(pool.allocate(4, b));  // all or nothing
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(pool.n_free(), 3);
  ASSERT_TRUE(pool.allocate(3, b));
  EXPECT_EQ(pool.n_free(), 0);
  std::vector<BlockId> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, iota_tokens(8));  // distinct ids, each once
  for (BlockId id : all) EXPECT_EQ(pool.ref_count(id), 1);
  pool.release(a);
  pool.release(b);
  EXPECT_EQ(pool.n_free(), 8);
  EXPECT_EQ(pool.free_list().size(), 8u);
  EXPECT_FALSE(pool.allocate(9, a));
  EXPECT_TRUE(pool.allocate(0, a));
}

TEST(BlockPool, PrefixHitReusesCommittedBlocks) {
  BlockPool pool(8, 4);
  auto prompt = iota_tokens(10);  // 2 full blocks + 2 tokens
  std::vector<BlockId> seq1;
  ASSERT_TRUE(pool.allocate(3, seq1));
  BlockHash parent = kRootHash;
  for (int i = 0; i < 2; ++i)
    parent = pool.commit(seq1[i], parent, std::span(prompt).subspan(i * 4, 4));
  EXPECT_EQ(pool.n_cached(), 2);
  EXPECT_FALSE(pool.is_cached(seq1[2]));

  // A second prompt with the same first 9 tokens, then something else.
  auto prompt2 = iota_tokens(9);
  prompt2.push_back(500);
  std::vector<BlockHash> hashes;
  auto hit = pool.find_prefix(prompt2, 100, &hashes);
  ASSERT_EQ(hit.size(), 2u);
  EXPECT_EQ(hit[0], seq1[0]);
  EXPECT_EQ(hit[1], seq1[1]);
  EXPECT_EQ(hashes.back(), parent);
  EXPECT_EQ(pool.find_prefix(prompt2, 1).size(), 1u);  // max_blocks respected
  EXPECT_EQ(pool.count_free(hit), 0);
  pool.retain(hit);
  EXPECT_EQ(pool.ref_count(seq1[0]), 2);

  // A prompt differing in the first block misses entirely.
  auto prompt3 = prompt;
  prompt3[0] = 77;
  EXPECT_TRUE(pool.find_prefix(prompt3, 100).empty());
  // Differing in the second block hits only the first.
  auto prompt4 = prompt;
  prompt4[5] = 77;
  EXPECT_EQ(pool.find_prefix(prompt4, 100).size(), 1u);

  pool.release(seq1);
  EXPECT_EQ(pool.ref_count(seq1[0]), 1);
  EXPECT_EQ(pool.n_free(), 8 - 2);
  pool.release(hit);
  EXPECT_EQ(pool.n_free(), 8);
  // Freed cached blocks stay findable until evicted.
  hit = pool.find_prefix(prompt, 100);
  EXPECT_EQ(hit.size(), 2u);
  EXPECT_EQ(pool.count_free(hit), 2);
  pool.retain(hit);
  EXPECT_EQ(pool.n_free(), 6);
  pool.release(hit);
}

TEST(BlockPool, EvictionOrderUncachedFirstThenLeastRecentlyUsed) {
  BlockPool pool(6, 2);
  std::vector<BlockId> a, b;
  ASSERT_TRUE(pool.allocate(3, a));  // 0 1 2
  ASSERT_TRUE(pool.allocate(3, b));  // 3 4 5
  EXPECT_EQ(a, (std::vector<BlockId>{0, 1, 2}));
  auto ta = iota_tokens(6, 0), tb = iota_tokens(6, 100);
  BlockHash pa = kRootHash, pb = kRootHash;
  for (int i = 0; i < 3; ++i) pa = pool.commit(a[i], pa, std::span(ta).subspan(i * 2, 2));
  for (int i = 0; i < 2; ++i) pb = pool.commit(b[i], pb, std::span(tb).subspan(i * 2, 2));
  // b[2] = 5 stays uncached. Release a first (older), then b.
  pool.release(a);
  pool.release(b);
  // Uncached 5 at the head; then a's blocks deepest first, then b's cached blocks deepest first.
  EXPECT_EQ(pool.free_list(), (std::vector<BlockId>{5, 2, 1, 0, 4, 3}));

  // A prefix hit on a's first block moves it out; releasing it makes it most recently used.
  auto hit = pool.find_prefix(ta, 1);
  ASSERT_EQ(hit, (std::vector<BlockId>{0}));
  pool.retain(hit);
  pool.release(hit);
  EXPECT_EQ(pool.free_list(), (std::vector<BlockId>{5, 2, 1, 4, 3, 0}));

  // Allocating 3 evicts 5 (uncached), then 2 and 1: a's chain now only reaches block 0.
  std::vector<BlockId> c;
  ASSERT_TRUE(pool.allocate(3, c));
  EXPECT_EQ(c, (std::vector<BlockId>{5, 2, 1}));
  EXPECT_FALSE(pool.is_cached(2));
  EXPECT_FALSE(pool.is_cached(1));
  EXPECT_EQ(pool.n_cached(), 3);
  EXPECT_EQ(pool.find_prefix(ta, 100), (std::vector<BlockId>{0}));
  EXPECT_EQ(pool.find_prefix(tb, 100), (std::vector<BlockId>{3, 4}));
  pool.release(c);
  EXPECT_EQ(pool.n_free(), 6);
  // Uncached blocks return to the head, ahead of cached ones.
  EXPECT_EQ(pool.free_list(), (std::vector<BlockId>{5, 2, 1, 4, 3, 0}));
}

TEST(BlockPool, DuplicateChainStaysUncached) {
  BlockPool pool(4, 2);
  std::vector<BlockId> a, b;
  ASSERT_TRUE(pool.allocate(1, a));
  ASSERT_TRUE(pool.allocate(1, b));
  std::vector<int32_t> t = {1, 2};
  const BlockHash h1 = pool.commit(a[0], kRootHash, t);
  const BlockHash h2 = pool.commit(b[0], kRootHash, t);  // same content computed twice
  EXPECT_EQ(h1, h2);
  EXPECT_TRUE(pool.is_cached(a[0]));
  EXPECT_FALSE(pool.is_cached(b[0]));
  EXPECT_EQ(pool.commit(a[0], kRootHash, t), h1);  // committing again is harmless
  pool.release(b);
  EXPECT_EQ(pool.free_list().front(), b[0]);  // no value: first to go
  pool.release(a);
  EXPECT_EQ(pool.free_list().back(), a[0]);
  // Once the holder is evicted, the chain is gone.
  std::vector<BlockId> all;
  ASSERT_TRUE(pool.allocate(4, all));
  EXPECT_EQ(pool.n_cached(), 0);
  EXPECT_TRUE(pool.find_prefix(t, 1).empty());
  pool.release(all);
}

TEST(BlockPool, ClearCacheForgetsChains) {
  BlockPool pool(2, 2);
  std::vector<BlockId> a;
  ASSERT_TRUE(pool.allocate(1, a));
  std::vector<int32_t> t = {1, 2};
  pool.commit(a[0], kRootHash, t);
  pool.clear_cache();
  EXPECT_TRUE(pool.find_prefix(t, 1).empty());
  pool.release(a);
  EXPECT_EQ(pool.n_free(), 2);
}

// Random sequences with shared prefixes: refcounts always equal the number of holders, and every
// block returns when all sequences end.
TEST(BlockPool, RandomSharedPrefixesKeepAccounting) {
  const int n_blocks = 32, bs = 4;
  BlockPool pool(n_blocks, bs);
  std::mt19937 rng(1234);
  struct Seq {
    std::vector<int32_t> tokens;
    std::vector<BlockId> blocks;
  };
  std::vector<Seq> live;
  int64_t n_hits = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    if (!live.empty() && (rng() % 3 == 0 || pool.n_free() < 6)) {
      const size_t k = rng() % live.size();
      pool.release(live[k].blocks);
      live.erase(live.begin() + static_cast<ptrdiff_t>(k));
    } else {
      Seq s;
      // Three base prompts so prefixes repeat; random length and a random tail.
      const int base = static_cast<int>(rng() % 3);
      const int len = 1 + static_cast<int>(rng() % 20);
      for (int i = 0; i < len; ++i)
        s.tokens.push_back(i < 12 ? base * 1000 + i : static_cast<int32_t>(rng() % 50));
      const int n_need = (len + bs - 1) / bs;
      const int max_hit = (len - 1) / bs;
      std::vector<BlockHash> hashes;
      s.blocks = pool.find_prefix(s.tokens, max_hit, &hashes);
      const int n_hit = static_cast<int>(s.blocks.size());
      if (pool.n_free() - pool.count_free(s.blocks) < n_need - n_hit) continue;
      n_hits += n_hit;
      pool.retain(s.blocks);
      ASSERT_TRUE(pool.allocate(n_need - n_hit, s.blocks));
      BlockHash parent = hashes.empty() ? kRootHash : hashes.back();
      for (int b = n_hit; b < len / bs; ++b)
        parent = pool.commit(s.blocks[b], parent, std::span(s.tokens).subspan(b * bs, bs));
      live.push_back(std::move(s));
    }
    std::vector<int> holders(n_blocks, 0);
    for (const auto& s : live)
      for (BlockId b : s.blocks) ++holders[b];
    int n_zero = 0;
    for (int b = 0; b < n_blocks; ++b) {
      ASSERT_EQ(pool.ref_count(b), holders[b]) << "block " << b << " iter " << iter;
      n_zero += holders[b] == 0;
    }
    ASSERT_EQ(pool.n_free(), n_zero);
    ASSERT_EQ(static_cast<int>(pool.free_list().size()), n_zero);
  }
  for (const auto& s : live) pool.release(s.blocks);
  EXPECT_EQ(pool.n_free(), n_blocks);
  EXPECT_GT(n_hits, 100);  // the shared prefixes were actually reused
}

}  // namespace
}  // namespace ag::kv
