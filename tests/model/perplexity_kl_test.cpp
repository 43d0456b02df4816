// KL divergence against a base file (model/kl_divergence.h): the file format round trip, the
// statistics on rows with known answers, corrupt files, and the llama.cpp workflow through the
// `autoglm perplexity` and `autoglm quantize` commands on stories260K.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/kl_divergence.h"
#include "tiny_model.h"

namespace ag {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

// KL(p || q) in double, straight from the definition.
double exact_kl(const std::vector<float>& p_logits, const std::vector<float>& q_logits) {
  auto log_softmax = [](const std::vector<float>& x) {
    double max = x[0], sum = 0;
    for (float v : x) max = std::max(max, static_cast<double>(v));
    for (float v : x) sum += std::exp(v - max);
    std::vector<double> lp;
    for (float v : x) lp.push_back(v - max - std::log(sum));
    return lp;
  };
  const auto p = log_softmax(p_logits), q = log_softmax(q_logits);
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) kl += std::exp(p[i]) * (p[i] - q[i]);
  return kl;
}

// A base file with n_vocab 5 (odd: rows are padded), n_ctx 4, 2 chunks: 2 scored rows.
struct SmallBase {
  std::string path = test::temp_path("small.kld");
  std::vector<int32_t> tokens = {1, 2, 3, 4, 1, 0, 4, 2};
  std::vector<std::vector<float>> rows = {{1.0f, 2.5f, -0.5f, 0.0f, 3.0f}, {-2.0f, 0.0f, 0.5f, 4.0f, 1.0f}};
  std::vector<int32_t> targets = {4, 2};  // tokens[3], tokens[7]

  SmallBase() {
    auto w = KlBaseWriter::create(path, 5, 4, tokens);
    EXPECT_TRUE(w.ok()) << w.error().message;
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_TRUE(w->add_row(rows[i], targets[i]).ok());
    EXPECT_TRUE(w->finish().ok());
  }
};

TEST(KlDivergence, BaseFileRoundTrip) {
  SmallBase b;
  auto r = KlBaseReader::open(b.path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->n_vocab(), 5);
  EXPECT_EQ(r->n_ctx(), 4);
  EXPECT_EQ(r->n_chunks(), 2u);
  EXPECT_EQ(r->first(), 2);
  ASSERT_EQ(r->n_rows(), 2u);
  EXPECT_EQ(std::vector<int32_t>(r->tokens().begin(), r->tokens().end()), b.tokens);
  EXPECT_EQ(slurp(b.path).size(), 32u + 8 * 4 + 2 * (12 + 6 * 2));
  for (size_t i = 0; i < 2; ++i) {
    const KlBaseRow row = r->row(i);
    // Every stored log-probability is within half a step of the exact one.
    double max = -1e9, sum = 0;
    for (float v : b.rows[i]) max = std::max(max, static_cast<double>(v));
    for (float v : b.rows[i]) sum += std::exp(v - max);
    for (size_t t = 0; t < 5; ++t) {
      const double lp = b.rows[i][t] - max - std::log(sum);
      ASSERT_GT(row.code(t), 0) << "all five are within 16 nats of the top";
      EXPECT_NEAR(row.lo + (row.code(t) - 1) * static_cast<double>(row.step), lp, row.step * 0.51);
    }
    EXPECT_LE(row.step, 16.0f / 65534 * 1.001f);
    EXPECT_NEAR(row.target_logprob, b.rows[i][static_cast<size_t>(b.targets[i])] - max - std::log(sum), 1e-6);
  }
}

TEST(KlDivergence, SelfIsExactlyZeroAndOthersMatchTheDefinition) {
  SmallBase b;
  auto r = KlBaseReader::open(b.path);
  ASSERT_TRUE(r.ok()) << r.error().message;

  KlAccumulator self;
  for (size_t i = 0; i < 2; ++i) self.add(r->row(i), b.rows[i], b.targets[i]);
  const KlSummary s = self.summary();
  EXPECT_EQ(s.n_rows, 2u);
  EXPECT_EQ(s.mean, 0.0);
  EXPECT_EQ(s.max, 0.0);
  EXPECT_EQ(s.same_top, 1.0);
  EXPECT_NEAR(s.ppl, s.ppl_base, 1e-6 * s.ppl);
  EXPECT_NEAR(s.mean_dp, 0.0, 1e-6);

  // A different model: the first row keeps its top token (4), the second loses it (3 -> 2).
  const std::vector<std::vector<float>> other = {{1.2f, 2.0f, -0.5f, 0.3f, 2.8f}, {-2.0f, 0.0f, 4.5f, 4.0f, 1.0f}};
  KlAccumulator acc;
  for (size_t i = 0; i < 2; ++i) acc.add(r->row(i), other[i], b.targets[i]);
  const KlSummary o = acc.summary();
  const double kl0 = exact_kl(b.rows[0], other[0]), kl1 = exact_kl(b.rows[1], other[1]);
  EXPECT_NEAR(o.mean, (kl0 + kl1) / 2, 1e-4);
  EXPECT_NEAR(o.max, std::max(kl0, kl1), 1e-4);
  EXPECT_NEAR(o.median, (kl0 + kl1) / 2, 1e-4);  // the middle of two values
  EXPECT_NEAR(o.mean_error, std::abs(kl0 - kl1) / 2, 1e-4);
  EXPECT_EQ(o.same_top, 0.5);
  EXPECT_GT(o.ppl, 0);
  EXPECT_TRUE(std::isfinite(o.ppl));
  EXPECT_GT(o.mean_dp, 0) << "target 2 of row 2 became likely";
}

