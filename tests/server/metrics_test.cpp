// /metrics text: the exposition format rules promtool checks (HELP and TYPE once per family,
// before its samples; counters end in _total; histogram buckets cumulative, ending in +Inf equal
// to _count; valid names and label syntax), on a page with every family filled in.
#include "server/metrics.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace ag::server {
namespace {

engine::EngineStats sample_stats() {
  engine::EngineStats s;
  s.n_running = 3;
  s.n_waiting = {1, 4};
  s.kv_blocks_total = 100;
  s.kv_blocks_free = 40;
  s.n_preempted = 2;
  s.prompt_tokens = 500;
  s.generation_tokens = 80;
  s.prefix_query_tokens = 500;
  s.prefix_hit_tokens = 128;
  engine::Histogram h(engine::latency_buckets());
  for (double v : {0.0005, 0.02, 0.02, 3.0, 1000.0}) h.observe(v);
  s.time_to_first_token = h.snapshot();
  s.time_per_output_token = engine::Histogram(engine::token_time_buckets()).snapshot();
  s.queue_time = h.snapshot();
  s.request_duration = h.snapshot();
  return s;
}

TEST(Metrics, ExpositionFormatIsClean) {
  ServerMetrics m;
  m.count_request("/v1/completions", 200);
  m.count_request("/v1/completions", 429);
  m.count_rejected("queue_full");
  const auto stats = sample_stats();
  const std::string page = m.render(&stats, "0.1.0", "my \"model\"");

  const std::regex help(R"(# HELP (autoglm_[a-z_]+) .+)");
  const std::regex type(R"(# TYPE (autoglm_[a-z_]+) (counter|gauge|histogram))");
  const std::regex sample(R"((autoglm_[a-z_]+)(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? (-?[0-9.e+-]+|\+Inf))");
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::istringstream in(page);
  std::string line;
  std::string family;
  while (std::getline(in, line)) {
    std::smatch mt;
    if (std::regex_match(line, mt, help)) {
      EXPECT_TRUE(helped.insert(mt[1]).second) << "HELP twice: " << line;
      family = mt[1];
    } else if (std::regex_match(line, mt, type)) {
      EXPECT_EQ(mt[1], family) << "TYPE without HELP first: " << line;
      EXPECT_TRUE(types.emplace(mt[1], mt[2]).second) << line;
      if (mt[2] == "counter") {
        EXPECT_TRUE(family.ends_with("_total")) << family;
      }
    } else {
      ASSERT_TRUE(std::regex_match(line, mt, sample)) << "bad sample line: " << line;
      std::string name = mt[1];
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (types.count(name) == 0 && name.ends_with(suffix)) name = name.substr(0, name.size() - std::string(suffix).size());
      EXPECT_EQ(name, family) << "sample outside its family: " << line;
    }
  }
  for (const char* f : {"autoglm_requests_running", "autoglm_requests_waiting", "autoglm_kv_cache_usage_ratio",
                        "autoglm_kv_blocks_free", "autoglm_requests_total", "autoglm_requests_rejected_total",
                        "autoglm_requests_preempted_total", "autoglm_prompt_tokens_total",
                        "autoglm_generation_tokens_total", "autoglm_prefix_cache_queries_total",
                        "autoglm_prefix_cache_hits_total", "autoglm_time_to_first_token_seconds",
                        "autoglm_time_per_output_token_seconds", "autoglm_queue_time_seconds",
                        "autoglm_request_duration_seconds", "autoglm_build_info", "autoglm_responses_open"})
    EXPECT_TRUE(types.count(f)) << f;
  EXPECT_EQ(types["autoglm_time_to_first_token_seconds"], "histogram");
  EXPECT_NE(page.find("autoglm_kv_cache_usage_ratio 0.6\n"), std::string::npos) << page;
  EXPECT_NE(page.find("autoglm_requests_waiting{priority=\"2\"} 4\n"), std::string::npos);
  EXPECT_NE(page.find("model=\"my \\\"model\\\"\""), std::string::npos);  // escaped label value
  // Buckets are cumulative and end in +Inf = count.
  EXPECT_NE(page.find("autoglm_time_to_first_token_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("autoglm_time_to_first_token_seconds_bucket{le=\"0.025\"} 3\n"), std::string::npos);
  EXPECT_NE(page.find("autoglm_time_to_first_token_seconds_bucket{le=\"300\"} 4\n"), std::string::npos);
  EXPECT_NE(page.find("autoglm_time_to_first_token_seconds_bucket{le=\"+Inf\"} 5\n"), std::string::npos);
  EXPECT_NE(page.find("autoglm_time_to_first_token_seconds_count 5\n"), std::string::npos);

  // While loading (no engine yet) the page is still well formed.
  const std::string loading = ServerMetrics().render(nullptr, "0.1.0", "");
  EXPECT_NE(loading.find("autoglm_kv_blocks_free 0\n"), std::string::npos);
}

// Shutdown waits for open responses (streams still writing) before stopping the HTTP server.
TEST(Metrics, WaitForOpenResponsesEndsWhenTheLastCloses) {
  ServerMetrics m;
  const auto soon = [] { return std::chrono::steady_clock::now() + std::chrono::milliseconds(20); };
  EXPECT_TRUE(m.wait_responses_closed(soon()));
  m.response_opened();
  m.response_opened();
  EXPECT_NE(m.render(nullptr, "v", "m").find("autoglm_responses_open 2\n"), std::string::npos);
  EXPECT_FALSE(m.wait_responses_closed(soon()));  // times out: two are open
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    m.response_closed();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    m.response_closed();
  });
  EXPECT_TRUE(m.wait_responses_closed(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
  closer.join();
  EXPECT_NE(m.render(nullptr, "v", "m").find("autoglm_responses_open 0\n"), std::string::npos);
}

}  // namespace
}  // namespace ag::server
