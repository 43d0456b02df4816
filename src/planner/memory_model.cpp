#include "planner/memory_model.h"

#include <algorithm>

#include <fmt/format.h>

#include "tensor/type_traits.h"

namespace ag::planner {

namespace {

uint64_t u64(int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(0, v)); }

}  // namespace

uint64_t kv_bytes_per_token(const HParams& hp, DType kv_type) {
  const uint64_t n_embd_kv = u64(hp.n_embd_kv());
  const auto& info = dtype_info(kv_type);
  // A quantized KV row must hold whole blocks; a head width that does not divide falls back to
  // F16 as llama.cpp refuses such a cache type.
  const uint64_t row = n_embd_kv % info.block_size == 0 ? row_bytes(kv_type, n_embd_kv)
                                                         : row_bytes(DType::F16, n_embd_kv);
  return 2 * u64(hp.n_layer) * row;
}

MemoryEstimate estimate_memory(const ModelSpec& model, const RunConfig& run,
                               const EngineConstants& engine) {
  const HParams& hp = model.hp;
  MemoryEstimate m;
  m.weights_bytes = model.weights_bytes;

  // KV: every sequence owns whole blocks for its ctx positions.
  m.kv_bytes_per_token = kv_bytes_per_token(hp, run.kv_type);
  const uint64_t block = u64(std::max(1, engine.kv_block_size));
  const uint64_t blocks_per_seq = (u64(run.n_ctx) + block - 1) / block;
  m.kv_bytes = blocks_per_seq * block * u64(run.n_batch) * m.kv_bytes_per_token;

  // Compute: the widest step is a prefill chunk of n_ubatch rows (or one decode row per sequence).
  // Buffers as src/model/model_impl.h allocates them (grow-only, so the widest step stays).
  const uint64_t rows = std::max<uint64_t>(
      std::min<uint64_t>(u64(engine.n_ubatch), u64(run.n_ctx) * u64(run.n_batch)),
      u64(run.n_batch));
  const uint64_t e = u64(hp.n_embd), q = u64(hp.n_embd_q()), kv = u64(hp.n_embd_kv()),
                 ff = u64(hp.n_ff), vocab = u64(hp.n_vocab), rot = u64(hp.n_rot);
  // F32 per row: residual and normed copy (2E), q and attention output (2Q), k and v (2KV),
  // gate and up (2F), rope cos and sin (n_rot); plus the final-normed rows that want logits.
  m.compute_items.push_back(
      {fmt::format("activations ({} rows x F32)", rows),
       (rows * (2 * e + 2 * q + 2 * kv + 2 * ff + rot) + u64(run.n_batch) * e) * 4});
  // Activations quantized to each weight type's vec_dot_type (Q8_0, Q8_K, ...) before a matmul:
  // one buffer per such type, as wide as the widest input it serves.
  std::vector<std::pair<DType, uint64_t>> widest;  // vec_dot_type -> widest row it quantizes
  for (const auto& t : model.tensors) {
    if (!t.spec.is_matrix() || !has_type_traits(t.type)) continue;
    if (t.spec.role == TensorRole::TokenEmbd && !hp.tied_output) continue;  // a row lookup
    const DType vdt = type_traits_reference(t.type).vec_dot_type;
    const uint64_t n_in = t.spec.shape[0];
    auto it = std::find_if(widest.begin(), widest.end(), [&](const auto& p) { return p.first == vdt; });
    if (it == widest.end()) widest.emplace_back(vdt, n_in);
    else it->second = std::max(it->second, n_in);
  }
  uint64_t quantized = 0;
  for (const auto& [vdt, n_in] : widest)
    quantized += n_in % dtype_info(vdt).block_size == 0 ? rows * row_bytes(vdt, n_in) : rows * n_in * 4;
  m.compute_items.push_back({"quantized activations", quantized});
  // Attention, per worker: scores of the query heads sharing a KV head over n_ctx positions (F32)
  // and their F16 copy, q in F16, 32 partial sums of head_dim.
  const uint64_t group = hp.n_head_kv > 0 ? u64(hp.n_head / hp.n_head_kv) : 1;
  const uint64_t hd = u64(hp.head_dim);
  m.compute_items.push_back(
      {"attention scratch", u64(run.n_threads) * (group * u64(run.n_ctx) * 4 + u64(run.n_ctx) * 2 +
                                                  group * hd * 2 + 32 * hd * 4)});
  // Logits: the forward pass's rows and the caller's copy, one row per sequence each; each
  // sampler's candidate list (id, logit, probability).
  m.compute_items.push_back({"logits", 2 * u64(run.n_batch) * vocab * 4});
  m.compute_items.push_back({"sampler candidates", u64(run.n_batch) * vocab * 12});
  for (const auto& item : m.compute_items) m.compute_bytes += item.bytes;

  m.overhead_items.push_back({"file metadata (mapped)", model.metadata_bytes});
  m.overhead_items.push_back({"tokenizer tables", vocab * engine.tokenizer_bytes_per_token +
                                                      model.n_merges * engine.tokenizer_bytes_per_merge +
                                                      engine.tokenizer_fixed_bytes});
  m.overhead_items.push_back({"process baseline", engine.process_bytes});
  m.overhead_items.push_back({"threads", u64(run.n_threads) * engine.per_thread_bytes});
  for (const auto& item : m.overhead_items) m.overhead_bytes += item.bytes;

  m.total_bytes = m.weights_bytes + m.kv_bytes + m.compute_bytes + m.overhead_bytes;
  return m;
}

