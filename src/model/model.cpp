#include "model/model.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/parallel.h"
#include "kernels/vec.h"
#include "kv/kv_cache.h"
#include "model/model_impl.h"
#include "model/packed_weights.h"

namespace ag {

// --- Model: the public face ------------------------------------------------------------------

Model::Model(std::unique_ptr<ModelImpl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelOptions& options) {
  AG_TRY(gguf::File file, gguf::File::open(path));
  return from_file(std::move(file), options);
}

Result<std::unique_ptr<Model>> Model::from_file(gguf::File file, const ModelOptions& options) {
  if (options.kv_type != DType::F16 && options.kv_type != DType::F32)
    return error("KV cache type must be f16 or f32, not {}", dtype_name(options.kv_type));
  if (options.n_threads < 1 || options.n_threads > 1024)
    return error("thread count {} is out of range (1..1024)", options.n_threads);
  AG_TRY(HParams hp, read_hparams(file));
  AG_TRY(ModelWeights weights, bind_weights(file, hp));
  auto impl = std::make_unique<ModelImpl>(std::move(file), std::move(hp), std::move(weights),
                                          options);
  if (options.repack) AG_TRY_STATUS(impl->repack());
  return std::unique_ptr<Model>(new Model(std::move(impl)));
}

const HParams& Model::hparams() const { return impl_->hp; }
const gguf::File& Model::file() const { return impl_->file; }
const ModelOptions& Model::options() const { return impl_->options; }

Status Model::forward(const ForwardBatch& batch, KvCache& kv, std::vector<float>& logits) {
  return impl_->forward(batch, kv, logits);
}

Status Model::reserve_step(int64_t n_rows) { return impl_->reserve_step(n_rows); }

Status Model::lock_weights() {
  // The packed copies, then the file's bytes other than the matrices they replace (locking those
  // too would read them back in and hold the weights twice).
  const ModelWeights& w = impl_->w;
  if (w.packed_bytes > 0 && mlock(w.packed_arena.get(), w.packed_bytes) != 0)
    return error("mlock of {} bytes of repacked weights failed: {} (see `ulimit -l`)",
                 w.packed_bytes, std::strerror(errno));
  std::vector<std::pair<const uint8_t*, const uint8_t*>> replaced;
  for (const kernels::WeightView* v : multiplied_matrices(impl_->w))
    if (v->packed != nullptr)
      replaced.emplace_back(v->data, v->data + v->row_bytes * static_cast<size_t>(v->n_out));
  if (!impl_->file.has_mapping()) return {};  // parsed from memory: nothing else to lock
  MappedFile& map = impl_->file.mapping();
  if (replaced.empty()) return map.lock();
  std::sort(replaced.begin(), replaced.end());
  const uint8_t* at = map.data();
  replaced.emplace_back(map.data() + map.size(), map.data() + map.size());  // the tail
  for (const auto& [begin, end] : replaced) {
    if (begin > at) AG_TRY_STATUS(map.lock_range(at, static_cast<size_t>(begin - at)));
    at = std::max(at, end);
  }
  return {};
}

int Model::n_pinned_threads() const { return impl_->n_pinned_threads(); }
int Model::n_packed_matrices() const {
  const auto views = multiplied_matrices(impl_->w);
  return static_cast<int>(std::count_if(views.begin(), views.end(),
                                        [](const kernels::WeightView* v) { return v->packed != nullptr; }));
}

// --- ModelImpl ---------------------------------------------------------------------------------

namespace {


size_t sz(int64_t n) { return static_cast<size_t>(n); }

void grow(std::vector<float>& v, int64_t n) {
  if (v.size() < sz(n)) v.resize(sz(n));
}

}  // namespace

ModelImpl::ModelImpl(gguf::File file_in, HParams hp_in, ModelWeights weights,
                     const ModelOptions& options_in)
    : file(std::move(file_in)),
      hp(std::move(hp_in)),
      w(std::move(weights)),
      options(options_in),
      pool_(options_in.n_threads, options_in.pin_threads) {
  rope_.n_rot = hp.n_rot;
  rope_.base = hp.rope_base;
  rope_.freq_scale =
      hp.rope_scaling.type == RopeScalingType::None ? 1.0f : 1.0f / hp.rope_scaling.factor;
  rope_.freq_factors = w.rope_freqs;
  rope_.ext_factor = hp.rope_scaling.type == RopeScalingType::Yarn ? 1.0f : 0.0f;
  rope_.attn_factor = hp.rope_scaling.attn_factor;
  rope_.n_ctx_orig = hp.rope_scaling.n_ctx_orig;
}

Status ModelImpl::repack() {
  const bool mapped = file.has_mapping();
  return pack_weights(w, pool_, mapped ? file.mapping().data() : nullptr,
                      mapped ? file.mapping().size() : 0);
}

template <typename Fn>
void ModelImpl::for_rows(int64_t n, Fn&& fn) {
  // element-wise passes cost a few operations per activation of the widest row
  const int64_t width = std::max<int64_t>(hp.n_ff, hp.n_embd_q());
  if (!kernels::worth_parallel(pool_.size(), n * width * 8)) {
    for (int64_t r = 0; r < n; ++r) fn(r);
    return;
  }
  pool_.parallel_for(n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) fn(r);
  });
}

