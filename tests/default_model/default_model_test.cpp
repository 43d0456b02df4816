// The built-in default model (models/default.gguf): what it is (metadata, size), that our
// tokenizer and forward pass agree with the Python recipe that trained it, and the acceptance
// figures of issue 8 (held-out perplexity <= 1/4 of a unigram baseline; function headers
// completed into code Python's ast module parses: at least 10 of 20).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "model/session.h"
#include "tokenizer/tokenizer.h"

namespace ag {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kModel = std::string(AUTOGLM_SOURCE_DIR) + "/models/default.gguf";
const std::string kFixtures = std::string(AUTOGLM_SOURCE_DIR) + "/tests/default_model/";

json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return json::parse(in);
}

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<tok::Tokenizer> tokenizer;
};

Loaded& loaded() {
  static Loaded l = [] {
    Loaded r;
    auto m = Model::load(kModel, {.n_threads = 1});
    EXPECT_TRUE(m) << m.error().message;
    if (!m) return r;
    r.model = std::move(*m);
    auto t = tok::Tokenizer::from_gguf(r.model->file());
    EXPECT_TRUE(t) << t.error().message;
    if (t) r.tokenizer = std::make_unique<tok::Tokenizer>(std::move(*t));
    return r;
  }();
  return l;
}

// Greedy decoding from `prompt` until an end-of-generation token, n_predict tokens or the end of
// the context. Sets hit_limit when it stopped for length.
std::vector<int32_t> greedy(const std::vector<int32_t>& prompt, int n_predict, bool* hit_limit) {
  Loaded& l = loaded();
  const int n_ctx = l.model->hparams().n_ctx_train;
  auto s = Session::create(*l.model, n_ctx);
  EXPECT_TRUE(s) << s.error().message;
  std::vector<float> logits;
  auto st = s->eval(prompt, false, logits);
  EXPECT_TRUE(st) << st.error().message;
  std::vector<int32_t> out;
  *hit_limit = true;
  while (static_cast<int>(out.size()) < n_predict && s->n_past() < n_ctx) {
    const int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (l.tokenizer->is_eog(next)) {
      *hit_limit = false;
      break;
    }
    out.push_back(next);
    const int32_t one[] = {next};
    st = s->eval(one, false, logits);
    EXPECT_TRUE(st) << st.error().message;
  }
  return out;
}

TEST(DefaultModel, IsASmallLlamaWithCodeTokenizer) {
  ASSERT_TRUE(fs::exists(kModel)) << kModel;
  EXPECT_LE(fs::file_size(kModel), 8u * 1000 * 1000) << "the default model must stay <= 8 MB";
  Loaded& l = loaded();
  ASSERT_TRUE(l.model && l.tokenizer);
  EXPECT_EQ(l.model->hparams().arch, "llama");
  const tok::Tokenizer& t = *l.tokenizer;
  EXPECT_EQ(t.kind(), tok::VocabKind::bpe);
  EXPECT_EQ(t.pre(), "qwen2");
  EXPECT_FALSE(t.add_bos());
  EXPECT_EQ(t.special().eos, t.find_token("<|endoftext|>"));
  EXPECT_EQ(t.special().fim_pre, t.find_token("<|fim_prefix|>"));
  EXPECT_EQ(t.special().fim_suf, t.find_token("<|fim_suffix|>"));
  EXPECT_EQ(t.special().fim_mid, t.find_token("<|fim_middle|>"));
  EXPECT_TRUE(t.is_eog(t.find_token("<|im_end|>")));
  auto tmpl = l.model->file().get_string("tokenizer.chat_template");
  ASSERT_TRUE(tmpl);
  EXPECT_NE(tmpl->find("<|im_start|>"), std::string::npos);
}

// heldout.json holds held-out files and their ids from the recipe's Python tokenizer (bpe.py).
TEST(DefaultModel, TokenizerMatchesTrainingTokenizerOnHeldOutText) {
  Loaded& l = loaded();
  ASSERT_TRUE(l.tokenizer);
  for (const json& t : read_json(kFixtures + "heldout.json")) {
    const std::string text = t["text"].get<std::string>();
    const std::vector<int32_t> want = t["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = l.tokenizer->encode(text, false, false);
    ASSERT_EQ(got.size(), want.size()) << t["name"];
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], want[i]) << t["name"] << " token " << i;
    EXPECT_EQ(l.tokenizer->decode(got), text) << t["name"];
  }
}

