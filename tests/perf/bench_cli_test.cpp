// `autoglm bench` run as a process on stories260K with tiny sizes: the JSON fields, the Markdown
// table, the SVG plot and one-line errors with exit code 1.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ag::perf {
namespace {

const std::string kStories = AUTOGLM_SHARED_DIR "/models/stories260K.gguf";

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

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::path(testing::TempDir()) /
             fmt::format("bench_cli_{}", testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  return dir;
}

RunResult run_bench(const std::string& args, const std::string& env = "") {
  const std::string binary = AUTOGLM_BINARY_DIR "/bin/autoglm";
  EXPECT_TRUE(std::filesystem::exists(binary)) << binary << " is not built";
  const auto dir = temp_dir();
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd =
      fmt::format("{} '{}' bench {} >'{}' 2>'{}'", env, binary, args, out.string(), err.string());
  const int status = std::system(cmd.c_str());
  RunResult r;
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

const nlohmann::json* find_test(const nlohmann::json& list, const std::string& name) {
  for (const auto& o : list)
    if (o.at("test") == name) return &o;
  return nullptr;
}

TEST(BenchCli, JsonHasPpTgAndBandwidthFields) {
  const RunResult r =
      run_bench(fmt::format("-m '{}' -p 8 -n 4 -t 2 -r 2 --membw --membw-mib 8 --json", kStories));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto list = nlohmann::json::parse(r.out);
  ASSERT_TRUE(list.is_array());
  const auto* pp = find_test(list, "pp8");
  const auto* tg = find_test(list, "tg4");
  const auto* bw = find_test(list, "membw");
  ASSERT_NE(pp, nullptr) << r.out;
  ASSERT_NE(tg, nullptr) << r.out;
  ASSERT_NE(bw, nullptr) << r.out;
  for (const auto* o : {pp, tg}) {
    EXPECT_EQ(o->at("threads"), 2);
    const double med = o->at("tok_per_s"), lo = o->at("tok_per_s_min"), hi = o->at("tok_per_s_max");
    EXPECT_GT(med, 0);
    EXPECT_LE(lo, med);
    EXPECT_GE(hi, med);
    EXPECT_GT(o->at("weights_bytes").get<uint64_t>(), 0u);
  }
  EXPECT_GT(pp->at("gflops").get<double>(), 0);
  EXPECT_GT(pp->at("pct_of_fma_peak").get<double>(), 0);
  EXPECT_GT(bw->at("gbs").get<double>(), 0);
  EXPECT_EQ(bw->at("bytes"), 8u << 20);
  // tg's bound: each repetition against a probe run just before it; the ratio is the median of
  // the per-repetition ratios, the bound the one of the median probe.
  const auto gbs = tg->at("membw_gbs_per_rep").get<std::vector<double>>();
  const auto rates = tg->at("tok_per_s_per_rep").get<std::vector<double>>();
  ASSERT_EQ(gbs.size(), 2u);
  ASSERT_EQ(rates.size(), 2u);
  const double bytes = tg->at("weights_bytes").get<double>();
  const double pct0 = 100 * rates[0] * bytes / (gbs[0] * 1e9), pct1 = 100 * rates[1] * bytes / (gbs[1] * 1e9);
  EXPECT_NEAR(tg->at("pct_of_bandwidth_bound").get<double>(), 0.5 * (pct0 + pct1), 1e-6 * pct0);
  EXPECT_NEAR(tg->at("pct_of_bandwidth_bound_min").get<double>(), std::min(pct0, pct1), 1e-6 * pct0);
  const double bound = tg->at("bound_tok_per_s");
  EXPECT_NEAR(tg->at("membw_gbs").get<double>(), 0.5 * (gbs[0] + gbs[1]), 1e-9);
  EXPECT_NEAR(bound, tg->at("membw_gbs").get<double>() * 1e9 / bytes, 1e-6 * bound);
}

TEST(BenchCli, MarkdownTable) {
  const RunResult r = run_bench(fmt::format("-m '{}' -p 4 -n 2 -t 1 -r 1", kStories));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| test | threads | tok/s (median) |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| pp4 | 1 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg2 | 1 |"), std::string::npos) << r.out;
}

// AUTOGLM_MAX_ISA caps the kernels bench reports (and the model dispatches to).
TEST(BenchCli, MaxIsaCapsTheKernels) {
  const std::string args = fmt::format("-m '{}' -p 4 -n 0 -t 1 -r 1", kStories);
  const RunResult native = run_bench(args);
  ASSERT_EQ(native.exit_code, 0) << native.err;
  if (native.out.find(", scalar kernels") != std::string::npos) GTEST_SKIP() << "no AVX2 here";
  const RunResult avx2 = run_bench(args, "AUTOGLM_MAX_ISA=avx2");
  ASSERT_EQ(avx2.exit_code, 0) << avx2.err;
  EXPECT_NE(avx2.out.find(", AVX2 kernels"), std::string::npos) << avx2.out;
  EXPECT_EQ(avx2.out.find("repacked at load"), std::string::npos) << avx2.out;  // F32: nothing to repack
  const RunResult scalar = run_bench(args, "AUTOGLM_MAX_ISA=scalar");
  ASSERT_EQ(scalar.exit_code, 0) << scalar.err;
  EXPECT_NE(scalar.out.find(", scalar kernels"), std::string::npos) << scalar.out;
}

TEST(BenchCli, SweepJsonAndPlot) {
  const auto svg = temp_dir() / "sweep.svg";
  const RunResult r = run_bench(fmt::format("-m '{}' -p 0 -n 3 -t 2 -r 1 --sweep 1,2,4 --plot '{}' --json",
                                            kStories, svg.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto list = nlohmann::json::parse(r.out);
  EXPECT_EQ(find_test(list, "pp0"), nullptr);
  ASSERT_NE(find_test(list, "tg3"), nullptr);
  for (int b : {1, 2, 4}) {
    const auto* o = find_test(list, fmt::format("sweep{}", b));
    ASSERT_NE(o, nullptr) << r.out;
    EXPECT_EQ(o->at("batch"), b);
    EXPECT_GT(o->at("latency_ms").get<double>(), 0);
    EXPECT_GT(o->at("tok_per_s").get<double>(), 0);
  }
  const std::string s = slurp(svg);
  EXPECT_EQ(s.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u) << s.substr(0, 100);
  EXPECT_NE(s.find("id=\"throughput\""), std::string::npos);
  EXPECT_NE(s.find("id=\"latency\""), std::string::npos);
}

TEST(BenchCli, MembwAlone) {
  const RunResult r = run_bench("--membw --membw-mib 4 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("memory read bandwidth:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GB/s"), std::string::npos);
}

TEST(BenchCli, BadInputIsOneLineAndExitOne) {
  const std::string missing = (temp_dir() / "missing.gguf").string();
  const std::string cases[] = {
      fmt::format("-m '{}'", missing),
      "",                                                   // no model, no --membw
      fmt::format("-m '{}' --bogus", kStories),             // unknown flag
      fmt::format("-m '{}' -t 0", kStories),                // out of range
      fmt::format("-m '{}' --sweep 1,x", kStories),         // bad list
      fmt::format("-m '{}' --sweep 1,,2", kStories),
      fmt::format("-m '{}' --plot /tmp/x.svg", kStories),   // plot without sweep
      fmt::format("-m '{}' -p 2 -n 2 -r 1 --sweep 1 --plot /nonexistent-dir/x.svg", kStories),
  };
  for (const auto& args : cases) {
    const RunResult r = run_bench(args);
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("autoglm bench: ", 0), 0u) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
  }
  EXPECT_NE(run_bench(fmt::format("-m '{}'", missing)).err.find("missing.gguf"), std::string::npos);
}

}  // namespace
}  // namespace ag::perf
