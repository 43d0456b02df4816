#include "planner/model_spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "planner/model_presets.h"

namespace ag::planner {

namespace {

// Tokenizer metadata of a preset or config that exists only on paper: token strings (~8 bytes plus
// an 8-byte length each), scores or merges; measured ~40 bytes per token on Qwen2.5 and Llama-3
// GGUF files (Qwen2.5-0.5B: 6.2 MB of metadata for 151,936 tokens).
constexpr uint64_t kMetadataBytesPerToken = 40;

uint64_t tensor_bytes(DType type, const std::vector<uint64_t>& shape) {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  const auto& info = dtype_info(type);
  return n / info.block_size * info.type_size;
}

void finish(ModelSpec& spec) {
  spec.n_params = 0;
  spec.weights_bytes = 0;
  for (const auto& t : spec.tensors) {
    spec.n_params += t.spec.n_elements();
    spec.weights_bytes += t.n_bytes;
  }
}

Result<int64_t> get_count(const gguf::File& f, const std::string& key, bool required,
                          int64_t fallback) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) {
    if (required) return error("{}: metadata key '{}' is missing", f.path(), key);
    return fallback;
  }
  // Some architectures store per-layer values as arrays; the planner needs the largest.
  if (const gguf::Array* arr = v->as_array()) {
    int64_t best = -1;
    for (const auto& item : arr->items)
      if (auto x = item.as_int()) best = std::max(best, *x);
    if (best < 0) return error("{}: metadata key '{}' is an empty or non-integer array", f.path(), key);
    return best;
  }
  auto x = v->as_int();
  if (!x) return error("{}: metadata key '{}' is {}, expected an integer", f.path(), key,
                       gguf::value_type_name(v->type()));
  return *x;
}

Status check_positive(const std::string& path, std::string_view what, int64_t v, int64_t max) {
  if (v < 1 || v > max) return error("{}: {} = {} is out of range [1, {}]", path, what, v, max);
  return {};
}

}  // namespace

uint64_t ModelSpec::weights_read_per_token() const {
  uint64_t bytes = 0;
  for (const auto& t : tensors) {
    if (t.spec.role == TensorRole::TokenEmbd && !hp.tied_output) {
      bytes += t.n_bytes / std::max<uint64_t>(1, t.spec.shape.size() > 1 ? t.spec.shape[1] : 1);
      continue;
    }
    bytes += t.n_bytes;
  }
  return bytes;
}

double ModelSpec::matmul_flops_per_token(bool with_output) const {
  double flops = 0;
  for (const auto& t : tensors) {
    if (!t.spec.is_matrix()) continue;
    const bool is_output = t.spec.role == TensorRole::Output ||
                           (t.spec.role == TensorRole::TokenEmbd && hp.tied_output);
    if (t.spec.role == TensorRole::TokenEmbd && !hp.tied_output) continue;  // a row lookup
    if (is_output && !with_output) continue;
    flops += 2.0 * static_cast<double>(t.spec.n_elements());
  }
  return flops * shape_scale;
}

ModelSpec spec_from_hparams(const HParams& hp, FileType ftype, std::string name,
                            std::string source) {
  ModelSpec spec;
  spec.name = std::move(name);
  spec.source = std::move(source);
  spec.type_label = std::string(file_type_name(ftype));
  spec.hp = hp;
  std::vector<TensorSpec> tensors = model_tensors(hp);
  std::vector<DType> types = assign_types(hp, tensors, ftype);
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t n = tensor_bytes(types[i], tensors[i].shape);
    spec.tensors.push_back({std::move(tensors[i]), types[i], n});
  }
  finish(spec);
  spec.metadata_bytes = static_cast<uint64_t>(hp.n_vocab) * kMetadataBytesPerToken;
  // Byte-level BPE vocabularies (Llama 3, Qwen: > 64k tokens) have about one merge per token;
  // the 32k SentencePiece vocabularies of Llama 2 / CodeLlama have none.
  spec.n_merges = hp.n_vocab > 64000 ? static_cast<uint64_t>(hp.n_vocab) : 0;
  spec.file_bytes = spec.weights_bytes + spec.metadata_bytes;
  spec.notes.push_back(fmt::format(
      "tensor types follow llama.cpp's {} rules; file metadata estimated at {} B/token",
      spec.type_label, kMetadataBytesPerToken));
  return spec;
}

