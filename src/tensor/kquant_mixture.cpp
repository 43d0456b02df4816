// llama.cpp's tensor-type rules (src/llama-quant.cpp: tensor_allows_quantization,
// llama_tensor_get_type_impl, tensor_type_fallback) for the file types this project writes.
#include "tensor/kquant_mixture.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <numeric>

namespace ag::quant {

namespace {

constexpr std::array<Scheme, 17> kSchemes = {{
    {"F32", FileType::ALL_F32, DType::F32},
    {"F16", FileType::MOSTLY_F16, DType::F16},
    {"BF16", FileType::MOSTLY_BF16, DType::BF16},
    {"Q8_0", FileType::MOSTLY_Q8_0, DType::Q8_0},
    {"Q4_0", FileType::MOSTLY_Q4_0, DType::Q4_0},
    {"Q4_1", FileType::MOSTLY_Q4_1, DType::Q4_1},
    {"Q5_0", FileType::MOSTLY_Q5_0, DType::Q5_0},
    {"Q5_1", FileType::MOSTLY_Q5_1, DType::Q5_1},
    {"Q2_K", FileType::MOSTLY_Q2_K, DType::Q2_K},
    {"Q3_K_S", FileType::MOSTLY_Q3_K_S, DType::Q3_K},
    {"Q3_K_M", FileType::MOSTLY_Q3_K_M, DType::Q3_K},
    {"Q3_K_L", FileType::MOSTLY_Q3_K_L, DType::Q3_K},
    {"Q4_K_S", FileType::MOSTLY_Q4_K_S, DType::Q4_K},
    {"Q4_K_M", FileType::MOSTLY_Q4_K_M, DType::Q4_K},
    {"Q5_K_S", FileType::MOSTLY_Q5_K_S, DType::Q5_K},
    {"Q5_K_M", FileType::MOSTLY_Q5_K_M, DType::Q5_K},
    {"Q6_K", FileType::MOSTLY_Q6_K, DType::Q6_K},
}};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

enum class Category {
  kTokenEmbd,
  kAttnQ,
  kAttnV,
  kAttnK,
  kAttnQkv,
  kAttnKvB,
  kAttnOutput,
  kFfnUp,
  kFfnGate,
  kFfnDown,
  kOutput,
  kOther
};

Category category_of(std::string_view name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") {
    return Category::kTokenEmbd;
  }
  if (contains(name, "attn_qkv.weight")) return Category::kAttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Category::kAttnKvB;
  if (contains(name, "attn_v.weight")) return Category::kAttnV;
  if (contains(name, "attn_k.weight")) return Category::kAttnK;
  if (contains(name, "attn_q.weight")) return Category::kAttnQ;
  if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
  if (contains(name, "ffn_up")) return Category::kFfnUp;
  if (contains(name, "ffn_gate")) return Category::kFfnGate;
  if (contains(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

// attn_v and the fused tensors that contain it: the most quantization-sensitive projections.
bool is_attn_v_like(Category c) {
  return c == Category::kAttnV || c == Category::kAttnQkv || c == Category::kAttnKvB;
}

// GGML's ggml_n_dims: trailing dimensions of size 1 do not count.
int n_dims(const std::vector<uint64_t>& shape) {
  for (int i = static_cast<int>(shape.size()) - 1; i >= 1; --i) {
    if (shape[static_cast<size_t>(i)] > 1) return i + 1;
  }
  return 1;
}

bool allows_quantization(const TensorSpec& t) {
  if (n_dims(t.shape) < 2) return false;  // norms, biases, scalars
  const std::string_view name = t.name;
  if (name.size() < 6 || name.substr(name.size() - 6) != "weight") return false;
  // Small or index-like tensors llama.cpp keeps as they are.
  static constexpr std::string_view kKeep[] = {"_norm.weight",
                                               "ffn_gate_inp.weight",
                                               "ffn_gate_tid2eid.weight",
                                               "altup",
                                               "laurel",
                                               "per_layer_model_proj",
                                               "ssm_conv1d",
                                               "shortconv.conv.weight",
                                               "indexer.k_proj.weight",
                                               "indexer.q_proj.weight",
                                               "time_mix_first.weight",
                                               "time_mix_w0.weight",
                                               "time_mix_w1.weight",
                                               "time_mix_w2.weight",
                                               "time_mix_v0.weight",
                                               "time_mix_v1.weight",
                                               "time_mix_v2.weight",
                                               "time_mix_a0.weight",
                                               "time_mix_a1.weight",
                                               "time_mix_a2.weight",
                                               "time_mix_g1.weight",
                                               "time_mix_g2.weight",
                                               "time_mix_decay_w1.weight",
                                               "time_mix_decay_w2.weight",
                                               "time_mix_lerp_fused.weight",
                                               "attn_rel_b.weight",
                                               ".position_embd",
                                               ".rel_pos",
                                               ".patch_embd",
                                               ".patch_merger"};
  for (std::string_view k : kKeep) {
    if (contains(name, k)) return false;
  }
  return name != "position_embd.weight" && name != "token_types.weight";
}

// llama.cpp's "more bits" layers: the first and last eighth, and every third layer between.
bool use_more_bits(int64_t i_layer, int64_t n_layer) {
  return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

// llama.cpp's weight_name_comparer: by layer ("blk.N."; -1 for the rest), then by name. The
// per-layer counters below advance in this order, exactly as llama-quantize's do.
int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) layer = -1;
  return layer;
}

struct State {
  const ModelFacts& model;
  FileType ftype;
  bool is_70b = false;  // llama.cpp's LLM_TYPE_70B: attn_v gets Q5_K instead of Q3_K/Q4_K
  int64_t n_attention_wv = 0;
  int64_t i_attention_wv = 0;
  int64_t i_ffn_down = 0;
  bool tied_embeddings = true;  // no output.weight: token_embd is the output matrix too

  int64_t n_gqa() const { return model.n_head_kv > 0 ? model.n_head / model.n_head_kv : 0; }
  bool arch_falcon() const { return model.arch == "falcon"; }

  // For MoE models the layer comes from the name (experts are not stored in layer order).
  Result<int64_t> layer_index(int64_t counter, const std::string& name) const {
    if (model.n_expert <= 1) return counter;
    const int layer = layer_of(name);
    if (layer < 0 || layer >= model.n_layer) {
      return error("tensor '{}': cannot tell its layer (expected blk.N. with N < {})", name,
                   model.n_layer);
    }
    return static_cast<int64_t>(layer);
  }

  // llama_tensor_get_type_impl, restricted to this project's file types.
  Result<DType> rule(DType new_type, const TensorSpec& t, Category cat) {
    using F = FileType;
    if (cat == Category::kOutput || (tied_embeddings && cat == Category::kTokenEmbd)) {
      const uint64_t block = dtype_info(new_type).block_size;
      if (arch_falcon() || t.shape[0] % block != 0) return DType::Q8_0;
      return new_type != DType::Q8_0 ? DType::Q6_K : new_type;
    }
    if (cat == Category::kTokenEmbd) return new_type;
    if (is_attn_v_like(cat)) {
      if (ftype == F::MOSTLY_Q2_K) {
        new_type = n_gqa() >= 4 ? DType::Q4_K : DType::Q3_K;
      } else if (ftype == F::MOSTLY_Q3_K_M) {
        new_type = i_attention_wv < 2 ? DType::Q5_K : DType::Q4_K;
      } else if (ftype == F::MOSTLY_Q3_K_L) {
        new_type = DType::Q5_K;
      } else if ((ftype == F::MOSTLY_Q4_K_M || ftype == F::MOSTLY_Q5_K_M) &&
                 use_more_bits(i_attention_wv, n_attention_wv)) {
        new_type = DType::Q6_K;
      } else if (ftype == F::MOSTLY_Q4_K_S && i_attention_wv < 4) {
        new_type = DType::Q5_K;
      }
      // With 8 query heads per KV head, attn_v is 8x smaller than attn_q: more bits are cheap.
      if (is_70b && (new_type == DType::Q3_K || new_type == DType::Q4_K)) new_type = DType::Q5_K;
      if (model.n_expert == 8) new_type = DType::Q8_0;
      ++i_attention_wv;
      return new_type;
    }
    if (cat == Category::kAttnK) return model.n_expert == 8 ? DType::Q8_0 : new_type;
    if (cat == Category::kFfnDown) {
      AG_TRY(const int64_t i_layer, layer_index(i_ffn_down, t.name));
      const int64_t n_layer = model.n_layer;
      if (ftype == F::MOSTLY_Q2_K) {
        new_type = DType::Q3_K;
      } else if (ftype == F::MOSTLY_Q3_K_M) {
        new_type = i_layer < n_layer / 16                              ? DType::Q5_K
                   : !arch_falcon() || use_more_bits(i_layer, n_layer) ? DType::Q4_K
                                                                       : DType::Q3_K;
      } else if (ftype == F::MOSTLY_Q3_K_L) {
        new_type = arch_falcon() ? DType::Q4_K : DType::Q5_K;
      } else if (ftype == F::MOSTLY_Q4_K_M) {
        if (arch_falcon()) {
          new_type = i_layer < n_layer / 16            ? DType::Q6_K
                     : use_more_bits(i_layer, n_layer) ? DType::Q5_K
                                                       : DType::Q4_K;
        } else if (use_more_bits(i_layer, n_layer)) {
          new_type = DType::Q6_K;
        }
      } else if (ftype == F::MOSTLY_Q5_K_M && use_more_bits(i_layer, n_layer)) {
        new_type = DType::Q6_K;
      } else if (ftype == F::MOSTLY_Q4_K_S && !arch_falcon() && i_layer < n_layer / 8) {
        new_type = DType::Q5_K;
      }
      ++i_ffn_down;
      return new_type;
    }
    if (cat == Category::kAttnOutput) {
      if (!arch_falcon()) {
        if (model.n_expert == 8) {
          if (ftype == F::MOSTLY_Q2_K || ftype == F::MOSTLY_Q3_K_S || ftype == F::MOSTLY_Q3_K_M ||
              ftype == F::MOSTLY_Q4_K_S || ftype == F::MOSTLY_Q4_K_M) {
            new_type = DType::Q5_K;
          }
        } else if (ftype == F::MOSTLY_Q2_K) {
          new_type = DType::Q3_K;
        } else if (ftype == F::MOSTLY_Q3_K_M) {
          new_type = DType::Q4_K;
        } else if (ftype == F::MOSTLY_Q3_K_L) {
          new_type = DType::Q5_K;
        }
      } else if (ftype == F::MOSTLY_Q3_K_L) {
        new_type = DType::Q4_K;
      }
      return new_type;
    }
    return new_type;  // attn_q, ffn_gate, ffn_up and the rest: the mixture's default
  }
};

// tensor_type_fallback: a compatible type when the row length is not a multiple of the block.
TypeChoice with_fallback(const TensorSpec& t, DType wanted) {
  TypeChoice c{wanted, true, false, {}};
  const uint64_t ncols = t.shape[0];
  const uint32_t block = dtype_info(wanted).block_size;
  if (ncols % block == 0) return c;
  DType alt = DType::F16;
  switch (wanted) {
    case DType::Q2_K:
    case DType::Q3_K:
      alt = DType::Q4_0;
      break;
    case DType::Q4_K:
      alt = DType::Q5_0;
      break;
    case DType::Q5_K:
      alt = DType::Q5_1;
      break;
    case DType::Q6_K:
      alt = DType::Q8_0;
      break;
    default:
      break;
  }
  if (ncols % dtype_info(alt).block_size != 0) alt = DType::F16;
  c.type = alt;
  c.fallback = true;
  c.note = fmt::format("row length {} is not a multiple of {} ({}): {} instead", ncols, block,
                       dtype_name(wanted), dtype_name(alt));
  return c;
}

}  // namespace

std::optional<Scheme> find_scheme(std::string_view name) {
  for (const Scheme& s : kSchemes) {
    if (iequals(s.name, name)) return s;
  }
  // llama-quantize's aliases.
  if (iequals(name, "Q3_K")) return find_scheme("Q3_K_M");
  if (iequals(name, "Q4_K")) return find_scheme("Q4_K_M");
  if (iequals(name, "Q5_K")) return find_scheme("Q5_K_M");
  return std::nullopt;
}

std::string scheme_names() {
  std::string s;
  for (const Scheme& sc : kSchemes) {
    s += sc.name;
    s += sc.name == kSchemes.back().name ? " " : ", ";
  }
  s += "(aliases: Q3_K = Q3_K_M, Q4_K = Q4_K_M, Q5_K = Q5_K_M)";
  return s;
}

Result<std::vector<TypeChoice>> choose_tensor_types(const std::vector<TensorSpec>& tensors,
                                                    const ModelFacts& model, const Scheme& scheme,
                                                    bool pure) {
  State st{model, scheme.file_type};
  st.is_70b = model.n_layer == 80 &&
              ((model.arch == "llama" && model.n_head != model.n_head_kv) || model.arch == "qwen2");
  for (const auto& t : tensors) {
    const Category c = category_of(t.name);
    if (is_attn_v_like(c)) ++st.n_attention_wv;
    if (c == Category::kOutput) st.tied_embeddings = false;
  }

  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
    return la != lb ? la < lb : tensors[a].name < tensors[b].name;
  });

  const bool quantized_scheme = dtype_info(scheme.default_type).block_size > 1;
  std::vector<TypeChoice> out(tensors.size());
  for (size_t i : order) {
    const TensorSpec& t = tensors[i];
    if (t.shape.empty()) return error("tensor '{}' has no dimensions", t.name);
    if (!allows_quantization(t)) {
      out[i] = TypeChoice{t.type, false, false, {}};
      continue;
    }
    if (!quantized_scheme) {
      out[i] = TypeChoice{scheme.default_type, true, false, {}};
      continue;
    }
    DType wanted = scheme.default_type;
    if (!pure) {
      AG_TRY(wanted, st.rule(wanted, t, category_of(t.name)));
    }
    out[i] = with_fallback(t, wanted);
  }
  return out;
}

}  // namespace ag::quant
