// The HTTP server over real sockets on 127.0.0.1: OpenAI shapes, SSE, errors naming the field,
// limits, API keys, /health, /metrics, queue policy answers, client disconnects.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "test_server.h"

namespace ag::server {
namespace {

using namespace std::chrono_literals;
using testing::start_server;
using testing::TestServerOptions;
using ojson = nlohmann::json;

struct Reply {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  ojson json() const { return ojson::parse(body, nullptr, false); }
};

Reply post(const testing::TestServer& t, const std::string& path, const std::string& body,
           const httplib::Headers& headers = {}) {
  auto c = t.client();
  auto r = c.Post(path.c_str(), headers, body, "application/json");
  if (!r) return {};
  return {r->status, r->body, r->headers};
}
Reply post(const testing::TestServer& t, const std::string& path, const ojson& body,
           const httplib::Headers& headers = {}) {
  return post(t, path, body.dump(), headers);
}
Reply get(const testing::TestServer& t, const std::string& path, const httplib::Headers& headers = {}) {
  auto c = t.client();
  auto r = c.Get(path.c_str(), headers);
  if (!r) return {};
  return {r->status, r->body, r->headers};
}

// The `data:` payloads of an SSE body.
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    const std::string event = body.substr(pos, end - pos);
    if (event.rfind("data: ", 0) == 0) out.push_back(event.substr(6));
    pos = end + 2;
  }
  return out;
}

struct Reference {
  std::string prompt, text;
  int n = 0;
};
Reference first_reference() {
  std::ifstream in(std::string(AUTOGLM_SHARED_DIR) + "/reference/stories260K/greedy.json");
  const auto j = ojson::parse(in);
  const auto& c = j["cases"][0];
  return {c["prompt"], c["completion_text"], static_cast<int>(c["completion_tokens"].size())};
}

void expect_error(const Reply& r, int status, const std::string& param, const std::string& needle = "") {
  EXPECT_EQ(r.status, status) << r.body;
  const auto j = r.json();
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
  const auto& e = j["error"];
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("param"));
  EXPECT_TRUE(e.contains("code"));
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << r.body;
  }
  if (!needle.empty()) {
    EXPECT_NE(e["message"].get<std::string>().find(needle), std::string::npos) << r.body;
  }
}

TEST(Http, HealthIs503WhileLoadingThen200) {
  TestServerOptions o;
  o.ready = false;
  auto t = start_server(o);
  ASSERT_TRUE(t);
  Reply r = get(*t, "/health");
  EXPECT_EQ(r.status, 503);
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}}), 503, "");
  testing::make_ready(*t);
  r = get(*t, "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["status"], "ok");
}

TEST(Http, ModelsList) {
  auto t = start_server();
  ASSERT_TRUE(t);
  Reply r = get(*t, "/v1/models");
  ASSERT_EQ(r.status, 200);
  const auto j = r.json();
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "stories260K");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(get(*t, "/v1/models/stories260K").json()["id"], "stories260K");
  expect_error(get(*t, "/v1/models/gpt-4"), 404, "model");
}

TEST(Http, GreedyCompletionMatchesReference) {
  auto t = start_server();
  ASSERT_TRUE(t);
  const Reference ref = first_reference();
  Reply r = post(*t, "/v1/completions",
                 ojson{{"model", "stories260K"}, {"prompt", ref.prompt}, {"max_tokens", ref.n}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "stories260K");
  EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(j["choices"][0]["text"], ref.text);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], ref.n);
  EXPECT_EQ(j["usage"]["total_tokens"], 5 + ref.n);
  EXPECT_FALSE(r.headers.find("X-Request-Id") == r.headers.end());
}

