#include "kernels/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/cpu_features.h"
#include "core/half.h"
#include "kernels/avx2_lanes.h"
#include "kernels/parallel.h"
#include "kernels/vec.h"

namespace ag::kernels {

namespace {

// Where one work item (a row and a KV head: the GQA group of query heads that share it) reads and
// writes.
struct GroupView {
  int head_dim, group, n_pos, block_size;
  const std::vector<int32_t>* table;  // the row's block table
  size_t head_offset;                 // bytes from a slot to this KV head's vector
  const float* q0;                    // [group][head_dim] the group's queries
  float* out0;                        // [group][head_dim] their outputs

  GroupView(const KvCache& kv, const AttentionArgs& a, int64_t row, int kv_head)
      : head_dim(kv.head_dim()),
        group(a.n_head / kv.n_head_kv()),
        n_pos(a.positions[row] + 1),
        block_size(kv.block_size()),
        table(&(*a.block_tables)[static_cast<size_t>(a.seq_index[row])]),
        head_offset(static_cast<size_t>(kv_head) * static_cast<size_t>(kv.head_dim()) *
                    (kv.type() == DType::F16 ? 2 : 4)) {
    const int64_t q_stride = static_cast<int64_t>(a.n_head) * head_dim;
    const int64_t first = row * q_stride + static_cast<int64_t>(kv_head) * group * head_dim;
    q0 = a.q + first;
    out0 = a.out + first;
  }
  const uint8_t* k(const KvCache& kv, int layer, int t) const {
    return kv.k_slot(layer, (*table)[static_cast<size_t>(t / block_size)], t % block_size) +
           head_offset;
  }
  const uint8_t* v(const KvCache& kv, int layer, int t) const {
    return kv.v_slot(layer, (*table)[static_cast<size_t>(t / block_size)], t % block_size) +
           head_offset;
  }
};

// s[0..n) = softmax(s). llama.cpp's row runs to the padded KV length with -inf past the causal
// mask: ggml's vector exp over every group of 8, the padding adding zeros.
void softmax_scores(const VecKernels& vk, float* s, int n) {
  const float max = *std::max_element(s, s + n);
  const float inv = static_cast<float>(1.0 / vk.softmax_exp_f32(n, s, max));
  for (int t = 0; t < n; ++t) s[t] *= inv;
}

// One work item: all query heads of one KV head for one row, so each K vector is loaded once for
// the whole GQA group.
void attend_group(const KvCache& kv, const AttentionArgs& a, int64_t row, int kv_head,
                  AttentionThreadScratch& ts) {
  const VecKernels& vk = vec_kernels();
  const GroupView gv(kv, a, row, kv_head);
  const int head_dim = gv.head_dim, group = gv.group, n_pos = gv.n_pos;
  const bool f16 = kv.type() == DType::F16;
  const float* q0 = gv.q0;
  float* out0 = gv.out0;
  float* scores = ts.scores.data();
  uint16_t* q_f16 = ts.q_f16.data();
  if (f16) vk.f32_to_f16(group * head_dim, q0, q_f16);

  // scores[g][t] = scale * q_g · K[t]
  for (int t = 0; t < n_pos; ++t) {
    const uint8_t* k = gv.k(kv, a.layer, t);
    for (int g = 0; g < group; ++g) {
      const float dot =
          f16 ? vk.dot_f16(head_dim, q_f16 + g * head_dim, reinterpret_cast<const uint16_t*>(k))
              : vk.dot_f32(head_dim, q0 + g * head_dim, reinterpret_cast<const float*>(k));
      scores[static_cast<int64_t>(g) * n_pos + t] = dot * a.scale;
    }
  }

  for (int g = 0; g < group; ++g) {
    float* s = scores + static_cast<int64_t>(g) * n_pos;
    softmax_scores(vk, s, n_pos);

    // out = sum_t p[t] * V[t], position t accumulating into lane t % 32 (the first n_lanes lanes)
    float* partial = ts.partial.data();
    const int n_lanes = std::min(n_pos, 32);
    std::memset(partial, 0, sizeof(float) * static_cast<size_t>(n_lanes * head_dim));
    if (f16) vk.f32_to_f16(n_pos, s, ts.p_f16.data());
    for (int t = 0; t < n_pos; ++t) {
      const uint8_t* v = gv.v(kv, a.layer, t);
      float* lane = partial + static_cast<int64_t>(t & 31) * head_dim;
      if (f16) {
        vk.axpy_f16(head_dim, f16_to_f32(ts.p_f16[static_cast<size_t>(t)]),
                    reinterpret_cast<const uint16_t*>(v), lane);
      } else {
        vk.axpy_f32(head_dim, s[t], reinterpret_cast<const float*>(v), lane);
      }
    }
    vk.reduce_lanes32(head_dim, n_lanes, partial, out0 + static_cast<int64_t>(g) * head_dim);
  }
}

#if defined(__x86_64__)
// The vector part of one score (the first n_vec of head_dim values): dot_f16_avx2's four
// accumulators and their reduction.
AG_TARGET_AVX2 inline float vector_part(int n_vec, const float* qg, const float* k_row) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int i = 0; i < n_vec; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(qg + i), _mm256_load_ps(k_row + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(qg + i + 8), _mm256_load_ps(k_row + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(qg + i + 16), _mm256_load_ps(k_row + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(qg + i + 24), _mm256_load_ps(k_row + i + 24), a3);
  }
  return avx2::reduce4(a0, a1, a2, a3);
}

// The q·K part of attend_group_f16_avx2 (see fused_f16_scores in attention.h).
AG_TARGET_AVX2 void scores_f16_avx2(const KvCache& kv, const AttentionArgs& a, int64_t row,
                                    int kv_head, uint16_t* q_f16, float* q_rounded, float* scores) {
  const VecKernels& vk = vec_kernels();
  const GroupView gv(kv, a, row, kv_head);
  const int head_dim = gv.head_dim, group = gv.group;
  const float* q0 = gv.q0;
  // q rounded to F16 (as the generic path's q_f16), held as floats
  vk.f32_to_f16(group * head_dim, q0, q_f16);
  for (int i = 0; i < group * head_dim; i += 8)
    _mm256_storeu_ps(q_rounded + i, avx2::load_f16(q_f16 + i));

  const int n_vec = head_dim & ~31;  // dot_f16_avx2's vector part; the rest is its double tail
  const int n_pos = gv.n_pos;
  alignas(32) float k_rows[4][256];
  int t = 0;
  if (n_vec < head_dim) {
    // The double tail 4 positions at a time: lane j sums position t + j's tail products in
    // dot_f16's order (one by one, each a float product widened exactly), the same bits as one
    // position at a time without a chain of dependent double adds per score (stories260K's 8-wide
    // heads are all tail).
    const int tail = head_dim - n_vec;  // 8, 16 or 24
    alignas(16) float k_tail[24][4];    // [column of the tail][position]
    for (; t + 4 <= n_pos; t += 4) {
      for (int j = 0; j < 4; ++j) {
        const auto* k = reinterpret_cast<const uint16_t*>(gv.k(kv, a.layer, t + j));
        for (int i = 0; i < head_dim; i += 8) _mm256_store_ps(k_rows[j] + i, avx2::load_f16(k + i));
      }
      for (int i = 0; i < tail; i += 4) {
        __m128 r0 = _mm_load_ps(k_rows[0] + n_vec + i), r1 = _mm_load_ps(k_rows[1] + n_vec + i);
        __m128 r2 = _mm_load_ps(k_rows[2] + n_vec + i), r3 = _mm_load_ps(k_rows[3] + n_vec + i);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_store_ps(k_tail[i], r0);
        _mm_store_ps(k_tail[i + 1], r1);
        _mm_store_ps(k_tail[i + 2], r2);
        _mm_store_ps(k_tail[i + 3], r3);
      }
      for (int g = 0; g < group; ++g) {
        const float* qg = q_rounded + g * head_dim;
        __m256d sum = _mm256_setzero_pd();  // dot_f16's start: float(0) widened, as reduce4 of zeros
        if (n_vec > 0)
          sum = _mm256_setr_pd(vector_part(n_vec, qg, k_rows[0]), vector_part(n_vec, qg, k_rows[1]),
                               vector_part(n_vec, qg, k_rows[2]), vector_part(n_vec, qg, k_rows[3]));
        for (int i = 0; i < tail; ++i)
          sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm_mul_ps(_mm_set1_ps(qg[n_vec + i]), _mm_load_ps(k_tail[i]))));
        _mm_storeu_ps(scores + static_cast<int64_t>(g) * n_pos + t,
                      _mm_mul_ps(_mm256_cvtpd_ps(sum), _mm_set1_ps(a.scale)));
      }
    }
  }
  for (; t < n_pos; ++t) {
    const auto* k = reinterpret_cast<const uint16_t*>(gv.k(kv, a.layer, t));
    float* k_row = k_rows[0];
    for (int i = 0; i < head_dim; i += 8) _mm256_store_ps(k_row + i, avx2::load_f16(k + i));
    for (int g = 0; g < group; ++g) {
      const float* qg = q_rounded + g * head_dim;
      // dot_f16 sums the last head_dim % 32 products in double, one by one (as ggml), and returns
      // float(sum): the same operations (a float product of the two F16 values, then the add).
      double sum = vector_part(n_vec, qg, k_row);
      for (int i = n_vec; i < head_dim; ++i) sum += qg[i] * k_row[i];
      scores[static_cast<int64_t>(g) * n_pos + t] = static_cast<float>(sum) * a.scale;
    }
  }
}

