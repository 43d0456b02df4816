#include "planner/synth_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "planner/model_presets.h"
#include "planner/model_tensors.h"
#include "tensor/type_traits.h"

namespace ag::planner {

namespace {

constexpr float kStd = 0.02f;
constexpr int64_t kRowsPerChunk = 16;  // rows generated and quantized per work item

// GGUF token types (llama.cpp's llama_token_type).
constexpr int32_t kTokenNormal = 1;
constexpr int32_t kTokenControl = 3;
constexpr int32_t kTokenUnused = 5;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256** (all output bits usable: the ziggurat takes its strip index from the low ones),
// seeded per (seed, tensor, row): every row's values are fixed by its coordinates, so the file is
// the same whatever the thread count.
struct Rng {
  uint64_t s[4];
  Rng(uint64_t seed, uint64_t tensor, uint64_t row) {
    uint64_t st = seed ^ (tensor * 0xd1b54a32d192ed03ull) ^ (row * 0x8cb92ba72f3d8dd7ull);
    for (auto& x : s) x = splitmix64(st);
  }
  uint64_t next() {
    const uint64_t x = s[1] * 5;
    const uint64_t result = ((x << 7) | (x >> 57)) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
  }
};

// Standard normal samples by Marsaglia and Tsang's ziggurat (J. Stat. Software 5(8), 2000):
// 128 strips of equal area under the density; ~98% of samples cost one random number, one table
// compare and one multiply, several times faster than Box–Muller's log, sqrt, sin and cos.
class Ziggurat {
 public:
  Ziggurat() {
    constexpr double m1 = 2147483648.0;  // 2^31
    constexpr double v = 9.91256303526217e-3;  // area of each strip
    double d = kR, t = kR;
    const double q = v / std::exp(-0.5 * d * d);
    k_[0] = static_cast<uint32_t>((d / q) * m1);
    k_[1] = 0;
    w_[0] = q / m1;
    w_[127] = d / m1;
    f_[0] = 1.0;
    f_[127] = std::exp(-0.5 * d * d);
    for (int i = 126; i >= 1; --i) {
      d = std::sqrt(-2.0 * std::log(v / d + std::exp(-0.5 * d * d)));
      k_[i + 1] = static_cast<uint32_t>((d / t) * m1);
      t = d;
      f_[i] = std::exp(-0.5 * d * d);
      w_[i] = d / m1;
    }
  }

  template <typename Next32>
  double sample(Next32&& next32) const {
    while (true) {
      const int32_t hz = static_cast<int32_t>(next32());
      const int iz = hz & 127;
      const uint32_t mag = hz < 0 ? 0u - static_cast<uint32_t>(hz) : static_cast<uint32_t>(hz);
      const double x = hz * w_[iz];
      if (mag < k_[iz]) return x;  // inside the strip's rectangle: the common case
      if (iz == 0) {
        // The tail beyond kR, by Marsaglia's exponential method.
        double xt, y;
        do {
          xt = -std::log(uniform(next32)) / kR;
          y = -std::log(uniform(next32));
        } while (y + y < xt * xt);
        return hz > 0 ? kR + xt : -kR - xt;
      }
      // The wedge between the rectangle and the curve.
      if (f_[iz] + uniform(next32) * (f_[iz - 1] - f_[iz]) < std::exp(-0.5 * x * x)) return x;
    }
  }