TEST(Http, StreamedCompletionEndsWithDoneAndUsage) {
  auto t = start_server();
  ASSERT_TRUE(t);
  const Reference ref = first_reference();
  Reply r = post(*t, "/v1/completions",
                 ojson{{"prompt", ref.prompt},
                       {"max_tokens", ref.n},
                       {"temperature", 0},
                       {"stream", true},
                       {"stream_options", {{"include_usage", true}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto data = sse_data(r.body);
  ASSERT_GE(data.size(), 3u);
  EXPECT_EQ(data.back(), "[DONE]");
  std::string text;
  int n_finish = 0;
  for (size_t i = 0; i + 2 < data.size(); ++i) {
    const auto c = ojson::parse(data[i]);
    EXPECT_EQ(c["object"], "text_completion");
    text += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) ++n_finish;
  }
  EXPECT_EQ(text, ref.text);
  EXPECT_EQ(n_finish, 1);
  const auto usage = ojson::parse(data[data.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], ref.n);
}

TEST(Http, CompletionOptions) {
  auto t = start_server();
  ASSERT_TRUE(t);
  const Reference ref = first_reference();
  // echo, logprobs, n with a seed, token-id prompts, a stop string.
  Reply r = post(*t, "/v1/completions",
                 ojson{{"prompt", ref.prompt}, {"max_tokens", 5}, {"temperature", 0}, {"echo", true}, {"logprobs", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  const std::string text = j["choices"][0]["text"];
  EXPECT_EQ(text.rfind(ref.prompt, 0), 0u);
  const auto& lp = j["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 5u);
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  EXPECT_EQ(lp["text_offset"][0], ref.prompt.size());
  EXPECT_LT(lp["token_logprobs"][0].get<double>(), 0.0);

  r = post(*t, "/v1/completions",
           ojson{{"prompt", ref.prompt}, {"max_tokens", 8}, {"temperature", 0.9}, {"n", 3}, {"seed", 42}});
  ASSERT_EQ(r.status, 200) << r.body;
  j = r.json();
  ASSERT_EQ(j["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(j["choices"][i]["index"], i);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);  // the prompt counts once
  EXPECT_EQ(j["usage"]["completion_tokens"], 24);
  Reply again = post(*t, "/v1/completions",
                     ojson{{"prompt", ref.prompt}, {"max_tokens", 8}, {"temperature", 0.9}, {"n", 3}, {"seed", 42}});
  EXPECT_EQ(again.json()["choices"], j["choices"]);  // same seed, same text

  r = post(*t, "/v1/completions", ojson{{"prompt", {1, 403, 407, 261, 378}}, {"max_tokens", ref.n}, {"temperature", 0}});
  EXPECT_EQ(r.json()["choices"][0]["text"], ref.text);
  r = post(*t, "/v1/completions", ojson{{"prompt", {ref.prompt, ref.prompt}}, {"max_tokens", 3}, {"temperature", 0}});
  EXPECT_EQ(r.json()["choices"].size(), 2u);

  const std::string stop = ref.text.substr(10, 6);
  r = post(*t, "/v1/completions",
           ojson{{"prompt", ref.prompt}, {"max_tokens", ref.n}, {"temperature", 0}, {"stop", {stop}}});
  j = r.json();
  EXPECT_EQ(j["choices"][0]["text"], ref.text.substr(0, ref.text.find(stop)));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
}

TEST(Http, ChatCompletionAndStream) {
  auto t = start_server();
  ASSERT_TRUE(t);
  const ojson messages = ojson::array({{{"role", "system"}, {"content", "You tell stories."}},
                                       {{"role", "user"}, {"content", "Once upon a time"}}});
  Reply r = post(*t, "/v1/chat/completions",
                 ojson{{"model", "stories260K"}, {"messages", messages}, {"max_tokens", 12}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  const std::string content = j["choices"][0]["message"]["content"];
  EXPECT_FALSE(content.empty());
  EXPECT_EQ(j["usage"]["completion_tokens"], 12);

  r = post(*t, "/v1/chat/completions",
           ojson{{"messages", messages},
                 {"max_completion_tokens", 12},
                 {"temperature", 0},
                 {"stream", true},
                 {"logprobs", true},
                 {"top_logprobs", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto data = sse_data(r.body);
  ASSERT_GE(data.size(), 3u);
  EXPECT_EQ(data.back(), "[DONE]");
  const auto first = ojson::parse(data[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string streamed;
  size_t n_logprobs = 0;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    const auto c = ojson::parse(data[i]);
    const auto& d = c["choices"][0]["delta"];
    if (d.contains("content")) streamed += d["content"].get<std::string>();
    if (!c["choices"][0]["logprobs"].is_null()) {
      for (const auto& lp : c["choices"][0]["logprobs"]["content"]) {
        EXPECT_EQ(lp["top_logprobs"].size(), 2u);
        ++n_logprobs;
      }
    }
  }
  EXPECT_EQ(streamed, content);
  EXPECT_EQ(n_logprobs, 12u);
  EXPECT_EQ(ojson::parse(data[data.size() - 2])["choices"][0]["finish_reason"], "length");
}

TEST(Http, TokenizeDetokenize) {
  auto t = start_server();
  ASSERT_TRUE(t);
  Reply r = post(*t, "/tokenize", ojson{{"content", "Once upon a time"}, {"add_special", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["tokens"], ojson({1, 403, 407, 261, 378}));
  r = post(*t, "/detokenize", ojson{{"tokens", {403, 407, 261, 378}}});
  EXPECT_EQ(r.json()["content"], "Once upon a time");
  r = post(*t, "/tokenize", ojson{{"content", "Once"}, {"with_pieces", true}});
  EXPECT_EQ(r.json()["tokens"][0]["piece"], " Once");
  expect_error(post(*t, "/detokenize", ojson{{"tokens", {1, 99999}}}), 400, "tokens", "99999");
}

TEST(Http, ErrorsNameTheField) {
  auto t = start_server();
  ASSERT_TRUE(t);
  expect_error(post(*t, "/v1/completions", std::string("{\"prompt\": ")), 400, "", "JSON");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"max_tokens", "ten"}}), 400, "max_tokens", "integer");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"temperature", 7}}), 400, "temperature");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"n", 1000}}), 400, "n");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"stop", {1, 2}}}), 400, "stop");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"stop", ""}}), 400, "stop");
  expect_error(post(*t, "/v1/completions", ojson{{"max_tokens", 3}}), 400, "prompt", "required");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", {1, 2, 100000}}}), 400, "prompt", "100000");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"logit_bias", {{"abc", 1}}}}), 400, "logit_bias");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"priority", 9}}), 400, "priority");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"timeout_ms", 10}}), 400, "timeout_ms");
  expect_error(post(*t, "/v1/chat/completions", ojson{{"messages", ojson::array()}}), 400, "messages");
  expect_error(post(*t, "/v1/chat/completions", ojson{{"messages", {{{"content", "hi"}}}}}), 400, "messages[0].role");
  expect_error(post(*t, "/v1/completions", ojson::array()), 400, "", "object");
  // A prompt longer than the context: both numbers named.
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += " time";
  const size_t n_long = post(*t, "/tokenize", ojson{{"content", long_prompt}, {"add_special", true}}).json()["tokens"].size();
  Reply r = post(*t, "/v1/completions", ojson{{"prompt", long_prompt}, {"max_tokens", 4}});
  expect_error(r, 400, "prompt", "256");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find(std::to_string(n_long)), std::string::npos) << r.body;
  r = post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"max_tokens", 1000}});
  expect_error(r, 400, "max_tokens", "1000");
  // The model has no FIM tokens.
  expect_error(post(*t, "/infill", ojson{{"input_prefix", "a"}, {"input_suffix", "b"}}), 400, "input_prefix");
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "a"}, {"suffix", "b"}}), 400, "suffix");
  // Unknown route and oversized body.
  expect_error(get(*t, "/v2/nothing"), 404, "");
}

