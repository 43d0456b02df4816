#include "model/hparams.h"

#include <string_view>

#include "gguf/gguf.h"

namespace ag {

namespace {

// Counts beyond these are not models (and would overflow buffer sizes computed in int64).
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxWidth = 1 << 20;
constexpr int64_t kMaxHeads = 4096;

struct ArchTraits {
  std::string_view name;
  RopeType rope_type;
  bool qkv_bias;
  bool qk_norm;
};

constexpr ArchTraits kArchs[] = {
    {"llama", RopeType::Normal, false, false},
    {"qwen2", RopeType::Neox, true, false},
    {"qwen3", RopeType::Neox, false, true},
};

Result<int> get_count(const gguf::File& f, const std::string& key, int64_t max,
                      std::optional<int64_t> fallback = std::nullopt) {
  Result<int64_t> v = fallback ? f.get_int_or(key, *fallback) : f.get_int(key);
  if (!v) return v.error();
  if (*v < 1 || *v > max)
    return error("{}: metadata '{}' = {} is out of range (1..{})", f.path(), key, *v, max);
  return static_cast<int>(*v);
}

}  // namespace

Result<HParams> read_hparams(const gguf::File& f) {
  HParams hp;
  {
    auto arch = f.get_string("general.architecture");
    if (!arch) return arch.error();
    hp.arch = *arch;
  }
  const ArchTraits* traits = nullptr;
  for (const auto& a : kArchs)
    if (a.name == hp.arch) traits = &a;
  if (traits == nullptr)
    return error("{}: unsupported architecture '{}' (supported: llama, qwen2, qwen3)", f.path(),
                 hp.arch);
  hp.rope_type = traits->rope_type;
  hp.qkv_bias = traits->qkv_bias;
  hp.qk_norm = traits->qk_norm;
  const std::string p = hp.arch + ".";

  {
    auto experts = f.get_int_or(p + "expert_count", 0);
    if (!experts) return experts.error();
    if (*experts > 0)
      return error("{}: mixture-of-experts models ({} = {}) are not supported", f.path(),
                   p + "expert_count", *experts);
  }

  AG_TRY(hp.n_layer, get_count(f, p + "block_count", kMaxLayers));
  AG_TRY(hp.n_embd, get_count(f, p + "embedding_length", kMaxWidth));
  AG_TRY(hp.n_ff, get_count(f, p + "feed_forward_length", kMaxWidth));
  AG_TRY(hp.n_head, get_count(f, p + "attention.head_count", kMaxHeads));
  AG_TRY(hp.n_head_kv, get_count(f, p + "attention.head_count_kv", kMaxHeads, hp.n_head));
  if (hp.n_head % hp.n_head_kv != 0)
    return error("{}: attention.head_count {} is not a multiple of attention.head_count_kv {}",
                 f.path(), hp.n_head, hp.n_head_kv);
  if (hp.n_embd % hp.n_head != 0 && f.find(p + "attention.key_length") == nullptr)
    return error("{}: embedding_length {} is not a multiple of attention.head_count {}", f.path(),
                 hp.n_embd, hp.n_head);
  AG_TRY(hp.head_dim, get_count(f, p + "attention.key_length", kMaxWidth, hp.n_embd / hp.n_head));
  {
    AG_TRY(const int value_length,
           get_count(f, p + "attention.value_length", kMaxWidth, hp.head_dim));
    if (value_length != hp.head_dim)
      return error("{}: attention.value_length {} differs from attention.key_length {} "
                   "(not supported)",
                   f.path(), value_length, hp.head_dim);
  }
  if (static_cast<int64_t>(hp.n_head) * hp.head_dim > kMaxWidth)
    return error("{}: {} heads x {} dimensions is too wide", f.path(), hp.n_head, hp.head_dim);
  AG_TRY(hp.n_rot, get_count(f, p + "rope.dimension_count", kMaxWidth, hp.head_dim));
  if (hp.n_rot % 2 != 0 || hp.n_rot > hp.head_dim)
    return error("{}: rope.dimension_count {} must be even and at most the head size {}",
                 f.path(), hp.n_rot, hp.head_dim);
  AG_TRY(hp.n_ctx_train, get_count(f, p + "context_length", int64_t{1} << 30));

  {
    auto eps = f.get_float(p + "attention.layer_norm_rms_epsilon");
    if (!eps) return eps.error();
    if (!(*eps > 0.0 && *eps < 1.0))
      return error("{}: attention.layer_norm_rms_epsilon {} is out of range", f.path(), *eps);
    hp.rms_eps = static_cast<float>(*eps);
  }
  {
    auto base = f.get_float_or(p + "rope.freq_base", 10000.0);
    if (!base) return base.error();
    if (!(*base > 1.0 && *base < 1e12))
      return error("{}: rope.freq_base {} is out of range", f.path(), *base);
    hp.rope_base = static_cast<float>(*base);
  }

  // Rope scaling: `rope.scaling.type` + `.factor`, or the older `rope.scale_linear`.
  {
    auto type = f.get_string_or(p + "rope.scaling.type", "");
    if (!type) return type.error();
    auto factor = f.get_float_or(p + "rope.scaling.factor", 0.0);
    if (!factor) return factor.error();
    auto scale_linear = f.get_float_or(p + "rope.scale_linear", 0.0);
    if (!scale_linear) return scale_linear.error();
    auto& rs = hp.rope_scaling;
    if (*type == "" || *type == "none") {
      rs.type = *scale_linear > 0.0 && *scale_linear != 1.0 ? RopeScalingType::Linear
                                                             : RopeScalingType::None;
      rs.factor = rs.type == RopeScalingType::Linear ? static_cast<float>(*scale_linear) : 1.0f;
    } else if (*type == "linear" || *type == "yarn") {
      rs.type = *type == "linear" ? RopeScalingType::Linear : RopeScalingType::Yarn;
      rs.factor = static_cast<float>(*factor > 0.0 ? *factor : 1.0);
    } else {
      return error("{}: rope.scaling.type '{}' is not supported (none, linear, yarn)", f.path(),
                   *type);
    }
    if (!(rs.factor >= 1e-3f && rs.factor <= 1e6f))
      return error("{}: rope scaling factor {} is out of range", f.path(), rs.factor);
    if (rs.factor == 1.0f) rs.type = RopeScalingType::None;
    AG_TRY(rs.n_ctx_orig, get_count(f, p + "rope.scaling.original_context_length", int64_t{1} << 30,
                                    hp.n_ctx_train));
    auto attn = f.get_float_or(p + "rope.scaling.attn_factor", 1.0);
    if (!attn) return attn.error();
    if (!(*attn > 0.0 && *attn < 100.0))
      return error("{}: rope.scaling.attn_factor {} is out of range", f.path(), *attn);
    rs.attn_factor = static_cast<float>(*attn);
  }

  const gguf::TensorInfo* embd = f.tensor("token_embd.weight");
  if (embd == nullptr) return error("{}: tensor 'token_embd.weight' is missing", f.path());
  if (embd->shape.size() != 2 || embd->ne(1) < 1 || embd->ne(1) > (uint64_t{1} << 24))
    return error("{}: tensor 'token_embd.weight' must be [n_embd, n_vocab], has {} dims", f.path(),
                 embd->shape.size());
  const gguf::TensorInfo* output = f.tensor("output.weight");
  hp.tied_output = output == nullptr;
  hp.n_vocab = static_cast<int>((output != nullptr ? output : embd)->ne(1));
  hp.has_rope_freqs = f.tensor("rope_freqs.weight") != nullptr;
  return hp;
}

}  // namespace ag
