// Golden bytes from GGML itself. kquant_ggml_golden.bin was written by a small program linked
// against the libggml-base.so / libggml-cpu-haswell.so that node-llama-cpp 3.22.1 ships
// (npm @node-llama-cpp/linux-x64), calling ggml_quantize_chunk (with and without an importance
// matrix), quantize_row_q8_K_ref and ggml_vec_dot_qN_K_q8_K_generic on the inputs generated
// below. Records: u32 ggml type, u32 kind (0: no importance, 1: importance, 2: dot result as a
// float; for Q8_K, 0: the activation row), u64 size, bytes.
//
// Our quantizers must produce the same bytes: then a model quantized here is the model llama.cpp
// would produce, and its KL divergence from the float model is llama.cpp's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <tuple>
#include <vector>

#include "core/cpu_features.h"
#include "tensor/kquant.h"
#include "tensor/type_traits.h"

namespace ag {
namespace {

constexpr int64_t kPerRow = 512, kRows = 4;

uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// Exactly representable inputs (integers times powers of two) so both sides see the same floats:
// magnitudes change every 32 values by up to 2^7, like the scales of real weight rows.
std::vector<float> inputs() {
  std::vector<float> x(static_cast<size_t>(kPerRow * kRows));
  for (size_t i = 0; i < x.size(); ++i) {
    const auto u = static_cast<uint32_t>(i);
    x[i] = std::ldexp(static_cast<float>(static_cast<int>(mix(u) % 20001u) - 10000),
                      -static_cast<int>(mix(u / 32 + 777u) % 8u) - 14);
  }
  return x;
}

std::vector<float> importance() {
  std::vector<float> w(static_cast<size_t>(kPerRow));
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = 0.25f + static_cast<float>(mix(static_cast<uint32_t>(i) + 99999u) % 1000u) * 0.015625f;
  }
  return w;
}

using Key = std::tuple<uint32_t, uint32_t>;  // (type, kind)

std::map<Key, std::vector<uint8_t>> load_golden() {
  std::ifstream in(AUTOGLM_SOURCE_DIR "/tests/tensor/kquant_ggml_golden.bin", std::ios::binary);
  std::map<Key, std::vector<uint8_t>> records;
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "KQGOLD01", 8) != 0) return records;
  uint32_t type, kind;
  uint64_t size;
  while (in.read(reinterpret_cast<char*>(&type), 4) && in.read(reinterpret_cast<char*>(&kind), 4) &&
         in.read(reinterpret_cast<char*>(&size), 8)) {
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) break;
    records[{type, kind}] = std::move(bytes);
  }
  return records;
}

TEST(KQuantGolden, SameBytesAsGgml) {
  const auto golden = load_golden();
  ASSERT_EQ(golden.size(), 16u) << "kquant_ggml_golden.bin missing or truncated";
  const auto x = inputs();
  const auto w = importance();

  // Q8_K activations of row 1.
  std::vector<uint8_t> q8(row_bytes(DType::Q8_K, kPerRow));
  type_traits(DType::Q8_K).from_float(x.data() + kPerRow, q8.data(), kPerRow);
  EXPECT_EQ(q8, golden.at({15, 0}));

  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    SCOPED_TRACE(dtype_name(t));
    const auto id = static_cast<uint32_t>(t);
    std::vector<uint8_t> q(row_bytes(t, kPerRow) * kRows);
    for (uint32_t kind : {0u, 1u}) {
      quantize_weights(t, x.data(), q.data(), kRows, kPerRow, kind ? w.data() : nullptr);
      EXPECT_EQ(q, golden.at({id, kind})) << (kind ? "with importance" : "without importance");
    }
    // GGML's generic dot of its row 0 with its Q8_K row. Its build fuses multiply-adds, ours
    // does not: equal up to float rounding of the few scale products (see kquant_kernels_test).
    float expected;
    std::memcpy(&expected, golden.at({id, 2}).data(), 4);
    const uint8_t* row0 = golden.at({id, 0}).data();
    const uint8_t* act = golden.at({15, 0}).data();
    const float ref = type_traits_reference(t).vec_dot(kPerRow, row0, act);
    const float fast = type_traits(t).vec_dot(kPerRow, row0, act);
    EXPECT_NEAR(ref, expected, 1e-5 * std::fabs(expected) + 1e-6);
    EXPECT_NEAR(fast, expected, 1e-5 * std::fabs(expected) + 1e-6);
  }
}

}  // namespace
}  // namespace ag