Result<ModelSpec> spec_from_gguf(const std::string& path) {
  AG_TRY(gguf::File f, gguf::File::open(path));
  AG_TRY(std::string arch, f.get_string("general.architecture"));
  const std::string p = arch + ".";
  HParams hp;
  hp.arch = arch;
  AG_TRY(int64_t n_layer, get_count(f, p + "block_count", true, 0));
  AG_TRY(int64_t n_embd, get_count(f, p + "embedding_length", true, 0));
  AG_TRY(int64_t n_head, get_count(f, p + "attention.head_count", true, 0));
  AG_TRY(int64_t n_head_kv, get_count(f, p + "attention.head_count_kv", false, n_head));
  AG_TRY(int64_t n_ff, get_count(f, p + "feed_forward_length", false, 0));
  AG_TRY(int64_t n_ctx, get_count(f, p + "context_length", false, 0));
  AG_TRY_STATUS(check_positive(path, p + "block_count", n_layer, 1 << 16));
  AG_TRY_STATUS(check_positive(path, p + "embedding_length", n_embd, 1 << 20));
  AG_TRY_STATUS(check_positive(path, p + "attention.head_count", n_head, 1 << 14));
  AG_TRY_STATUS(check_positive(path, p + "attention.head_count_kv", n_head_kv, 1 << 14));
  AG_TRY(int64_t head_dim, get_count(f, p + "attention.key_length", false, n_embd / n_head));
  AG_TRY_STATUS(check_positive(path, p + "attention.key_length", head_dim, 1 << 16));
  hp.n_layer = static_cast<int>(n_layer);
  hp.n_embd = static_cast<int>(n_embd);
  hp.n_head = static_cast<int>(n_head);
  hp.n_head_kv = static_cast<int>(n_head_kv);
  hp.head_dim = static_cast<int>(head_dim);
  AG_TRY(int64_t n_rot, get_count(f, p + "rope.dimension_count", false, head_dim));
  hp.n_rot = static_cast<int>(std::clamp<int64_t>(n_rot, 0, head_dim));
  hp.n_ff = static_cast<int>(std::clamp<int64_t>(n_ff, 0, 1 << 24));
  hp.n_ctx_train = static_cast<int>(std::clamp<int64_t>(n_ctx, 0, 1 << 30));
  AG_TRY(double eps, f.get_float_or(p + "attention.layer_norm_rms_epsilon", 1e-5));
  AG_TRY(double base, f.get_float_or(p + "rope.freq_base", 10000.0));
  hp.rms_eps = static_cast<float>(eps);
  hp.rope_base = static_cast<float>(base);

  ModelSpec spec;
  spec.name = path;
  spec.source = "gguf";
  hp.tied_output = f.tensor("output.weight") == nullptr;
  hp.qkv_bias = f.tensor("blk.0.attn_q.bias") != nullptr;
  hp.qk_norm = f.tensor("blk.0.attn_q_norm.weight") != nullptr;
  hp.has_rope_freqs = f.tensor("rope_freqs.weight") != nullptr;
  for (const auto& t : f.tensors()) {
    PlannedTensor pt;
    pt.spec.name = t.name;
    pt.spec.role = tensor_role(t.name, &pt.spec.layer);
    pt.spec.shape = t.shape;
    pt.type = t.type;
    pt.n_bytes = t.n_bytes;
    spec.tensors.push_back(std::move(pt));
  }
  // Vocabulary: the rows of the embedding matrix are what the logits have.
  const gguf::TensorInfo* embd = f.tensor("token_embd.weight");
  if (embd != nullptr && embd->shape.size() >= 2) {
    hp.n_vocab = static_cast<int>(std::min<uint64_t>(embd->shape[1], 1u << 30));
  } else {
    AG_TRY(int64_t n_vocab, get_count(f, p + "vocab_size", true, 0));
    hp.n_vocab = static_cast<int>(std::clamp<int64_t>(n_vocab, 0, 1 << 30));
  }
  if (hp.n_ff == 0) {
    if (const gguf::TensorInfo* up = f.tensor("blk.0.ffn_up.weight"); up && up->shape.size() >= 2)
      hp.n_ff = static_cast<int>(std::min<uint64_t>(up->shape[1], 1u << 24));
  }
  spec.hp = hp;
  finish(spec);
  spec.metadata_bytes = f.data_offset();
  if (const gguf::Value* merges = f.find("tokenizer.ggml.merges"); merges && merges->as_array())
    spec.n_merges = merges->as_array()->items.size();
  spec.file_bytes = f.file_size();
  AG_TRY(int64_t ftype_id, f.get_int_or("general.file_type", -1));
  auto ftype = ftype_id >= 0 ? file_type_from_id(static_cast<uint32_t>(ftype_id)) : std::nullopt;
  spec.type_label = ftype ? std::string(file_type_name(*ftype)) : "mixed";
  return spec;
}

Result<ModelSpec> spec_from_preset(std::string_view preset, FileType ftype) {
  AG_TRY(const ModelPreset* p, find_preset(preset));
  ModelSpec spec = spec_from_hparams(p->hparams, ftype, std::string(p->name), "preset");
  return spec;
}