TEST(KlDivergence, TokensFarBelowTheTopAreLeftOut) {
  const std::string path = test::temp_path("tail.kld");
  const std::vector<int32_t> tokens(8, 0);
  const std::vector<float> row = {0.0f, -30.0f, -5.0f};
  auto w = KlBaseWriter::create(path, 3, 4, tokens);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->add_row(row, 0).ok());
  ASSERT_TRUE(w->add_row(row, 2).ok());
  ASSERT_TRUE(w->finish().ok());
  auto r = KlBaseReader::open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->row(0).code(1), 0) << "30 nats below the top: below the window";
  EXPECT_GT(r->row(0).code(2), 0);
}

TEST(KlDivergence, WriterErrorsLeaveNoFile) {
  const std::string path = test::temp_path("unfinished.kld");
  const std::vector<int32_t> tokens(8, 1);
  {
    auto w = KlBaseWriter::create(path, 5, 4, tokens);
    ASSERT_TRUE(w.ok());
    const std::vector<float> row(5, 0.0f);
    ASSERT_TRUE(w->add_row(row, 1).ok());
    EXPECT_FALSE(w->add_row(std::vector<float>(4, 0.0f), 1).ok()) << "wrong row length";
    EXPECT_FALSE(w->add_row(row, 5).ok()) << "target out of range";
    EXPECT_FALSE(w->add_row(std::vector<float>{0.0f, NAN, 0.0f, 0.0f, 0.0f}, 1).ok());
    const auto st = w->finish();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("1 rows written, the header announces 2"), std::string::npos)
        << st.error().message;
  }
  EXPECT_FALSE(exists(path));
  {
    auto w = KlBaseWriter::create(path, 5, 4, tokens);
    ASSERT_TRUE(w.ok());
  }  // dropped without finish()
  EXPECT_FALSE(exists(path));
  EXPECT_FALSE(KlBaseWriter::create(path, 5, 4, std::vector<int32_t>(7, 0)).ok()) << "not whole chunks";
  EXPECT_FALSE(KlBaseWriter::create("/nonexistent-dir/x.kld", 5, 4, tokens).ok());
}

TEST(KlDivergence, CorruptBaseFilesAreRejected) {
  SmallBase b;
  const std::string good = slurp(b.path);
  const std::string path = test::temp_path("corrupt.kld");
  auto expect_error = [&](const std::string& bytes, const std::string& needle) {
    spit(path, bytes);
    auto r = KlBaseReader::open(path);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
  };
  for (size_t n = 0; n < good.size(); ++n) {
    spit(path, good.substr(0, n));
    EXPECT_FALSE(KlBaseReader::open(path).ok()) << "truncated to " << n << " bytes";
  }
  expect_error(good + "xx", "truncated or corrupt");
  std::string bad = good;
  bad[0] = 'X';
  expect_error(bad, "bad magic");
  bad = good;
  bad[8] = 2;
  expect_error(bad, "version 2");
  bad = good;
  bad[20] = 0x7f;  // n_chunks 127
  expect_error(bad, "truncated");
  bad = good;
  bad[23] = 0x7f;  // n_chunks ~2^30: must not overflow the size check
  expect_error(bad, "truncated");
  bad = good;
  bad[12] = 4;  // n_vocab 4: the rows no longer add up
  expect_error(bad, "truncated or corrupt");
  bad = good;
  bad[24] = 1;  // first scored position
  expect_error(bad, "first scored position");
  bad = good;
  bad[32] = 9;  // token 0 = 9 >= n_vocab
  expect_error(bad, "outside the vocabulary");
  bad = good;
  const float zero = 0.0f;
  bad.replace(32 + 32 + 4, 4, reinterpret_cast<const char*>(&zero), 4);  // row 0 step = 0
  expect_error(bad, "invalid header");
}

// --- the llama.cpp workflow through the commands ---------------------------------------------------

const std::string kShared = AUTOGLM_SHARED_DIR;
const std::string kBinary = std::string(AUTOGLM_BINARY_DIR) + "/bin/autoglm";
const std::string kModel = kShared + "/models/stories260K.gguf";
const std::string kText = kShared + "/reference/stories260K/ppl-text.txt";

struct RunResult {
  int exit_code;
  std::string out, err;
};

