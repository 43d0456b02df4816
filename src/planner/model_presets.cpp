#include "planner/model_presets.h"

#include <array>
#include <cmath>
#include <numbers>
#include <string>

#include <fmt/format.h>

namespace ag::planner {

namespace {

struct Shape {
  const char* arch;
  int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx_train;
  float rms_eps, rope_base;
  bool tied, qkv_bias, qk_norm;
};

HParams make_hparams(const Shape& s) {
  HParams hp;
  hp.arch = s.arch;
  hp.n_layer = s.n_layer;
  hp.n_embd = s.n_embd;
  hp.n_head = s.n_head;
  hp.n_head_kv = s.n_head_kv;
  hp.head_dim = s.head_dim;
  hp.n_rot = s.head_dim;
  hp.n_ff = s.n_ff;
  hp.n_vocab = s.n_vocab;
  hp.n_ctx_train = s.n_ctx_train;
  hp.rms_eps = s.rms_eps;
  hp.rope_base = s.rope_base;
  hp.rope_type = std::string_view(s.arch) == "llama" ? RopeType::Normal : RopeType::Neox;
  hp.tied_output = s.tied;
  hp.qkv_bias = s.qkv_bias;
  hp.qk_norm = s.qk_norm;
  return hp;
}

ModelPreset make(std::string_view name, std::string_view repo, const Shape& s, int n_tokens,
                 uint64_t n_params, Llama3RopeScaling llama3 = {}, float linear_factor = 0.0f) {
  ModelPreset p;
  p.name = name;
  p.hf_repo = repo;
  p.hparams = make_hparams(s);
  p.n_vocab_tokens = n_tokens;
  p.n_params = n_params;
  p.llama3_rope = llama3;
  if (llama3.factor > 0.0f) p.hparams.has_rope_freqs = true;
  if (linear_factor > 0.0f) {
    p.hparams.rope_scaling.type = RopeScalingType::Linear;
    p.hparams.rope_scaling.factor = linear_factor;
  }
  return p;
}

// Values from each model's config.json on Hugging Face (https://huggingface.co/<repo>/blob/main/
// config.json): hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
// head_dim, intermediate_size, vocab_size, max_position_embeddings, rms_norm_eps, rope_theta,
// rope_scaling, tie_word_embeddings; q/k/v biases are Qwen2's architecture, q/k norms Qwen3's.
// n_params is the published parameter count; tests check the shapes reproduce it exactly.
const std::array<ModelPreset, 12>& table() {
  static const std::array<ModelPreset, 12> presets = [] {
    const Llama3RopeScaling llama31{8.0f, 1.0f, 4.0f, 8192};
    const Llama3RopeScaling llama32{32.0f, 1.0f, 4.0f, 8192};
    return std::array<ModelPreset, 12>{
        make("llama-3.2-1b", "meta-llama/Llama-3.2-1B",
             {"llama", 16, 2048, 32, 8, 64, 8192, 128256, 131072, 1e-5f, 500000.0f, true, false,
              false},
             128256, 1235814400, llama32),
        make("llama-3.1-8b", "meta-llama/Llama-3.1-8B",
             {"llama", 32, 4096, 32, 8, 128, 14336, 128256, 131072, 1e-5f, 500000.0f, false,
              false, false},
             128256, 8030261248, llama31),
        make("llama-3.1-70b", "meta-llama/Llama-3.1-70B",
             {"llama", 80, 8192, 64, 8, 128, 28672, 128256, 131072, 1e-5f, 500000.0f, false,
              false, false},
             128256, 70553706496, llama31),
        make("tinyllama-1.1b", "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
             {"llama", 22, 2048, 32, 4, 64, 5632, 32000, 2048, 1e-5f, 10000.0f, false, false,
              false},
             32000, 1100048384),
        make("deepseek-coder-6.7b", "deepseek-ai/deepseek-coder-6.7b-base",
             {"llama", 32, 4096, 32, 32, 128, 11008, 32256, 16384, 1e-6f, 100000.0f, false, false,
              false},
             32022, 6740512768, {}, 4.0f),
        make("codellama-13b", "codellama/CodeLlama-13b-hf",
             {"llama", 40, 5120, 40, 40, 128, 13824, 32016, 16384, 1e-5f, 1000000.0f, false,
              false, false},
             32016, 13016028160),
        make("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B",
             {"qwen2", 24, 896, 14, 2, 64, 4864, 151936, 32768, 1e-6f, 1000000.0f, true, true,
              false},
             151665, 494032768),
        make("qwen2.5-7b", "Qwen/Qwen2.5-7B",
             {"qwen2", 28, 3584, 28, 4, 128, 18944, 152064, 131072, 1e-6f, 1000000.0f, false, true,
              false},
             151665, 7615616512),
        make("qwen2.5-coder-1.5b", "Qwen/Qwen2.5-Coder-1.5B",
             {"qwen2", 28, 1536, 12, 2, 128, 8960, 151936, 32768, 1e-6f, 1000000.0f, true, true,
              false},
             151665, 1543714304),
        make("qwen2.5-coder-7b", "Qwen/Qwen2.5-Coder-7B",
             {"qwen2", 28, 3584, 28, 4, 128, 18944, 152064, 32768, 1e-6f, 1000000.0f, false, true,
              false},
             151665, 7615616512),
        make("qwen2.5-coder-32b", "Qwen/Qwen2.5-Coder-32B",
             {"qwen2", 64, 5120, 40, 8, 128, 27648, 152064, 32768, 1e-6f, 1000000.0f, false, true,
              false},
             151665, 32763876352),
        make("qwen3-0.6b", "Qwen/Qwen3-0.6B",
             {"qwen3", 28, 1024, 16, 8, 128, 3072, 151936, 40960, 1e-6f, 1000000.0f, true, false,
              true},
             151669, 596049920),
    };
  }();
  return presets;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::span<const ModelPreset> model_presets() { return table(); }

Result<const ModelPreset*> find_preset(std::string_view name) {
  std::string known;
  for (const auto& p : table()) {
    if (iequals(p.name, name)) return &p;
    if (!known.empty()) known += ", ";
    known += p.name;
  }
  return error("unknown model preset '{}' (known: {})", name, known);
}

std::vector<float> llama3_rope_freqs(const HParams& hp, const Llama3RopeScaling& s) {
  const int n = hp.n_rot / 2;
  std::vector<float> out(static_cast<size_t>(n), 1.0f);
  if (s.factor <= 0.0f) return out;
  const double low_freq_wavelen = s.n_ctx_orig / static_cast<double>(s.low_freq_factor);
  const double high_freq_wavelen = s.n_ctx_orig / static_cast<double>(s.high_freq_factor);
  for (int i = 0; i < n; ++i) {
    const double freq = 1.0 / std::pow(static_cast<double>(hp.rope_base), 2.0 * i / hp.n_rot);
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double divisor = 1.0;
    if (wavelen < high_freq_wavelen) {
      divisor = 1.0;  // high frequencies: unchanged
    } else if (wavelen > low_freq_wavelen) {
      divisor = s.factor;  // low frequencies: fully interpolated
    } else {
      const double smooth = (s.n_ctx_orig / wavelen - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
      divisor = 1.0 / ((1.0 - smooth) / s.factor + smooth);
    }
    out[static_cast<size_t>(i)] = static_cast<float>(divisor);
  }
  return out;
}

}  // namespace ag::planner