// attend_group for an F16 cache whose head_dim is a multiple of 8 (up to 256), with the AVX2
// vector kernels: the same float operations in the same order as attend_group through
// vec_kernels() (dot_f16_avx2's four accumulators, reduction and double tail, axpy_f16_avx2's
// fused multiply-adds), so the same bits. Decode spent most of attention on per-call overhead: one
// indirect call per position and query head for 64-element dot products, each converting the same
// K row from F16 again. Here each K row is converted once for the whole GQA group. (Heads narrower
// than 32 — stories260K's 8 — were left to the generic path until the tail was added here: its
// prefill spent half its time in those calls.)
AG_TARGET_AVX2 void attend_group_f16_avx2(const KvCache& kv, const AttentionArgs& a, int64_t row,
                                          int kv_head, AttentionThreadScratch& ts) {
  const VecKernels& vk = vec_kernels();
  const GroupView gv(kv, a, row, kv_head);
  const int head_dim = gv.head_dim, group = gv.group, n_pos = gv.n_pos;
  float* out0 = gv.out0;
  float* scores = ts.scores.data();
  scores_f16_avx2(kv, a, row, kv_head, ts.q_f16.data(), ts.q_rounded.data(), scores);

  for (int g = 0; g < group; ++g) {
    float* s = scores + static_cast<int64_t>(g) * n_pos;
    softmax_scores(vk, s, n_pos);

    float* partial = ts.partial.data();
    const int n_lanes = std::min(n_pos, 32);  // short contexts: clear and reduce only these
    std::memset(partial, 0, sizeof(float) * static_cast<size_t>(n_lanes * head_dim));
    vk.f32_to_f16(n_pos, s, ts.p_f16.data());
    for (int t = 0; t < n_pos; ++t) {
      const auto* v = reinterpret_cast<const uint16_t*>(gv.v(kv, a.layer, t));
      float* lane = partial + static_cast<int64_t>(t & 31) * head_dim;
      const __m256 p = _mm256_set1_ps(_cvtsh_ss(ts.p_f16[static_cast<size_t>(t)]));
      for (int i = 0; i < head_dim; i += 8)
        _mm256_storeu_ps(lane + i,
                         _mm256_fmadd_ps(p, avx2::load_f16(v + i), _mm256_loadu_ps(lane + i)));
    }
    vk.reduce_lanes32(head_dim, n_lanes, partial, out0 + static_cast<int64_t>(g) * head_dim);
  }
}
#endif

