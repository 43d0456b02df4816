// `autoglm quantize` run as a process on a tiny llama-shaped F32 model written with the GGUF
// writer: the output's tensor types follow the mixture, metadata is copied, general.file_type is
// set, and every tensor dequantizes close to the original weights.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kquant_test_util.h"
#include "tensor/type_traits.h"

namespace ag {
namespace {

namespace fs = std::filesystem;

constexpr int kLayers = 4;
constexpr uint64_t kEmbd = 256, kKv = 128, kFf = 256, kVocab = 320;

struct CliRun {
  int exit_code = -1;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class QuantizeCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("autoglm_quantize_cli_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    write_model(dir_ / "tiny-f32.gguf");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // The original weights, by tensor name.
  static std::map<std::string, std::vector<float>>& weights() {
    static std::map<std::string, std::vector<float>> w;
    return w;
  }

  static void write_model(const fs::path& path) {
    gguf::Writer w;
    w.set("general.architecture", std::string("llama"));
    w.set("general.name", std::string("tiny"));
    w.set("llama.block_count", uint32_t{kLayers});
    w.set("llama.embedding_length", uint32_t{kEmbd});
    w.set("llama.feed_forward_length", uint32_t{kFf});
    w.set("llama.attention.head_count", uint32_t{4});
    w.set("llama.attention.head_count_kv", uint32_t{2});
    gguf::Array tokens{gguf::ValueType::STRING, {}};
    for (int i = 0; i < 8; ++i) tokens.items.emplace_back(std::string("tok") + std::to_string(i));
    w.set("tokenizer.ggml.tokens", tokens);
    uint32_t seed = 1;
    auto add = [&](const std::string& name, std::vector<uint64_t> shape, float std_dev) {
      uint64_t n = 1;
      for (uint64_t d : shape) n *= d;
      auto x = test::gaussian(static_cast<size_t>(n), seed++, std_dev);
      weights()[name] = x;
      std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(weights()[name].data()),
                                     x.size() * sizeof(float));
      ASSERT_TRUE(w.add_tensor(name, DType::F32, shape, bytes).ok()) << name;
    };
    add("token_embd.weight", {kEmbd, kVocab}, 0.02f);
    add("output_norm.weight", {kEmbd}, 1.0f);
    add("output.weight", {kEmbd, kVocab}, 0.02f);
    for (int i = 0; i < kLayers; ++i) {
      const std::string p = "blk." + std::to_string(i) + ".";
      add(p + "attn_norm.weight", {kEmbd}, 1.0f);
      add(p + "attn_q.weight", {kEmbd, kEmbd}, 0.02f);
      add(p + "attn_k.weight", {kEmbd, kKv}, 0.02f);
      add(p + "attn_v.weight", {kEmbd, kKv}, 0.02f);
      add(p + "attn_output.weight", {kEmbd, kEmbd}, 0.02f);
      add(p + "ffn_norm.weight", {kEmbd}, 1.0f);
      add(p + "ffn_gate.weight", {kEmbd, kFf}, 0.02f);
      add(p + "ffn_down.weight", {kFf, kEmbd}, 0.02f);
      add(p + "ffn_up.weight", {kEmbd, kFf}, 0.02f);
    }
    ASSERT_TRUE(w.write(path.string()).ok());
  }

  static CliRun quantize(const std::string& args) {
    const std::string binary = AUTOGLM_BINARY_DIR "/bin/autoglm";
    EXPECT_TRUE(fs::exists(binary)) << binary << " is not built";
    const fs::path err = dir_ / "stderr.txt";
    const std::string cmd = "'" + binary + "' quantize " + args + " 2>'" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    CliRun r;
    if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    r.err = slurp(err);
    return r;
  }