 private:
  static constexpr double kR = 3.442619855899;  // where the tail starts
  template <typename Next32>
  static double uniform(Next32&& next32) {  // (0, 1]
    return (static_cast<double>(next32()) + 1.0) * 0x1.0p-32;
  }
  uint32_t k_[128];
  double w_[128];
  double f_[128];
};

const Ziggurat& ziggurat() {
  static const Ziggurat z;
  return z;
}

void fill_normal(Rng& rng, float* out, int64_t n, float std) {
  const Ziggurat& z = ziggurat();
  // Two 32-bit draws per 64-bit output of the generator.
  uint64_t bits = 0;
  bool have = false;
  auto next32 = [&]() -> uint32_t {
    if (!have) {
      bits = rng.next();
      have = true;
      return static_cast<uint32_t>(bits);
    }
    have = false;
    return static_cast<uint32_t>(bits >> 32);
  };
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(z.sample(next32)) * std;
}

bool is_norm(TensorRole r) {
  return r == TensorRole::AttnNorm || r == TensorRole::FfnNorm || r == TensorRole::OutputNorm ||
         r == TensorRole::AttnQNorm || r == TensorRole::AttnKNorm;
}

void set_arch_keys(gguf::Writer& w, const ModelPreset& p) {
  const HParams& hp = p.hparams;
  const std::string a = hp.arch + ".";
  auto u32 = [](int v) { return static_cast<uint32_t>(v); };
  w.set(a + "vocab_size", u32(hp.n_vocab));
  w.set(a + "context_length", u32(hp.n_ctx_train));
  w.set(a + "embedding_length", u32(hp.n_embd));
  w.set(a + "block_count", u32(hp.n_layer));
  w.set(a + "feed_forward_length", u32(hp.n_ff));
  w.set(a + "attention.head_count", u32(hp.n_head));
  w.set(a + "attention.head_count_kv", u32(hp.n_head_kv));
  w.set(a + "attention.key_length", u32(hp.head_dim));
  w.set(a + "attention.value_length", u32(hp.head_dim));
  w.set(a + "rope.dimension_count", u32(hp.n_rot));
  w.set(a + "rope.freq_base", hp.rope_base);
  w.set(a + "attention.layer_norm_rms_epsilon", hp.rms_eps);
  if (hp.rope_scaling.type == RopeScalingType::Linear) {
    w.set(a + "rope.scaling.type", std::string("linear"));
    w.set(a + "rope.scaling.factor", hp.rope_scaling.factor);
  }
}

// GPT-2's byte-to-unicode map: printable bytes stand for themselves, the rest map to U+0100 on.
std::string byte_token(int b) {
  const bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  uint32_t cp = static_cast<uint32_t>(b);
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; ++x) {
      const bool p = (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
      if (!p) ++n;
    }
    cp = 256u + static_cast<uint32_t>(n);
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

gguf::Array array_of(gguf::ValueType t) {
  gguf::Array a;
  a.type = t;
  return a;
}

// A byte-level BPE vocabulary with no merges: 256 byte tokens and <|endoftext|>, padded.
void set_byte_vocab(gguf::Writer& w, int n_vocab, SynthReport& report) {
  gguf::Array tokens = array_of(gguf::ValueType::STRING);
  gguf::Array types = array_of(gguf::ValueType::INT32);
  for (int b = 0; b < 256; ++b) {
    tokens.items.emplace_back(byte_token(b));
    types.items.emplace_back(kTokenNormal);
  }
  tokens.items.emplace_back(std::string("<|endoftext|>"));
  types.items.emplace_back(kTokenControl);
  report.n_vocab_tokens = static_cast<int>(tokens.items.size());
  for (int id = static_cast<int>(tokens.items.size()); id < n_vocab; ++id) {
    tokens.items.emplace_back(fmt::format("[PAD{}]", id));
    types.items.emplace_back(kTokenUnused);
    ++report.n_padding;
  }
  w.set("tokenizer.ggml.model", std::string("gpt2"));
  w.set("tokenizer.ggml.pre", std::string("default"));
  w.set("tokenizer.ggml.tokens", std::move(tokens));
  w.set("tokenizer.ggml.token_type", std::move(types));
  w.set("tokenizer.ggml.merges", array_of(gguf::ValueType::STRING));
  w.set("tokenizer.ggml.bos_token_id", uint32_t{256});
  w.set("tokenizer.ggml.eos_token_id", uint32_t{256});
  w.set("tokenizer.ggml.add_bos_token", false);
}

// Copies tokenizer.* from a vocab GGUF; pads its token list when the preset's embedding matrix is
// larger than the tokenizer (Qwen: 151,936 rows for 151,665 tokens), as llama.cpp's converters do.
Status copy_vocab(gguf::Writer& w, const std::string& path, const ModelPreset& p, SynthReport& report) {
  AG_TRY(gguf::File f, gguf::File::open(path));
  const gguf::Value* tok = f.find("tokenizer.ggml.tokens");
  if (tok == nullptr || tok->as_array() == nullptr || tok->as_array()->type != gguf::ValueType::STRING)
    return error("{}: tokenizer.ggml.tokens is missing or not a string array", path);
  const size_t n = tok->as_array()->items.size();
  const size_t want = static_cast<size_t>(p.hparams.n_vocab);
  const bool padded = p.n_vocab_tokens < p.hparams.n_vocab;
  if (n > want || (n < want && !padded))
    return error("{}: {} tokens, but {} has a vocabulary of {}{}", path, n, p.name, want,
                 padded ? "" : " (its embedding is not padded, so the sizes must match)");
  report.n_vocab_tokens = static_cast<int>(n);
  for (const auto& [key, value] : f.metadata()) {
    if (!key.starts_with("tokenizer.")) continue;
    gguf::Value v = value;
    if (gguf::Array* arr = std::get_if<gguf::Array>(&v.data); arr != nullptr && arr->items.size() == n &&
        (key == "tokenizer.ggml.tokens" || key == "tokenizer.ggml.token_type" ||
         key == "tokenizer.ggml.scores")) {
      for (size_t id = n; id < want; ++id) {
        if (key == "tokenizer.ggml.tokens") arr->items.emplace_back(fmt::format("[PAD{}]", id));
        else if (key == "tokenizer.ggml.token_type") arr->items.emplace_back(kTokenUnused);
        else arr->items.emplace_back(-1000.0f);
      }
    }
    w.set(key, std::move(v));
  }
  report.n_padding = static_cast<int>(want - n);
  return {};
}

}  // namespace

Result<SynthReport> synth_model(const SynthOptions& o) {
  AG_TRY(const ModelPreset* preset, find_preset(o.preset));
  return synth_model(o, *preset);
}

Result<SynthReport> synth_model(const SynthOptions& o, const ModelPreset& p) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelPreset* preset = &p;
  const HParams& hp = preset->hparams;
  if (o.vocab_path.empty() && hp.n_vocab < 257)
    return error("{}: a vocabulary of {} is too small for the 257-token byte vocabulary", p.name,
                 hp.n_vocab);
  SynthReport report;