TEST(Http, BodyLimit) {
  TestServerOptions o;
  o.server.max_body_bytes = 1000;
  auto t = start_server(o);
  ASSERT_TRUE(t);
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", std::string(5000, 'a')}}), 413, "");
}

TEST(Http, ApiKeys) {
  TestServerOptions o;
  o.server.api_keys = {"k1", "secret-2"};
  auto t = start_server(o);
  ASSERT_TRUE(t);
  EXPECT_EQ(get(*t, "/health").status, 200);  // open
  expect_error(get(*t, "/v1/models"), 401, "");
  expect_error(get(*t, "/v1/models", {{"Authorization", "Bearer nope"}}), 401, "");
  EXPECT_EQ(get(*t, "/v1/models", {{"Authorization", "Bearer secret-2"}}).status, 200);
  EXPECT_EQ(post(*t, "/v1/completions", ojson{{"prompt", "x"}, {"max_tokens", 2}}, {{"Authorization", "Bearer k1"}}).status,
            200);
  EXPECT_EQ(get(*t, "/metrics").status, 401);
}

TEST(Http, MetricsNamesAndCounts) {
  auto t = start_server();
  ASSERT_TRUE(t);
  ASSERT_EQ(post(*t, "/v1/completions", ojson{{"prompt", "Once"}, {"max_tokens", 4}}).status, 200);
  post(*t, "/v1/completions", ojson{{"prompt", 5}});
  Reply r = get(*t, "/metrics");
  ASSERT_EQ(r.status, 200);
  for (const char* name :
       {"autoglm_requests_running 0", "autoglm_requests_waiting{priority=\"1\"} 0", "autoglm_kv_cache_usage_ratio 0",
        "autoglm_kv_blocks_free 256", "autoglm_requests_total{endpoint=\"/v1/completions\",code=\"200\"} 1",
        "autoglm_requests_total{endpoint=\"/v1/completions\",code=\"400\"} 1",
        "autoglm_requests_rejected_total{reason=\"invalid\"} 1", "autoglm_requests_preempted_total 0",
        "autoglm_prompt_tokens_total 2", "autoglm_generation_tokens_total 4", "autoglm_prefix_cache_queries_total",
        "autoglm_prefix_cache_hits_total", "autoglm_time_to_first_token_seconds_count 1",
        "autoglm_time_per_output_token_seconds_count 3", "autoglm_queue_time_seconds_bucket{le=\"+Inf\"} 1",
        "autoglm_request_duration_seconds_sum", "autoglm_build_info{", "# TYPE autoglm_requests_total counter",
        "# TYPE autoglm_time_to_first_token_seconds histogram"})
    EXPECT_NE(r.body.find(name), std::string::npos) << name << "\n" << r.body;
}

