// KvCache: slot addressing, sizes, copy_block and create() validation.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "kv/kv_cache.h"

namespace ag {
namespace {

HParams small() {
  HParams hp;
  hp.n_layer = 3;
  hp.n_head = 4;
  hp.n_head_kv = 2;
  hp.head_dim = 8;
  return hp;
}

TEST(KvCache, SizesAndDistinctSlots) {
  for (DType type : {DType::F16, DType::F32}) {
    KvCache kv(small(), 5, 4, type);
    const size_t elem = type == DType::F16 ? 2 : 4;
    EXPECT_EQ(kv.slot_bytes(), 16 * elem);
    EXPECT_EQ(kv.bytes(), 2u * 3 * 5 * 4 * 16 * elem);
    EXPECT_EQ(kv.bytes(), KvCache::bytes_for(small(), 5, 4, type));
    EXPECT_EQ(kv_bytes_per_token(small(), static_cast<uint32_t>(elem)), 2u * 3 * 16 * elem);
    // every (K|V, layer, block, slot) is its own non-overlapping range inside the allocation
    std::set<const uint8_t*> starts;
    const uint8_t* lo = kv.k_slot(0, 0, 0);
    for (int l = 0; l < 3; ++l)
      for (int b = 0; b < 5; ++b)
        for (int s = 0; s < 4; ++s)
          for (const uint8_t* p : {kv.k_slot(l, b, s), kv.v_slot(l, b, s)}) {
            EXPECT_TRUE(starts.insert(p).second);
            EXPECT_GE(p, lo);
            EXPECT_LE(p + kv.slot_bytes(), lo + kv.bytes());
            EXPECT_EQ((p - lo) % static_cast<std::ptrdiff_t>(kv.slot_bytes()), 0);
          }
    EXPECT_EQ(starts.size(), 2u * 3 * 5 * 4);
  }
}

TEST(KvCache, CopyBlockCopiesEveryLayerKAndV) {
  KvCache kv(small(), 4, 2, DType::F32);
  for (int l = 0; l < 3; ++l)
    for (int b = 0; b < 4; ++b)
      for (int s = 0; s < 2; ++s) {
        std::memset(kv.k_slot(l, b, s), 10 * l + b + 1, kv.slot_bytes());
        std::memset(kv.v_slot(l, b, s), 100 + 10 * l + b, kv.slot_bytes());
      }
  kv.copy_block(1, 3);
  for (int l = 0; l < 3; ++l)
    for (int s = 0; s < 2; ++s) {
      EXPECT_EQ(0, std::memcmp(kv.k_slot(l, 3, s), kv.k_slot(l, 1, s), kv.slot_bytes()));
      EXPECT_EQ(0, std::memcmp(kv.v_slot(l, 3, s), kv.v_slot(l, 1, s), kv.slot_bytes()));
      EXPECT_EQ(kv.k_slot(l, 2, s)[0], 10 * l + 3);  // neighbours untouched
    }
}

TEST(KvCache, CreateValidates) {
  EXPECT_TRUE(KvCache::create(small(), 2, 16, DType::F16).ok());
  EXPECT_FALSE(KvCache::create(small(), 0, 16, DType::F16).ok());
  EXPECT_FALSE(KvCache::create(small(), 2, 0, DType::F16).ok());
  EXPECT_FALSE(KvCache::create(small(), 2, 16, DType::Q8_0).ok());
  auto huge = KvCache::create(small(), 1 << 30, 1 << 20, DType::F32);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("GiB"), std::string::npos);
}

}  // namespace
}  // namespace ag