RunResult run(const std::string& args) {
  const std::string out = test::temp_path("kl_stdout.txt"), err = test::temp_path("kl_stderr.txt");
  const int status = std::system((kBinary + " " + args + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

nlohmann::json kl_json(const std::string& model, const std::string& base) {
  const RunResult r = run("perplexity -m " + model + " --kl-divergence --kl-divergence-base " + base +
                          " -f " + kText + " --threads 1 --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return nlohmann::json::object();
  return nlohmann::json::parse(r.out);
}

TEST(KlDivergenceCli, QuantizedStoriesAgainstF32) {
  const std::string base = test::temp_path("stories.kld");
  RunResult r = run("perplexity -m " + kModel + " -f " + kText + " --ctx 128 --threads 1 --kl-divergence-base " + base);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("PPL = 3.78"), std::string::npos) << r.out;
  auto reader = KlBaseReader::open(base);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  EXPECT_EQ(reader->n_vocab(), 512);
  EXPECT_EQ(reader->n_chunks(), 7u);
  EXPECT_EQ(reader->n_rows(), 7u * 63);

  const auto self = kl_json(kModel, base);
  EXPECT_EQ(self["kld_mean"], 0.0);
  EXPECT_EQ(self["kld_max"], 0.0);
  EXPECT_EQ(self["same_top"], 1.0);
  EXPECT_NEAR(self["ppl"].get<double>(), 3.7833, 0.02);
  EXPECT_NEAR(self["ppl_base"].get<double>(), self["ppl"].get<double>(), 1e-4);
  EXPECT_EQ(self["n_scored"], 441);

  double previous = 0;
  for (const std::string type : {"Q8_0", "Q4_0"}) {
    SCOPED_TRACE(type);
    const std::string q = test::temp_path("stories-" + type + ".gguf");
    r = run("quantize " + kModel + " " + q + " " + type + " --threads 1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = kl_json(q, base);
    const double mean = j["kld_mean"].get<double>();
    EXPECT_TRUE(std::isfinite(mean));
    EXPECT_GT(mean, previous) << "more bits, closer to F32: KL(Q8_0) < KL(Q4_0)";
    EXPECT_GT(j["kld_mean_error"].get<double>(), 0);
    EXPECT_LT(j["kld_mean_error"].get<double>(), mean);
    EXPECT_LE(j["kld_median"].get<double>(), j["kld_p99"].get<double>());
    EXPECT_LE(j["kld_p99"].get<double>(), j["kld_max"].get<double>());
    EXPECT_GT(j["same_top"].get<double>(), 0.5);
    EXPECT_LT(j["same_top"].get<double>(), 1.0 + 1e-12);
    EXPECT_NEAR(j["ppl_base"].get<double>(), self["ppl_base"].get<double>(), 1e-9);
    EXPECT_TRUE(std::isfinite(j["ppl"].get<double>()));
    previous = mean;
  }
}

TEST(KlDivergenceCli, MismatchesAreOneLineErrors) {
  const std::string base = test::temp_path("mismatch.kld");
  RunResult r = run("perplexity -m " + kModel + " -f " + kText + " --ctx 64 --threads 1 --kl-divergence-base " + base);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto expect_error = [](const RunResult& res, const std::string& needle) {
    EXPECT_EQ(res.exit_code, 1);
    EXPECT_NE(res.err.find(needle), std::string::npos) << res.err;
    EXPECT_EQ(res.err.find('\n'), res.err.size() - 1) << "one line: " << res.err;
    EXPECT_EQ(res.err.rfind("autoglm: ", 0), 0u) << res.err;
  };
  // A model with another vocabulary size.
  const std::string other = test::temp_path("vocab80.gguf");
  ASSERT_TRUE(test::write_tiny_model({}, other).ok());
  expect_error(run("perplexity -m " + other + " --kl-divergence --kl-divergence-base " + base),
               "vocabulary of 512 tokens");
  // Another text than the base's.
  const std::string text = test::temp_path("other.txt");
  spit(text, slurp(kText).substr(40));
  expect_error(run("perplexity -m " + kModel + " --kl-divergence --kl-divergence-base " + base + " -f " + text),
               "base file");
  // Another context.
  expect_error(run("perplexity -m " + kModel + " --kl-divergence --kl-divergence-base " + base + " --ctx 128"),
               "--ctx 64, not 128");
  // Not a base file, or none at all.
  expect_error(run("perplexity -m " + kModel + " --kl-divergence --kl-divergence-base " + kText), "bad magic");
  expect_error(run("perplexity -m " + kModel + " --kl-divergence"), "--kl-divergence-base");
  expect_error(run("perplexity -m " + kModel + " --kl-divergence --kl-divergence-base /nonexistent.kld"),
               "/nonexistent.kld");
  // A text too short for the base leaves no file behind.
  const std::string tiny_text = test::temp_path("short.txt"), unused = test::temp_path("unused.kld");
  spit(tiny_text, "Once upon a time.");
  expect_error(run("perplexity -m " + kModel + " -f " + tiny_text + " --ctx 64 --kl-divergence-base " + unused),
               "needs at least 128");
  EXPECT_FALSE(exists(unused));
}

}  // namespace
}  // namespace ag