TEST(Http, QueueFullAnswers429WithRetryAfter) {
  TestServerOptions o;
  o.fake = true;
  o.scheduler.max_running = 1;
  o.scheduler.levels = {{1, 0, engine::TimeoutAction::Reject, false}};
  auto t = start_server(o);
  ASSERT_TRUE(t);
  t->fake->delay_ms_ = 20;
  // One runs, one waits (the queue's only place), the third is refused.
  std::thread a([&] { post(*t, "/v1/completions", ojson{{"prompt", "a"}, {"max_tokens", 10}}); });
  for (int i = 0; i < 200 && t->engine->stats().n_running == 0; ++i) std::this_thread::sleep_for(2ms);
  std::thread b([&] { post(*t, "/v1/completions", ojson{{"prompt", "b"}, {"max_tokens", 2}}); });
  for (int i = 0; i < 200 && t->engine->stats().n_waiting[0] == 0; ++i) std::this_thread::sleep_for(2ms);
  Reply r = post(*t, "/v1/completions", ojson{{"prompt", "c"}, {"max_tokens", 2}, {"stream", true}});
  expect_error(r, 429, "");
  EXPECT_EQ(r.json()["error"]["code"], "queue_full");
  EXPECT_EQ(r.headers.find("Retry-After")->second, "1");
  a.join();
  b.join();
  EXPECT_NE(get(*t, "/metrics").body.find("autoglm_requests_rejected_total{reason=\"queue_full\"} 1"), std::string::npos);
}

