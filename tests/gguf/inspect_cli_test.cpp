// `autoglm inspect` run as a process: a good file prints JSON and exits 0; a corrupt file exits 1
// with exactly one line on stderr, "autoglm: <error>".
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "gguf_bytes.h"
#include "tensor/packed.h"

namespace ag::gguf {
namespace {

using testing::Bytes;
using testing::test_dir;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run_inspect(const std::filesystem::path& dir, const std::string& args) {
  const std::string binary = AUTOGLM_BINARY_DIR "/bin/autoglm";
  EXPECT_TRUE(std::filesystem::exists(binary)) << binary << " is not built";
  auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  std::string cmd = fmt::format("'{}' inspect {} >'{}' 2>'{}'", binary, args, out.string(),
                                err.string());
  int status = std::system(cmd.c_str());
  RunResult r;
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(InspectCli, CorruptFilesGiveOneLineAndExitOne) {
  auto dir = test_dir();
  std::vector<std::pair<std::string, Bytes>> cases;
  Bytes magic;
  magic.u32(0x12345678).u32(3).u64(0).u64(0);
  cases.emplace_back("magic.gguf", magic);
  Bytes version;
  version.header(1, 0, 0);
  cases.emplace_back("v1.gguf", version);
  Bytes counts;
  counts.header(3, uint64_t{1} << 50, 0);
  cases.emplace_back("counts.gguf", counts);
  Bytes newline_key;  // a key holding a newline must not split the error line
  newline_key.header(3, 0, 2).kv_u32("bad\nkey", 1).kv_u32("bad\nkey", 1);
  cases.emplace_back("newline.gguf", newline_key);
  Bytes past_end;
  past_end.header(3, 1, 0).tensor("w", {1024}, 0, 0).pad_to(32).zeros(32);
  cases.emplace_back("past_end.gguf", past_end);
  cases.emplace_back("empty.gguf", Bytes{});

  for (const auto& [name, bytes] : cases) {
    auto path = dir / name;
    write_file(path, bytes.data);
    RunResult r = run_inspect(dir, "'" + path.string() + "'");
    EXPECT_EQ(r.exit_code, 1) << name;
    EXPECT_TRUE(r.out.empty()) << name << ": " << r.out;
    ASSERT_FALSE(r.err.empty()) << name;
    EXPECT_EQ(r.err.rfind("autoglm: " + path.string() + ": ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << name << ": not one line: " << r.err;
  }
  RunResult missing = run_inspect(dir, "'" + (dir / "missing.gguf").string() + "'");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err.find('\n'), missing.err.size() - 1) << missing.err;
}

TEST(InspectCli, JsonSummary) {
  auto dir = test_dir();
  Writer w;
  w.set("general.architecture", std::string("qwen2"));
  w.set("qwen2.block_count", uint32_t{2});
  w.set("qwen2.embedding_length", uint32_t{64});
  w.set("qwen2.attention.head_count", uint32_t{4});
  w.set("qwen2.attention.head_count_kv", uint32_t{2});
  w.set("qwen2.feed_forward_length", uint32_t{128});
  w.set("qwen2.context_length", uint32_t{4096});
  w.set("qwen2.rope.freq_base", 1000000.0f);
  std::vector<Value> tokens;
  for (int i = 0; i < 100; ++i) tokens.emplace_back(fmt::format("tok{}", i));
  tokens.emplace_back(std::string("\xff\xfe"));  // invalid UTF-8 must not break --json
  w.set("tokenizer.ggml.tokens", Value(Array{ValueType::STRING, tokens}));
  std::vector<uint8_t> f16(64 * 101 * 2), q8(34 * 2 * 64);
  ASSERT_TRUE(w.add_tensor("token_embd.weight", DType::F16, {64, 101}, f16).ok());
  ASSERT_TRUE(w.add_tensor("blk.0.attn_q.weight", DType::Q8_0, {64, 64}, q8).ok());
  auto path = dir / "model.gguf";
  ASSERT_TRUE(w.write(path.string()).ok());

  RunResult r = run_inspect(dir, "--json '" + path.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["n_parameters"], 64 * 101 + 64 * 64);
  EXPECT_EQ(j["tensor_bytes"], f16.size() + q8.size());
  double bpw = 8.0 * static_cast<double>(f16.size() + q8.size()) / (64 * 101 + 64 * 64);
  EXPECT_NEAR(j["bits_per_weight"].get<double>(), bpw, 1e-9);
  EXPECT_EQ(j["architecture"]["name"], "qwen2");
  EXPECT_EQ(j["architecture"]["n_layer"], 2);
  EXPECT_EQ(j["architecture"]["n_head_kv"], 2);
  EXPECT_EQ(j["architecture"]["head_dim"], 16);
  EXPECT_EQ(j["architecture"]["n_vocab"], 101);
  EXPECT_EQ(j["architecture"]["rope_freq_base"], 1000000.0);
  const auto& toks = j["metadata"]["tokenizer.ggml.tokens"];
  EXPECT_EQ(toks["count"], 101);
  EXPECT_EQ(toks["truncated"], true);
  EXPECT_EQ(toks["value"].size(), 8u);
  ASSERT_EQ(j["tensors"].size(), 2u);
  EXPECT_EQ(j["tensors"][1]["type"], "q8_0");
  EXPECT_EQ(j["tensors"][1]["shape"], nlohmann::json({64, 64}));
  // Which matrices Model::load repacks here: the q8_0 layer matrix, and the f16 embedding, which
  // is also the output matrix (no output.weight: tied).
  if (packed_kernels_available(DType::Q8_0) && packed_kernels_available(DType::F16)) {
    EXPECT_EQ(j["tensors"][0]["repacked_at_load"], "f16x16");
    EXPECT_EQ(j["tensors"][1]["repacked_at_load"], "q8_0x16");
    EXPECT_EQ(j["repacked_at_load"]["n_tensors"], 2);
    EXPECT_EQ(j["repacked_at_load"]["bytes"], f16.size() + q8.size());
    const std::string kernels = j["repacked_at_load"]["kernels"];
    EXPECT_NE(kernels.find(packed_isa_name(*best_packed_isa(DType::Q8_0))), std::string::npos) << kernels;
    EXPECT_NE(kernels.find(packed_isa_name(*best_packed_isa(DType::F16))), std::string::npos) << kernels;
  } else if (!packed_kernels_available(DType::Q8_0) && !packed_kernels_available(DType::F16)) {
    EXPECT_TRUE(j["tensors"][0]["repacked_at_load"].is_null());
    EXPECT_TRUE(j["tensors"][1]["repacked_at_load"].is_null());
    EXPECT_EQ(j["repacked_at_load"]["n_tensors"], 0);
  }

  RunResult text = run_inspect(dir, "'" + path.string() + "'");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("bits per weight: "), std::string::npos);
  EXPECT_NE(text.out.find("... (101 string items)]"), std::string::npos);
  EXPECT_NE(text.out.find("blk.0.attn_q.weight"), std::string::npos);
  EXPECT_NE(text.out.find("repacked at load: "), std::string::npos);
  if (packed_kernels_available(DType::Q8_0)) {
    EXPECT_NE(text.out.find("repacked q8_0x16"), std::string::npos);
  }
}

}  // namespace
}  // namespace ag::gguf