  // Quantizes the tiny model, checks types, metadata and reconstruction; returns the file.
  static void check(const std::string& type, uint32_t file_type,
                    const std::map<std::string, DType>& expected_types) {
    std::string stem = type;
    for (char& c : stem) c = c == ' ' ? '_' : c;
    const fs::path out = dir_ / ("tiny-" + stem + ".gguf");
    const CliRun r = quantize("'" + (dir_ / "tiny-f32.gguf").string() + "' '" + out.string() +
                              "' " + type + " --threads 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("rmse"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("model size"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out.string() + ".partial"));

    auto f = gguf::File::open(out.string());
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(*f->get_int("general.file_type"), file_type);
    EXPECT_EQ(*f->get_int("general.quantization_version"), 2);
    EXPECT_EQ(*f->get_string("general.name"), "tiny");
    ASSERT_NE(f->find("tokenizer.ggml.tokens"), nullptr);
    EXPECT_EQ(f->find("tokenizer.ggml.tokens")->as_array()->items.size(), 8u);
    ASSERT_EQ(f->tensors().size(), weights().size());

    // Relative RMSE bounds per output type for normal weights (measured values x ~1.5).
    const std::map<DType, double> max_rel = {{DType::F32, 0.0},
                                             {DType::Q8_0, 0.006},
                                             {DType::Q4_0, 0.14},
                                             {DType::Q4_K, 0.11},
                                             {DType::Q6_K, 0.03}};
    for (const auto& t : f->tensors()) {
      SCOPED_TRACE(t.name);
      ASSERT_TRUE(expected_types.count(t.name));
      EXPECT_EQ(dtype_name(t.type), dtype_name(expected_types.at(t.name)));
      const auto& x = weights().at(t.name);
      ASSERT_EQ(t.n_elements, x.size());
      std::vector<float> y(x.size());
      if (t.type == DType::F32) {
        std::memcpy(y.data(), t.data, x.size() * sizeof(float));
      } else {
        type_traits(t.type).to_float(t.data, y.data(), static_cast<int64_t>(x.size()));
      }
      double err = 0, norm = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        err += (static_cast<double>(x[i]) - y[i]) * (x[i] - y[i]);
        norm += static_cast<double>(x[i]) * x[i];
      }
      EXPECT_LE(std::sqrt(err / norm), max_rel.at(t.type));
    }
  }

  // Expected types: `weight` for every 2-D tensor, f32 for norms, then the overrides.
  static std::map<std::string, DType> types(DType weight,
                                            const std::map<std::string, DType>& overrides) {
    std::map<std::string, DType> m;
    for (const auto& [name, x] : weights()) {
      m[name] = name.find("norm") != std::string::npos ? DType::F32 : weight;
    }
    for (const auto& [name, t] : overrides) m[name] = t;
    return m;
  }

  static fs::path dir_;
};

fs::path QuantizeCli::dir_;

TEST_F(QuantizeCli, Q8_0) { check("q8_0", 7, types(DType::Q8_0, {})); }

TEST_F(QuantizeCli, Q4_0) {
  check("Q4_0", 2, types(DType::Q4_0, {{"output.weight", DType::Q6_K}}));
}

TEST_F(QuantizeCli, Q4_K_M) {
  // 4 layers: llama.cpp's "more bits" layers are 2 and 3 for attn_v and ffn_down.
  check("q4_k_m", 15,
        types(DType::Q4_K, {{"output.weight", DType::Q6_K},
                            {"blk.2.attn_v.weight", DType::Q6_K},
                            {"blk.3.attn_v.weight", DType::Q6_K},
                            {"blk.2.ffn_down.weight", DType::Q6_K},
                            {"blk.3.ffn_down.weight", DType::Q6_K}}));
}

TEST_F(QuantizeCli, ErrorsAreOneLineAndExitOne) {
  const std::string in = "'" + (dir_ / "tiny-f32.gguf").string() + "'";
  const std::string out = "'" + (dir_ / "never.gguf").string() + "'";
  for (const std::string& args :
       {in + " " + out + " q4_k_x", "'" + (dir_ / "missing.gguf").string() + "' " + out + " q8_0",
        in + " " + in + " q8_0"}) {
    const CliRun r = quantize(args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_EQ(r.err.rfind("autoglm: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "never.gguf"));
}

TEST_F(QuantizeCli, PureGivesEveryWeightTheType) {
  check("Q4_K_M --pure", 15, types(DType::Q4_K, {}));
}

TEST_F(QuantizeCli, NonFiniteWeightsAreAnErrorNamingTheTensor) {
  gguf::Writer w;
  w.set("general.architecture", std::string("llama"));
  std::vector<float> x(512 * 4, 0.01f);
  x[700] = std::nanf("");
  ASSERT_TRUE(w.add_tensor("blk.0.attn_q.weight", DType::F32, {512, 4},
                           std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(x.data()),
                                                    x.size() * sizeof(float)))
                  .ok());
  const fs::path in = dir_ / "nan.gguf", out = dir_ / "nan-q4_k.gguf";
  ASSERT_TRUE(w.write(in.string()).ok());
  const CliRun r = quantize("'" + in.string() + "' '" + out.string() + "' q4_k_m");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("autoglm: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("blk.0.attn_q.weight"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("row 1"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));
}

}  // namespace
}  // namespace ag
