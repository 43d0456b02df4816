#include "kernels/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/half.h"
#include "kernels/parallel.h"
#include "kernels/vec.h"

namespace ag::kernels {

namespace {

// One work item: all query heads of one KV head for one row, so each K vector is loaded once for
// the whole GQA group.
void attend_group(const KvCache& kv, const AttentionArgs& a, int64_t row, int kv_head,
                  AttentionThreadScratch& ts) {
  const VecKernels& vk = vec_kernels();
  const int head_dim = kv.head_dim();
  const int group = a.n_head / kv.n_head_kv();
  const int n_pos = a.positions[row] + 1;
  const std::vector<int32_t>& table = (*a.block_tables)[static_cast<size_t>(a.seq_index[row])];
  const int block_size = kv.block_size();
  const bool f16 = kv.type() == DType::F16;
  const size_t head_offset =
      static_cast<size_t>(kv_head) * static_cast<size_t>(head_dim) * (f16 ? 2 : 4);
  const int64_t q_stride = static_cast<int64_t>(a.n_head) * head_dim;
  const float* q0 = a.q + row * q_stride + static_cast<int64_t>(kv_head) * group * head_dim;
  float* out0 = a.out + row * q_stride + static_cast<int64_t>(kv_head) * group * head_dim;
  float* scores = ts.scores.data();
  uint16_t* q_f16 = ts.q_f16.data();
  if (f16) vk.f32_to_f16(group * head_dim, q0, q_f16);

  // scores[g][t] = scale * q_g · K[t]
  for (int t = 0; t < n_pos; ++t) {
    const uint8_t* k = kv.k_slot(a.layer, table[static_cast<size_t>(t / block_size)],
                                 t % block_size) + head_offset;
    for (int g = 0; g < group; ++g) {
      const float dot =
          f16 ? vk.dot_f16(head_dim, q_f16 + g * head_dim, reinterpret_cast<const uint16_t*>(k))
              : vk.dot_f32(head_dim, q0 + g * head_dim, reinterpret_cast<const float*>(k));
      scores[static_cast<int64_t>(g) * n_pos + t] = dot * a.scale;
    }
  }

  for (int g = 0; g < group; ++g) {
    float* s = scores + static_cast<int64_t>(g) * n_pos;
    const float max = *std::max_element(s, s + n_pos);
    // llama.cpp's row runs to the padded KV length with -inf past the causal mask: ggml's vector
    // exp over every group of 8, the padding adding zeros
    const float inv = static_cast<float>(1.0 / vk.softmax_exp_f32(n_pos, s, max));
    for (int t = 0; t < n_pos; ++t) s[t] *= inv;

    // out = sum_t p[t] * V[t], position t accumulating into lane t % 32
    float* partial = ts.partial.data();
    std::memset(partial, 0, sizeof(float) * 32 * static_cast<size_t>(head_dim));
    if (f16) vk.f32_to_f16(n_pos, s, ts.p_f16.data());
    for (int t = 0; t < n_pos; ++t) {
      const uint8_t* v = kv.v_slot(a.layer, table[static_cast<size_t>(t / block_size)],
                                   t % block_size) + head_offset;
      float* lane = partial + static_cast<int64_t>(t & 31) * head_dim;
      if (f16) {
        vk.axpy_f16(head_dim, f16_to_f32(ts.p_f16[static_cast<size_t>(t)]),
                    reinterpret_cast<const uint16_t*>(v), lane);
      } else {
        vk.axpy_f32(head_dim, s[t], reinterpret_cast<const float*>(v), lane);
      }
    }
    vk.reduce_lanes32(head_dim, partial, out0 + static_cast<int64_t>(g) * head_dim);
  }
}

}  // namespace

void attention(ThreadPool& pool, AttentionScratch& scratch, const KvCache& kv,
               const AttentionArgs& a) {
  if (a.n_rows == 0) return;
  AG_CHECK(a.n_head % kv.n_head_kv() == 0, "query heads not a multiple of KV heads");
  const size_t group = static_cast<size_t>(a.n_head / kv.n_head_kv());
  const size_t head_dim = static_cast<size_t>(kv.head_dim());
  int32_t max_pos = 0;
  for (int64_t r = 0; r < a.n_rows; ++r) max_pos = std::max(max_pos, a.positions[r]);
  const size_t n_pos = static_cast<size_t>(max_pos) + 1;
  auto& buffers = scratch.per_thread();
  buffers.resize(static_cast<size_t>(pool.size()));
  for (auto& b : buffers) {
    if (b.scores.size() < group * n_pos) b.scores.resize(group * n_pos);
    if (b.q_f16.size() < group * head_dim) b.q_f16.resize(group * head_dim);
    if (b.p_f16.size() < n_pos) b.p_f16.resize(n_pos);
    if (b.partial.size() < 32 * head_dim) b.partial.resize(32 * head_dim);
  }

  // Rows differ in length (a prefill chunk spans many positions), so threads pull items from a
  // shared counter instead of taking fixed ranges. Which thread runs an item never changes what
  // it computes.
  const int64_t n_items = a.n_rows * kv.n_head_kv();
  int64_t work = 0;  // multiply-adds of q·K and p·V
  for (int64_t r = 0; r < a.n_rows; ++r)
    work += 2 * (static_cast<int64_t>(a.positions[r]) + 1) * a.n_head * kv.head_dim();
  if (!worth_parallel(pool.size(), work)) {
    for (int64_t item = 0; item < n_items; ++item)
      attend_group(kv, a, item / kv.n_head_kv(), static_cast<int>(item % kv.n_head_kv()), buffers[0]);
    return;
  }
  std::atomic<int64_t> next{0};
  pool.run([&](int ith, int) {
    AttentionThreadScratch& ts = buffers[static_cast<size_t>(ith)];
    for (;;) {
      const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= n_items) break;
      attend_group(kv, a, item / kv.n_head_kv(), static_cast<int>(item % kv.n_head_kv()), ts);
    }
  });
}

}  // namespace ag::kernels