TrainingEstimate estimate_training(const ModelSpec& model, TrainMode mode, const RunConfig& run,
                                   int lora_rank) {
  const HParams& hp = model.hp;
  TrainingEstimate t;
  t.mode = mode;
  const uint64_t n = model.n_params;
  uint64_t act_elem_bytes = 2;  // BF16 saved activations
  switch (mode) {
    case TrainMode::Adam:
      // FP32 weights, FP32 gradients, Adam m and v: 4 + 4 + 8 = 16 B per parameter.
      t.trainable_params = n;
      t.weights_bytes = 4 * n;
      t.gradient_bytes = 4 * n;
      t.optimizer_bytes = 8 * n;
      act_elem_bytes = 4;
      t.note = "FP32 weights, gradients and Adam moments: 16 B/parameter";
      break;
    case TrainMode::AdamMixed:
      // BF16 weights and gradients, FP32 master weights, m and v: 2 + 2 + 12 = 16 B per parameter
      // (ZeRO paper, Rajbhandari et al. 2020); frameworks that also keep FP32 gradients use 20.
      t.trainable_params = n;
      t.weights_bytes = 2 * n;
      t.gradient_bytes = 2 * n;
      t.optimizer_bytes = 12 * n;
      t.note = "mixed precision: BF16 weights/gradients + FP32 master, m, v = 16 B/parameter "
               "(20 with FP32 gradients)";
      break;
    case TrainMode::Lora: {
      // Adapters A [r, in] and B [out, r] on every attention and FFN matrix of every layer.
      uint64_t adapters = 0;
      for (const auto& pt : model.tensors) {
        switch (pt.spec.role) {
          case TensorRole::AttnQ: case TensorRole::AttnK: case TensorRole::AttnV:
          case TensorRole::AttnOutput: case TensorRole::FfnGate: case TensorRole::FfnUp:
          case TensorRole::FfnDown:
            if (pt.spec.shape.size() >= 2)
              adapters += u64(lora_rank) * (pt.spec.shape[0] + pt.spec.shape[1]);
            break;
          default: break;
        }
      }
      adapters = static_cast<uint64_t>(static_cast<double>(adapters) * model.shape_scale);
      t.trainable_params = adapters;
      t.weights_bytes = model.weights_bytes + 4 * adapters;  // frozen base as stored + FP32 adapters
      t.gradient_bytes = 4 * adapters;
      t.optimizer_bytes = 8 * adapters;
      t.note = fmt::format("LoRA rank {} on q/k/v/o/gate/up/down; the base stays {} and frozen",
                           lora_rank, model.type_label);
      break;
    }
  }
  // Saved activations per token per layer (no recomputation, flash attention): the inputs of both
  // norms and of the matmuls (4E), q and attention output (2Q), k and v (2KV), gate, up, their
  // activation and product (4F); plus the final norm input and F32 logits with their gradient.
  const uint64_t tokens = u64(run.n_ctx) * u64(run.n_batch);
  const uint64_t per_layer = 4 * u64(hp.n_embd) + 2 * u64(hp.n_embd_q()) +
                             2 * u64(hp.n_embd_kv()) + 4 * u64(hp.n_ff);
  const double scale = model.shape_scale;
  t.activation_bytes =
      static_cast<uint64_t>(static_cast<double>(tokens * u64(hp.n_layer) * per_layer) * scale) *
          act_elem_bytes +
      tokens * (u64(hp.n_embd) * act_elem_bytes + u64(hp.n_vocab) * 8);
  const uint64_t state = t.weights_bytes + t.gradient_bytes + t.optimizer_bytes;
  // Per trainable parameter; LoRA's frozen base is not trainable state.
  const uint64_t trainable_state =
      mode == TrainMode::Lora ? state - model.weights_bytes : state;
  t.state_bytes_per_param =
      t.trainable_params == 0
          ? 0.0
          : static_cast<double>(trainable_state) / static_cast<double>(t.trainable_params);
  t.total_bytes = state + t.activation_bytes;
  return t;
}

}  // namespace ag::planner