  gguf::Writer w;
  w.set("general.architecture", hp.arch);
  w.set("general.name", fmt::format("{} (synthetic: random weights)", preset->name));
  w.set("general.file_type", static_cast<uint32_t>(o.ftype));
  w.set("general.quantization_version", uint32_t{2});
  set_arch_keys(w, *preset);
  if (o.vocab_path.empty()) set_byte_vocab(w, hp.n_vocab, report);
  else AG_TRY_STATUS(copy_vocab(w, o.vocab_path, *preset, report));

  const std::vector<TensorSpec> tensors = model_tensors(hp);
  const std::vector<DType> types = assign_types(hp, tensors, o.ftype);
  const std::vector<float> rope_freqs =
      hp.has_rope_freqs ? llama3_rope_freqs(hp, preset->llama3_rope) : std::vector<float>{};
  for (size_t ti = 0; ti < tensors.size(); ++ti) {
    report.n_params += tensors[ti].n_elements();
    report.tensor_bytes += tensors[ti].n_elements() / dtype_info(types[ti]).block_size *
                           dtype_info(types[ti]).type_size;
  }
  report.n_tensors = tensors.size();

  ThreadPool pool(std::max(1, o.n_threads));
  uint64_t done_bytes = 0;
  for (size_t ti = 0; ti < tensors.size(); ++ti) {
    const TensorSpec& t = tensors[ti];
    const DType type = types[ti];
    const int64_t n_per_row = static_cast<int64_t>(t.shape[0]);
    const int64_t n_rows = static_cast<int64_t>(t.n_elements() / t.shape[0]);
    const uint64_t row_size = row_bytes(type, static_cast<uint64_t>(n_per_row));
    // Called by the writer when this tensor's turn comes: one tensor in memory at a time.
    gguf::Writer::Fill fill = [&, ti, type, n_per_row, n_rows, row_size](std::span<uint8_t> out) {
      const TensorSpec& spec = tensors[ti];
      pool.parallel_for(n_rows, kRowsPerChunk, [&](int64_t begin, int64_t end) {
        std::vector<float> buf(static_cast<size_t>(kRowsPerChunk * n_per_row));  // [chunk, row]
        for (int64_t r0 = begin; r0 < end; r0 += kRowsPerChunk) {
          const int64_t rows = std::min(kRowsPerChunk, end - r0);
          for (int64_t r = 0; r < rows; ++r) {
            float* row = buf.data() + r * n_per_row;
            if (spec.role == TensorRole::RopeFreqs) {
              std::copy(rope_freqs.begin(), rope_freqs.end(), row);
            } else if (is_norm(spec.role)) {
              std::fill(row, row + n_per_row, 1.0f);
            } else {
              Rng rng(o.seed, ti, static_cast<uint64_t>(r0 + r));
              fill_normal(rng, row, n_per_row, kStd);
            }
          }
          quantize_weights(type, buf.data(), out.data() + static_cast<size_t>(r0) * row_size, rows,
                           n_per_row, nullptr);
        }
      });
      done_bytes += out.size();
      if (o.log != nullptr)
        std::fprintf(o.log, "\rsynth: %5.1f%%  %-28s %-5s",
                     100.0 * static_cast<double>(done_bytes) /
                         static_cast<double>(std::max<uint64_t>(1, report.tensor_bytes)),
                     spec.name.c_str(), std::string(dtype_name(type)).c_str());
    };
    AG_TRY_STATUS(w.add_tensor(t.name, type, t.shape, std::move(fill)));
  }
  AG_TRY_STATUS(w.write(o.output_path));
  if (o.log != nullptr) std::fprintf(o.log, "\n");
  AG_TRY(gguf::File check, gguf::File::open(o.output_path));
  report.file_bytes = check.file_size();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace ag::planner