TEST(Http, QueueTimeoutRejectAndOverride) {
  TestServerOptions o;
  o.fake = true;
  o.scheduler.max_running = 1;
  o.scheduler.levels = {{0, 0, engine::TimeoutAction::Reject, true}};  // no default; override allowed
  auto t = start_server(o);
  ASSERT_TRUE(t);
  t->fake->delay_ms_ = 10;
  std::thread a([&] { post(*t, "/v1/completions", ojson{{"prompt", "a"}, {"max_tokens", 30}}); });
  for (int i = 0; i < 200 && t->engine->stats().n_running == 0; ++i) std::this_thread::sleep_for(2ms);
  Reply r = post(*t, "/v1/completions", ojson{{"prompt", "b"}, {"max_tokens", 2}, {"timeout_ms", 30}, {"stream", true}});
  expect_error(r, 429, "", "30 ms");
  EXPECT_EQ(r.json()["error"]["code"], "queue_timeout");
  a.join();
}

// Opens a raw connection, sends a request, reads `n_bytes` of the answer (0: none), then closes.
void send_and_drop(int port, const std::string& body, size_t n_bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[4096];
  while (got.size() < n_bytes) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
}

TEST(Http, ClientDisconnectCancelsAndFreesBlocks) {
  TestServerOptions o;
  o.fake = true;
  auto t = start_server(o);
  ASSERT_TRUE(t);
  t->fake->delay_ms_ = 5;
  // Streaming: read the first chunk, then leave.
  send_and_drop(t->port, ojson{{"prompt", "Once upon"}, {"max_tokens", 200}, {"stream", true}}.dump(), 200);
  // Not streaming: leave while it runs.
  std::thread drop([&] {
    send_and_drop(t->port, ojson{{"prompt", "Once"}, {"max_tokens", 200}}.dump(), 0);
  });
  drop.join();
  for (int i = 0; i < 400 && !t->engine->idle(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(t->engine->idle());
  const auto st = t->engine->stats();
  EXPECT_EQ(st.kv_blocks_free, st.kv_blocks_total);
  EXPECT_LT(st.generation_tokens, 300u);  // neither ran to its 200 tokens
}

// Issue 4: 100 clients that leave mid-stream leave no KV block in use.
TEST(Http, HundredStreamingClientsDisconnectMidStream) {
  TestServerOptions o;
  o.fake = true;
  o.n_blocks = 512;
  auto t = start_server(o);
  ASSERT_TRUE(t);
  t->fake->delay_ms_ = 2;
  std::vector<std::thread> clients;
  for (int i = 0; i < 100; ++i)
    clients.emplace_back([&, i] {
      const std::string prompt = "Once upon a time " + std::to_string(i);
      send_and_drop(t->port, ojson{{"prompt", prompt}, {"max_tokens", 200}, {"stream", true}}.dump(), 200);
    });
  for (auto& c : clients) c.join();
  for (int i = 0; i < 2000 && !t->engine->idle(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(t->engine->idle());
  const auto st = t->engine->stats();
  EXPECT_EQ(st.n_running, 0);
  EXPECT_EQ(st.kv_blocks_free, st.kv_blocks_total);
  EXPECT_LT(st.generation_tokens, 100u * 200u / 2);  // cancelled long before their 200 tokens
}

TEST(Http, DrainRefusesNewWork) {
  auto t = start_server();
  ASSERT_TRUE(t);
  t->http->begin_drain();
  expect_error(post(*t, "/v1/completions", ojson{{"prompt", "x"}}), 503, "");
  EXPECT_EQ(get(*t, "/health").status, 503);
}

}  // namespace
}  // namespace ag::server
