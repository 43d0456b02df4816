// The built `autoglm` binary: generate --json against llama.cpp's greedy outputs, the perplexity
// line, and the error contract (exit 1, one line "autoglm: ...").
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "tiny_model.h"

namespace ag {
namespace {

const std::string kShared = AUTOGLM_SHARED_DIR;
const std::string kBinary = std::string(AUTOGLM_BINARY_DIR) + "/bin/autoglm";
const std::string kModel = kShared + "/models/stories260K.gguf";

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct RunResult {
  int exit_code;
  std::string out, err;
};

RunResult run(const std::string& args) {
  const std::string out = test::temp_path("cli_stdout.txt"), err = test::temp_path("cli_stderr.txt");
  const int status = std::system((quote(kBinary) + " " + args + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

TEST(Cli, GenerateJsonMatchesLlamaCppGreedy) {
  std::ifstream in(kShared + "/reference/stories260K/greedy.json");
  const auto ref = nlohmann::json::parse(in);
  size_t n_checked = 0;
  for (const auto& c : ref["cases"]) {
    const std::string prompt = c["prompt"].get<std::string>();
    SCOPED_TRACE(prompt);
    const RunResult r =
        run("generate -m " + quote(kModel) + " -p " + quote(prompt) + " -n 48 --temp 0 --json --threads 1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto got = nlohmann::json::parse(r.out);
    EXPECT_EQ(got["prompt_tokens"], c["prompt_tokens"]);
    EXPECT_EQ(got["completion_tokens"], c["completion_tokens"]);
    EXPECT_EQ(got["text"], c["completion_text"]);
    ASSERT_EQ(got["steps"].size(), c["steps"].size());
    for (size_t i = 0; i < got["steps"].size(); ++i) {
      const auto& gs = got["steps"][i];
      const auto& rs = c["steps"][i];
      EXPECT_EQ(gs["id"], rs["id"]);
      ASSERT_EQ(gs["top"].size(), 5u);
      // every reference top-5 entry, looked up among ours by id
      for (const auto& rt : rs["top"]) {
        bool found = false;
        for (const auto& gt : gs["top"])
          if (gt[0] == rt[0]) {
            found = true;
            const double err = std::abs(gt[1].get<double>() - rt[1].get<double>());
            ++n_checked;
            EXPECT_LE(err, 1e-3) << "step " << i << " token " << rt[0];  // see golden_test.cpp
          }
        EXPECT_TRUE(found) << "step " << i << " token " << rt[0];
      }
    }
    for (const char* key : {"prompt_ms", "gen_ms", "prompt_tok_s", "gen_tok_s"})
      EXPECT_TRUE(got["timings"].contains(key)) << key;
  }
  EXPECT_EQ(n_checked, 4u * 48 * 5);  // every reference top-5 entry of every step was found
}

TEST(Cli, GenerateStreamsTextAndTimings) {
  const RunResult r = run("generate -m " + quote(kModel) +
                          " -p 'Once upon a time' -n 16 --temp 0.8 --seed 7 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.find("Once upon a time"), std::string::npos) << "prints the completion only";
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
  // the same seed gives the same text
  const RunResult again = run("generate -m " + quote(kModel) +
                              " -p 'Once upon a time' -n 16 --temp 0.8 --seed 7 --threads 1");
  EXPECT_EQ(r.out, again.out);
}

TEST(Cli, GenerateWithMlockAndPinnedThreads) {
  const RunResult r = run("generate -m " + quote(kModel) +
                          " -p 'Once upon a time' -n 8 --temp 0 --json -t 2 --pin-threads --mlock");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto got = nlohmann::json::parse(r.out);
  EXPECT_EQ(got["timings"]["threads"], 2);
  EXPECT_EQ(got["timings"]["threads_pinned"], 2);
  // Greedy tokens do not depend on pinning or locking.
  const RunResult plain = run("generate -m " + quote(kModel) + " -p 'Once upon a time' -n 8 --temp 0 --json -t 2");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out)["completion_tokens"], got["completion_tokens"]);
}

TEST(Cli, PerplexityLine) {
  const RunResult r = run("perplexity -m " + quote(kModel) + " -f " +
                          quote(kShared + "/reference/stories260K/ppl-text.txt") +
                          " --ctx 128 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto pos = r.out.rfind("PPL = ");
  ASSERT_NE(pos, std::string::npos) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(r.out.find('\n', pos), r.out.size() - 1) << "PPL is the last line";
  const double ppl = std::stod(r.out.substr(pos + 6));
  EXPECT_NEAR(ppl, 3.7833, 3.7833 * 0.005);
}

void expect_one_line_error(const RunResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("autoglm: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(Cli, Errors) {
  const std::string bad = test::temp_path("not_a_model.gguf");
  std::ofstream(bad) << "this is not a gguf file";
  expect_one_line_error(run("generate -m " + quote(bad) + " -p hi"), "not_a_model.gguf");
  expect_one_line_error(run("perplexity -m " + quote(bad) + " -f " + quote(bad)), "not_a_model.gguf");
  // 5 prompt tokens in a context of 4: both numbers named
  expect_one_line_error(run("generate -m " + quote(kModel) + " -p 'Once upon a time' --ctx 4"),
                        "the prompt has 5 tokens but the context is 4");
  expect_one_line_error(run("perplexity -m " + quote(kModel) + " -f " +
                            quote(kShared + "/reference/stories260K/ppl-text.txt") + " --ctx 4096"),
                        "needs at least 8192");
}

}  // namespace
}  // namespace ag
