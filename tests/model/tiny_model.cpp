#include "tiny_model.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include <unistd.h>

#include "gguf/gguf.h"
#include "scratch_dir.h"
#include "tensor/type_traits.h"

namespace ag::test {

namespace {

std::vector<uint8_t> as_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  std::vector<float> normal(size_t n, float mean, float std) {
    std::normal_distribution<float> dist(mean, std);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng_);
    return v;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

std::string temp_path(const std::string& name) { return scratch_path(name); }

Status write_tiny_model(const TinySpec& s, const std::string& path) {
  gguf::Writer w;
  const std::string a = s.arch + ".";
  w.set("general.architecture", s.arch);
  w.set("general.name", std::string("tiny-") + s.arch);
  w.set(a + "block_count", static_cast<uint32_t>(s.n_layer));
  w.set(a + "context_length", static_cast<uint32_t>(s.n_ctx_train));
  w.set(a + "embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set(a + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set(a + "attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set(a + "attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set(a + "rope.freq_base", s.rope_base);
  if (s.head_dim * s.n_head != s.n_embd) {
    w.set(a + "attention.key_length", static_cast<uint32_t>(s.head_dim));
    w.set(a + "attention.value_length", static_cast<uint32_t>(s.head_dim));
  }
  if (s.n_rot > 0) w.set(a + "rope.dimension_count", static_cast<uint32_t>(s.n_rot));
  if (!s.rope_scaling.empty()) {
    w.set(a + "rope.scaling.type", s.rope_scaling);
    w.set(a + "rope.scaling.factor", s.rope_factor);
  }
  if (s.rope_n_ctx_orig > 0)
    w.set(a + "rope.scaling.original_context_length", static_cast<uint32_t>(s.rope_n_ctx_orig));

  Generator gen(s.seed);
  const uint64_t n_q = static_cast<uint64_t>(s.n_head) * s.head_dim;
  const uint64_t n_kv = static_cast<uint64_t>(s.n_head_kv) * s.head_dim;
  const uint64_t n_rot = s.n_rot > 0 ? static_cast<uint64_t>(s.n_rot) : s.head_dim;
  auto vec = [&](const std::string& name, uint64_t n, float mean, float std) -> Status {
    return w.add_tensor(name, DType::F32, {n}, as_bytes(gen.normal(n, mean, std)));
  };
  auto mat = [&](const std::string& name, uint64_t n_in, uint64_t n_out) -> Status {
    std::vector<float> v = gen.normal(n_in * n_out, 0.0f, s.weight_std);
    if (s.dequantized_from != DType::F32) {
      std::vector<uint8_t> q(row_bytes(s.dequantized_from, n_in) * n_out);
      quantize_weights(s.dequantized_from, v.data(), q.data(), static_cast<int64_t>(n_out),
                       static_cast<int64_t>(n_in), nullptr);
      type_traits(s.dequantized_from).to_float(q.data(), v.data(), static_cast<int64_t>(v.size()));
    }
    if (s.matrix_type == DType::F32) return w.add_tensor(name, DType::F32, {n_in, n_out}, as_bytes(v));
    std::vector<uint8_t> q(row_bytes(s.matrix_type, n_in) * n_out);
    quantize_weights(s.matrix_type, v.data(), q.data(), static_cast<int64_t>(n_out),
                     static_cast<int64_t>(n_in), nullptr);
    return w.add_tensor(name, s.matrix_type, {n_in, n_out}, q);
  };

  AG_TRY_STATUS(mat("token_embd.weight", s.n_embd, s.n_vocab));
  AG_TRY_STATUS(vec("output_norm.weight", s.n_embd, 1.0f, 0.1f));
  if (!s.tied) AG_TRY_STATUS(mat("output.weight", s.n_embd, s.n_vocab));
  if (s.rope_freqs) {
    // divisors >= 1 growing with the dimension, like Llama 3's long-wavelength scaling
    std::vector<float> ff(n_rot / 2);
    for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + 7.0f * static_cast<float>(i) / ff.size();
    AG_TRY_STATUS(w.add_tensor("rope_freqs.weight", DType::F32, {n_rot / 2}, as_bytes(ff)));
  }
  for (int il = 0; il < s.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    AG_TRY_STATUS(vec(p + "attn_norm.weight", s.n_embd, 1.0f, 0.1f));
    AG_TRY_STATUS(mat(p + "attn_q.weight", s.n_embd, n_q));
    AG_TRY_STATUS(mat(p + "attn_k.weight", s.n_embd, n_kv));
    AG_TRY_STATUS(mat(p + "attn_v.weight", s.n_embd, n_kv));
    AG_TRY_STATUS(mat(p + "attn_output.weight", n_q, s.n_embd));
    if (s.arch == "qwen2") {
      AG_TRY_STATUS(vec(p + "attn_q.bias", n_q, 0.0f, 0.2f));
      AG_TRY_STATUS(vec(p + "attn_k.bias", n_kv, 0.0f, 0.2f));
      AG_TRY_STATUS(vec(p + "attn_v.bias", n_kv, 0.0f, 0.2f));
    }
    if (s.arch == "qwen3") {
      AG_TRY_STATUS(vec(p + "attn_q_norm.weight", s.head_dim, 1.0f, 0.2f));
      AG_TRY_STATUS(vec(p + "attn_k_norm.weight", s.head_dim, 1.0f, 0.2f));
    }
    AG_TRY_STATUS(vec(p + "ffn_norm.weight", s.n_embd, 1.0f, 0.1f));
    AG_TRY_STATUS(mat(p + "ffn_gate.weight", s.n_embd, s.n_ff));
    AG_TRY_STATUS(mat(p + "ffn_up.weight", s.n_embd, s.n_ff));
    AG_TRY_STATUS(mat(p + "ffn_down.weight", s.n_ff, s.n_embd));
  }
  return w.write(path);
}

}  // namespace ag::test