Status ModelImpl::validate(const ForwardBatch& b, const KvCache& kv) {
  const size_t n = b.n_rows();
  if (b.positions.size() != n || b.seq_index.size() != n || b.want_logits.size() != n)
    return error("forward batch: {} tokens but {} positions, {} sequence indices, {} logit flags",
                 n, b.positions.size(), b.seq_index.size(), b.want_logits.size());
  if (kv.n_layer() != hp.n_layer || kv.n_head_kv() != hp.n_head_kv || kv.head_dim() != hp.head_dim)
    return error("KV cache is shaped for {} layers x {} heads x {} dims, the model has {} x {} x {}",
                 kv.n_layer(), kv.n_head_kv(), kv.head_dim(), hp.n_layer, hp.n_head_kv,
                 hp.head_dim);
  const size_t n_seqs = b.block_tables.size();
  seq_last_pos_.assign(n_seqs, -1);
  for (size_t r = 0; r < n; ++r) {
    const int32_t tok = b.tokens[r], pos = b.positions[r], seq = b.seq_index[r];
    if (tok < 0 || tok >= hp.n_vocab)
      return error("forward batch row {}: token {} is outside the vocabulary (0..{})", r, tok,
                   hp.n_vocab - 1);
    if (seq < 0 || static_cast<size_t>(seq) >= n_seqs)
      return error("forward batch row {}: sequence index {} but {} block tables", r, seq, n_seqs);
    if (pos < 0) return error("forward batch row {}: negative position {}", r, pos);
    if (pos <= seq_last_pos_[sz(seq)])
      return error("forward batch row {}: position {} of sequence {} does not follow position {}",
                   r, pos, seq, seq_last_pos_[sz(seq)]);
    seq_last_pos_[sz(seq)] = pos;
  }
  // Two rows writing one KV slot (say, sequences sharing a prefix block) would race and corrupt it.
  slots_written_.clear();
  for (size_t r = 0; r < n; ++r) {
    const auto& table = b.block_tables[sz(b.seq_index[r])];
    const size_t block_index = sz(b.positions[r] / kv.block_size());
    if (block_index >= table.size()) continue;  // reported below
    slots_written_.push_back(static_cast<int64_t>(table[block_index]) * kv.block_size() +
                             b.positions[r] % kv.block_size());
  }
  std::sort(slots_written_.begin(), slots_written_.end());
  if (std::adjacent_find(slots_written_.begin(), slots_written_.end()) != slots_written_.end())
    return error("forward batch: two rows write the same KV slot (a block shared by sequences?)");
  // Every block a row reads (positions 0..pos) must exist.
  for (size_t s = 0; s < n_seqs; ++s) {
    if (seq_last_pos_[s] < 0) continue;
    const auto& table = b.block_tables[s];
    const size_t n_needed = sz(seq_last_pos_[s] / kv.block_size()) + 1;
    if (table.size() < n_needed)
      return error("forward batch: sequence {} reaches position {} but its block table has {} "
                   "blocks of {}",
                   s, seq_last_pos_[s], table.size(), kv.block_size());
    for (size_t i = 0; i < n_needed; ++i)
      if (table[i] < 0 || table[i] >= kv.n_blocks())
        return error("forward batch: sequence {} block {} is {}, the cache has {} blocks", s, i,
                     table[i], kv.n_blocks());
  }
  return {};
}