// torch_reference.json: the PyTorch model (weights rounded to F16) on a few prompts.
TEST(DefaultModel, ForwardMatchesPyTorch) {
  Loaded& l = loaded();
  ASSERT_TRUE(l.model);
  const json ref = read_json(kFixtures + "torch_reference.json");
  ASSERT_EQ(ref["step"].get<int>(), l.model->file().get_int("general.training_steps").value())
      << "torch_reference.json is from another checkpoint than models/default.gguf";
  for (const json& c : ref["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(l.tokenizer->encode(c["prompt"].get<std::string>(), false, true), prompt);
    auto s = Session::create(*l.model, l.model->hparams().n_ctx_train);
    ASSERT_TRUE(s);
    std::vector<float> logits;
    ASSERT_TRUE(s->eval(prompt, false, logits));
    ASSERT_EQ(logits.size(), static_cast<size_t>(l.model->hparams().n_vocab));
    float max_diff = 0;
    for (const json& t : c["top_logits"])
      max_diff = std::max(max_diff, std::abs(logits[t[0].get<size_t>()] - t[1].get<float>()));
    EXPECT_LT(max_diff, 2e-2f) << c["prompt"];
    std::printf("largest logit difference from PyTorch: %.5f\n", static_cast<double>(max_diff));
    bool hit_limit = false;
    const auto want_greedy = c["greedy"].get<std::vector<int32_t>>();
    std::vector<int32_t> got = greedy(prompt, static_cast<int>(want_greedy.size()), &hit_limit);
    EXPECT_EQ(got, std::vector<int32_t>(want_greedy.begin(),
                                        want_greedy.begin() + static_cast<long>(got.size())))
        << c["prompt"];
  }
}

// Perplexity (llama.cpp's method: chunks of n_ctx, second half scored) against a unigram model
// of the training stream (unigram_counts.json, add-one smoothed) on the very tokens scored.
TEST(DefaultModel, HeldOutPerplexityIsAQuarterOfUnigram) {
  Loaded& l = loaded();
  ASSERT_TRUE(l.model);
  std::vector<int32_t> tokens;
  for (const json& t : read_json(kFixtures + "heldout.json")) {
    if (t["name"] == "edge cases") continue;
    const auto ids = t["ids"].get<std::vector<int32_t>>();
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    tokens.push_back(l.tokenizer->special().eos);
  }
  const int n_ctx = l.model->hparams().n_ctx_train;
  auto r = perplexity(*l.model, tokens, n_ctx, n_ctx, -1);
  ASSERT_TRUE(r) << r.error().message;
  std::map<int32_t, double> counts;
  double n = 0;
  for (size_t c = 0; c + 1 <= tokens.size() / n_ctx; ++c)
    for (int i = n_ctx / 2; i <= n_ctx - 2; ++i) {
      counts[tokens[c * n_ctx + i + 1]] += 1;
      n += 1;
    }
  ASSERT_EQ(static_cast<size_t>(n), r->n_scored);
  const auto train_counts = read_json(kFixtures + "unigram_counts.json").get<std::vector<double>>();
  ASSERT_EQ(train_counts.size(), static_cast<size_t>(l.model->hparams().n_vocab));
  double n_train = 0;
  for (const double k : train_counts) n_train += k;
  double nll = 0, nll_own = 0;
  for (const auto& [id, k] : counts) {
    nll -= k * std::log((train_counts[static_cast<size_t>(id)] + 1) / (n_train + train_counts.size()));
    nll_own -= k * std::log(k / n);  // the best any unigram could do here (for information)
  }
  const double unigram = std::exp(nll / n);
  std::printf("held-out: %zu tokens scored, model PPL %.2f, unigram PPL %.2f (ratio %.3f); "
              "the scored tokens' own unigram PPL %.2f\n",
              r->n_scored, r->ppl, unigram, r->ppl / unigram, std::exp(nll_own / n));
  EXPECT_LE(r->ppl, unigram / 4);
}

TEST(DefaultModel, CompletesHeldOutFunctionsIntoParsablePython) {
  Loaded& l = loaded();
  ASSERT_TRUE(l.model);
  json items = json::array();
  for (const json& h : read_json(kFixtures + "headers.json")) {
    const std::string header = h["header"].get<std::string>();
    bool hit_limit = false;
    const auto ids = greedy(l.tokenizer->encode(header + "\n", false, false), 128, &hit_limit);
    items.push_back({{"header", header},
                     {"completion", l.tokenizer->decode(ids)},
                     {"hit_limit", hit_limit}});
  }
  ASSERT_EQ(items.size(), 20u);
  const fs::path tmp = fs::temp_directory_path() /
                       ("autoglm_default_model_completions_" + std::to_string(::getpid()) + ".json");
  std::ofstream(tmp) << items.dump(1);
  const std::string cmd =
      "python3 '" + kFixtures + "parse_completions.py' '" + tmp.string() + "' --show";
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), &::pclose);
  ASSERT_TRUE(p) << cmd;
  std::string out;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p.get())) > 0) out.append(buf, got);
  const int status = ::pclose(p.release());
  fs::remove(tmp);
  ASSERT_EQ(status, 0) << cmd << "\n" << out;
  const size_t last = out.find_last_of('\n', out.size() - 2);
  const int n_ok = std::stoi(out.substr(last == std::string::npos ? 0 : last + 1));
  std::printf("%d of 20 held-out functions parse\n", n_ok);
  // Issue 8's bar: at least 10 of 20 (the committed model reaches 12, models/README.md).
  constexpr int kMinParsed = 10;
  EXPECT_GE(n_ok, kMinParsed) << out;
}