// The fused path where it applies (same bits), else the generic one.
void attend(const KvCache& kv, const AttentionArgs& a, int64_t row, int kv_head,
            AttentionThreadScratch& ts) {
#if defined(__x86_64__)
  if (detail::fused_f16_applies(kv)) return attend_group_f16_avx2(kv, a, row, kv_head, ts);
#endif
  attend_group(kv, a, row, kv_head, ts);
}

}  // namespace

namespace detail {

bool fused_f16_applies(const KvCache& kv) {
#if defined(__x86_64__)
  static const bool avx2 = cpu_has_avx2_fma();
  return avx2 && kv.type() == DType::F16 && kv.head_dim() % 8 == 0 && kv.head_dim() <= 256;
#else
  (void)kv;
  return false;
#endif
}

void fused_f16_scores(const KvCache& kv, const AttentionArgs& a, int64_t row, int kv_head,
                      float* scores) {
  AG_CHECK(fused_f16_applies(kv), "the fused F16 attention path does not apply");
#if defined(__x86_64__)
  const size_t n = static_cast<size_t>(a.n_head / kv.n_head_kv() * kv.head_dim());
  std::vector<uint16_t> q_f16(n);
  std::vector<float> q_rounded(n);
  scores_f16_avx2(kv, a, row, kv_head, q_f16.data(), q_rounded.data(), scores);
#else
  (void)a, (void)row, (void)kv_head, (void)scores;
#endif
}

}  // namespace detail

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
    if (b.q_rounded.size() < group * head_dim) b.q_rounded.resize(group * head_dim);
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
      attend(kv, a, item / kv.n_head_kv(), static_cast<int>(item % kv.n_head_kv()), buffers[0]);
    return;
  }
  std::atomic<int64_t> next{0};
  pool.run([&](int ith, int) {
    AttentionThreadScratch& ts = buffers[static_cast<size_t>(ith)];
    for (;;) {
      const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= n_items) break;
      attend(kv, a, item / kv.n_head_kv(), static_cast<int>(item % kv.n_head_kv()), ts);
    }
  });
}

}  // namespace ag::kernels