void ModelImpl::reserve(int64_t n, int64_t n_want) {
  grow(x_, n * hp.n_embd);
  grow(cur_, n * hp.n_embd);
  grow(q_, n * hp.n_embd_q());
  grow(k_, n * hp.n_embd_kv());
  grow(v_, n * hp.n_embd_kv());
  grow(attn_out_, n * hp.n_embd_q());
  grow(gate_, n * hp.n_ff);
  grow(up_, n * hp.n_ff);
  grow(rope_cos_, n * (hp.n_rot / 2));
  grow(rope_sin_, n * (hp.n_rot / 2));
  grow(out_in_, n_want * hp.n_embd);
}

Status ModelImpl::reserve_step(int64_t n_rows) {
  if (n_rows < 1) return error("step of {} rows: must be at least 1", n_rows);
  try {
    reserve(n_rows, 1);
  } catch (const std::bad_alloc&) {
    return error("step of {} rows: out of memory for activations", n_rows);
  }
  return {};
}

Status ModelImpl::forward(const ForwardBatch& batch, KvCache& kv, std::vector<float>& logits) {
  AG_TRY_STATUS(validate(batch, kv));
  const int64_t n = static_cast<int64_t>(batch.n_rows());
  int64_t n_want = 0;
  for (uint8_t f : batch.want_logits) n_want += f != 0;
  try {
    reserve(n, n_want);
    logits.resize(sz(n_want * hp.n_vocab));
  } catch (const std::bad_alloc&) {
    return error("forward batch of {} rows: out of memory for activations", n);
  }
  if (n == 0) return {};

  const int n_embd = hp.n_embd;
  const int half_rot = hp.n_rot / 2;
  for_rows(n, [&](int64_t r) {
    kernels::get_row(w.token_embd, batch.tokens[sz(r)], x_.data() + r * n_embd);
    kernels::rope_cos_sin(rope_, batch.positions[sz(r)], rope_cos_.data() + r * half_rot,
                          rope_sin_.data() + r * half_rot);
  });

  for (int il = 0; il < hp.n_layer; ++il) {
    layer_attention(il, batch, kv, n);
    layer_ffn(il, n);
  }

  // Final norm and output projection, only for the rows that want logits.
  int64_t j = 0;
  for (int64_t r = 0; r < n; ++r) {
    if (!batch.want_logits[sz(r)]) continue;
    kernels::rms_norm(x_.data() + r * n_embd, w.output_norm, out_in_.data() + j * n_embd, n_embd,
                      hp.rms_eps);
    ++j;
  }
  const kernels::MatmulJob job{w.output, logits.data(), hp.n_vocab};
  kernels::matmul(pool_, matmul_scratch_, out_in_.data(), n_want, n_embd, {&job, 1});
  return {};
}