Result<ModelSpec> spec_from_hf_config(const std::string& path, std::optional<FileType> ftype) {
  std::ifstream in(path);
  if (!in) return error("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error("{}: not a JSON object", path);
  // Multimodal configs nest the language model's settings.
  if (j.contains("text_config") && j["text_config"].is_object()) {
    nlohmann::json text = j["text_config"];
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!text.contains(it.key())) text[it.key()] = it.value();
    j = std::move(text);
  }
  auto get_int = [&](const char* key, bool required, int64_t fallback) -> Result<int64_t> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) return error("{}: '{}' is missing", path, key);
      return fallback;
    }
    if (!it->is_number_integer()) return error("{}: '{}' is not an integer", path, key);
    int64_t v = it->get<int64_t>();
    if (v < 1 || v > (int64_t{1} << 30)) return error("{}: '{}' = {} is out of range", path, key, v);
    return v;
  };
  auto get_float = [&](const char* key, double fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : fallback;
  };
  auto get_bool = [&](const char* key, bool fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
  };
  std::string model_type = j.value("model_type", std::string());
  HParams hp;
  if (model_type == "llama" || model_type == "mistral" || model_type.empty()) hp.arch = "llama";
  else hp.arch = model_type;
  AG_TRY(int64_t n_embd, get_int("hidden_size", true, 0));
  AG_TRY(int64_t n_layer, get_int("num_hidden_layers", true, 0));
  AG_TRY(int64_t n_head, get_int("num_attention_heads", true, 0));
  AG_TRY(int64_t n_head_kv, get_int("num_key_value_heads", false, n_head));
  AG_TRY(int64_t head_dim, get_int("head_dim", false, n_embd / n_head));
  AG_TRY(int64_t n_ff, get_int("intermediate_size", true, 0));
  AG_TRY(int64_t n_vocab, get_int("vocab_size", true, 0));
  AG_TRY(int64_t n_ctx, get_int("max_position_embeddings", false, 4096));
  hp.n_layer = static_cast<int>(n_layer);
  hp.n_embd = static_cast<int>(n_embd);
  hp.n_head = static_cast<int>(n_head);
  hp.n_head_kv = static_cast<int>(n_head_kv);
  hp.head_dim = static_cast<int>(head_dim);
  hp.n_rot = hp.head_dim;
  hp.n_ff = static_cast<int>(n_ff);
  hp.n_vocab = static_cast<int>(n_vocab);
  hp.n_ctx_train = static_cast<int>(n_ctx);
  hp.rms_eps = static_cast<float>(get_float("rms_norm_eps", 1e-5));
  hp.rope_base = static_cast<float>(get_float("rope_theta", 10000.0));
  hp.rope_type = hp.arch == "llama" ? RopeType::Normal : RopeType::Neox;
  hp.tied_output = get_bool("tie_word_embeddings", false);
  hp.qkv_bias = get_bool("attention_bias", hp.arch == "qwen2");
  hp.qk_norm = hp.arch == "qwen3";
  if (auto rs = j.find("rope_scaling"); rs != j.end() && rs->is_object()) {
    std::string type = rs->value("rope_type", rs->value("type", std::string()));
    if (type == "llama3") hp.has_rope_freqs = true;
  }
  FileType ft = FileType::BF16;
  if (ftype) {
    ft = *ftype;
  } else {
    std::string dtype = j.value("torch_dtype", j.value("dtype", std::string("bfloat16")));
    ft = dtype == "float16" ? FileType::F16 : dtype == "float32" ? FileType::F32 : FileType::BF16;
  }
  return spec_from_hparams(hp, ft, path, "hf-config");
}

Result<double> parse_param_count(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  double scale = 1.0;
  if (!s.empty()) {
    char c = s.back();
    if (c == 'B' || c == 'b') scale = 1e9;
    else if (c == 'M' || c == 'm') scale = 1e6;
    else if (c == 'T' || c == 't') scale = 1e12;
    else if (c == 'K' || c == 'k') scale = 1e3;
    if (scale != 1.0) s.remove_suffix(1);
  }
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !(v > 0) || !std::isfinite(v))
    return error("--params '{}': expected a parameter count like 7B, 1.5B or 500M", text);
  v *= scale;
  if (v < 1e3 || v > 1e13) return error("--params '{}': {} parameters is out of range", text, v);
  return v;
}

Result<ModelSpec> spec_from_params(std::string_view params, FileType ftype) {
  AG_TRY(double n, parse_param_count(params));
  // The nearest modern (grouped-query attention) preset lends its shape; weights scale with the
  // parameter count at that preset's bits per weight for this mixture.
  const ModelPreset* best = nullptr;
  double best_dist = 0;
  for (const auto& p : model_presets()) {
    if (p.hparams.n_head_kv == p.hparams.n_head) continue;  // old MHA shapes over-count KV
    double d = std::abs(std::log(static_cast<double>(p.n_params) / n));
    if (best == nullptr || d < best_dist) {
      best = &p;
      best_dist = d;
    }
  }
  ModelSpec spec = spec_from_hparams(best->hparams, ftype, std::string(params), "params");
  const double ratio = n / static_cast<double>(spec.n_params);
  spec.weights_bytes = 0;
  for (auto& t : spec.tensors) {
    t.n_bytes = static_cast<uint64_t>(std::llround(static_cast<double>(t.n_bytes) * ratio));
    spec.weights_bytes += t.n_bytes;
  }
  spec.n_params = static_cast<uint64_t>(std::llround(n));
  spec.shape_scale = ratio;
  spec.file_bytes = spec.weights_bytes + spec.metadata_bytes;
  spec.notes.push_back(fmt::format(
      "shape (layers, KV heads, head dim) assumed from preset {} ({:.2f}B parameters), weights "
      "scaled to {:.2f}B",
      best->name, best->n_params / 1e9, n / 1e9));
  return spec;
}

}  // namespace ag::planner