// The exporter writes what its manifest says, converting float32 data to each tensor's type.
TEST(ExportGguf, WritesManifestMetadataAndTensors) {
  const fs::path dir = fs::temp_directory_path() / ("autoglm_export_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<float> data(64 * 2 + 32);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::sin(static_cast<float>(i)) * 0.5f;
  std::ofstream(dir / "t.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * 4));
  const json manifest = {
      {"metadata",
       {{{"key", "general.architecture"}, {"type", "str"}, {"value", "llama"}},
        {{"key", "x.count"}, {"type", "u32"}, {"value", 7}},
        {{"key", "x.eps"}, {"type", "f32"}, {"value", 1e-5}},
        {{"key", "x.flag"}, {"type", "bool"}, {"value", false}},
        {{"key", "x.names"}, {"type", "arr_str"}, {"value", {"a", "b c"}}},
        {{"key", "x.ids"}, {"type", "arr_i32"}, {"value", {1, -3}}}}},
      {"tensors",
       {{{"name", "q"}, {"shape", {64, 1}}, {"type", "q8_0"}, {"offset", 0}},
        {{"name", "h"}, {"shape", {32, 2}}, {"type", "f16"}, {"offset", 64 * 4}},
        {{"name", "f"}, {"shape", {32}}, {"type", "f32"}, {"offset", 128 * 4}}}}};
  std::ofstream(dir / "m.json") << manifest.dump();
  const std::string exe = std::string(AUTOGLM_BINARY_DIR) + "/bin/autoglm-export-default";
  const std::string out = (dir / "out.gguf").string();
  ASSERT_EQ(std::system((exe + " " + (dir / "m.json").string() + " " + (dir / "t.bin").string() +
                         " " + out).c_str()),
            0);
  auto f = gguf::File::open(out);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->get_string("general.architecture").value(), "llama");
  EXPECT_EQ(f->get_int("x.count").value(), 7);
  EXPECT_NEAR(f->get_float("x.eps").value(), 1e-5, 1e-10);
  EXPECT_FALSE(f->get_bool("x.flag").value());
  EXPECT_EQ(f->find("x.names")->as_array()->items[1].as_string()->c_str(), std::string("b c"));
  EXPECT_EQ(f->find("x.ids")->as_array()->items[1].as_int(), -3);
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensor("q")->type, DType::Q8_0);
  EXPECT_EQ(f->tensor("h")->type, DType::F16);
  EXPECT_EQ(f->tensor("f")->type, DType::F32);
  EXPECT_EQ(std::memcmp(f->tensor("f")->data, data.data() + 128, 32 * 4), 0);

  // A tensor outside the data file is an error naming it, and no file is written.
  json bad = manifest;
  bad["tensors"][2]["offset"] = 4096;
  std::ofstream(dir / "bad.json") << bad.dump();
  const std::string bad_out = (dir / "bad.gguf").string();
  EXPECT_NE(std::system((exe + " " + (dir / "bad.json").string() + " " + (dir / "t.bin").string() +
                         " " + bad_out + " 2>/dev/null").c_str()),
            0);
  EXPECT_FALSE(fs::exists(bad_out));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ag