void ModelImpl::layer_attention(int il, const ForwardBatch& batch, KvCache& kv, int64_t n) {
  const LayerWeights& l = w.layers[sz(il)];
  const int n_embd = hp.n_embd, n_q = hp.n_embd_q(), n_kv = hp.n_embd_kv();
  const int head_dim = hp.head_dim, half_rot = hp.n_rot / 2;
  const bool neox = hp.rope_type == RopeType::Neox;

  for_rows(n, [&](int64_t r) {
    kernels::rms_norm(x_.data() + r * n_embd, l.attn_norm, cur_.data() + r * n_embd, n_embd,
                      hp.rms_eps);
  });
  const kernels::MatmulJob qkv[3] = {{l.wq, q_.data(), n_q}, {l.wk, k_.data(), n_kv},
                                     {l.wv, v_.data(), n_kv}};
  kernels::matmul(pool_, matmul_scratch_, cur_.data(), n, n_embd, qkv);

  const kernels::VecKernels& vk = kernels::vec_kernels();
  for_rows(n, [&](int64_t r) {
    float* q = q_.data() + r * n_q;
    float* k = k_.data() + r * n_kv;
    float* v = v_.data() + r * n_kv;
    if (l.bq != nullptr) {
      kernels::add_inplace(q, l.bq, n_q);
      kernels::add_inplace(k, l.bk, n_kv);
      kernels::add_inplace(v, l.bv, n_kv);
    }
    if (l.q_norm != nullptr) {
      for (int h = 0; h < hp.n_head; ++h)
        kernels::rms_norm(q + h * head_dim, l.q_norm, q + h * head_dim, head_dim, hp.rms_eps);
      for (int h = 0; h < hp.n_head_kv; ++h)
        kernels::rms_norm(k + h * head_dim, l.k_norm, k + h * head_dim, head_dim, hp.rms_eps);
    }
    const float* cos = rope_cos_.data() + r * half_rot;
    const float* sin = rope_sin_.data() + r * half_rot;
    kernels::rope_apply(q, hp.n_head, head_dim, hp.n_rot, neox, cos, sin);
    kernels::rope_apply(k, hp.n_head_kv, head_dim, hp.n_rot, neox, cos, sin);

    const int32_t pos = batch.positions[sz(r)];
    const int32_t block =
        batch.block_tables[sz(batch.seq_index[sz(r)])][sz(pos / kv.block_size())];
    const int slot = pos % kv.block_size();
    uint8_t* k_dst = kv.k_slot(il, block, slot);
    uint8_t* v_dst = kv.v_slot(il, block, slot);
    if (kv.type() == DType::F16) {
      vk.f32_to_f16(n_kv, k, reinterpret_cast<uint16_t*>(k_dst));
      vk.f32_to_f16(n_kv, v, reinterpret_cast<uint16_t*>(v_dst));
    } else {
      std::memcpy(k_dst, k, sizeof(float) * sz(n_kv));
      std::memcpy(v_dst, v, sizeof(float) * sz(n_kv));
    }
  });

  kernels::AttentionArgs args;
  args.q = q_.data();
  args.out = attn_out_.data();
  args.n_rows = n;
  args.positions = batch.positions.data();
  args.seq_index = batch.seq_index.data();
  args.block_tables = &batch.block_tables;
  args.layer = il;
  args.n_head = hp.n_head;
  args.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  kernels::attention(pool_, attention_scratch_, kv, args);

  const kernels::MatmulJob out{l.wo, cur_.data(), n_embd};
  kernels::matmul(pool_, matmul_scratch_, attn_out_.data(), n, n_q, {&out, 1});
}

void ModelImpl::layer_ffn(int il, int64_t n) {
  const LayerWeights& l = w.layers[sz(il)];
  const int n_embd = hp.n_embd, n_ff = hp.n_ff;
  // residual add of the attention output, then the FFN norm
  for_rows(n, [&](int64_t r) {
    float* x = x_.data() + r * n_embd;
    float* c = cur_.data() + r * n_embd;
    kernels::add_inplace(x, c, n_embd);
    kernels::rms_norm(x, l.ffn_norm, c, n_embd, hp.rms_eps);
  });
  const kernels::MatmulJob gate_up[2] = {{l.w_gate, gate_.data(), n_ff}, {l.w_up, up_.data(), n_ff}};
  kernels::matmul(pool_, matmul_scratch_, cur_.data(), n, n_embd, gate_up);
  // Element by element over all rows together. With the C library's expf a decode step's single
  // row of n_ff values (117,000 expf per token for a 0.5B model) is worth both threads; with the
  // vectorized expf only prefill batches are.
  const int64_t n_elements = n * n_ff;
  auto silu_range = [&](int64_t begin, int64_t end) {
    kernels::silu_mul(gate_.data() + begin, up_.data() + begin, static_cast<int>(end - begin));
  };
  if (kernels::worth_parallel(pool_.size(), n_elements * kernels::silu_mul_work_per_element())) {
    pool_.parallel_for(n_elements, 64, silu_range);
  } else {
    silu_range(0, n_elements);
  }
  const kernels::MatmulJob down{l.w_down, cur_.data(), n_embd};
  kernels::matmul(pool_, matmul_scratch_, gate_.data(), n, n_ff, {&down, 1});
  for_rows(n, [&](int64_t r) {
    kernels::add_inplace(x_.data() + r * n_embd, cur_.data() + r * n_embd, n_embd);
  });
}

}  // namespace ag
