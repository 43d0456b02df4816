// Bounded load: 64 concurrent clients send 500 requests (streaming or not, two priority levels,
// some clients leaving mid-request) to a server over stories260K. Every answer is a well-formed
// completion or a declared 429 (the level-2 queue is bounded); afterwards every KV block is free.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "test_server.h"

namespace ag::server {
namespace {

using namespace std::chrono_literals;
using ojson = nlohmann::json;

void drop_midway(int port, const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[256];
    (void)::recv(fd, buf, sizeof buf, 0);  // the first bytes (headers, a chunk), then leave
  }
  ::close(fd);
}

TEST(Load, SixtyFourClientsFiveHundredRequests) {
  testing::TestServerOptions o;
  o.n_blocks = 160;  // tight: some requests are preempted and recomputed
  o.block_size = 8;
  o.n_ctx = 128;
  o.scheduler.max_running = 24;
  o.scheduler.max_batch_tokens = 256;
  o.scheduler.priority_levels = 2;
  o.scheduler.levels = {{0, 0, engine::TimeoutAction::Reject, false}, {16, 0, engine::TimeoutAction::Reject, false}};
  o.server.http_threads = 96;
  auto t = testing::start_server(o);
  ASSERT_TRUE(t);
  const int idle_free = t->engine->stats().kv_blocks_free;

  constexpr int kClients = 64, kRequests = 500;
  std::atomic<int> next{0}, ok{0}, rejected{0}, dropped{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto fail = [&](std::string what) {
    std::lock_guard lock(mu);
    if (failures.size() < 10) failures.push_back(std::move(what));
  };
  const char* prompts[] = {"Once upon a time", "The little dog", "Lily and Ben went to the park", "One day"};

  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<uint32_t>(c) * 7919u + 1);
      httplib::Client client("127.0.0.1", t->port);
      client.set_read_timeout(60, 0);
      for (int i = next++; i < kRequests; i = next++) {
        const bool stream = rng() % 2 == 0;
        const int priority = 1 + static_cast<int>(rng() % 2);
        const int max_tokens = 4 + static_cast<int>(rng() % 24);
        ojson body{{"prompt", prompts[rng() % 4]},
                   {"max_tokens", max_tokens},
                   {"temperature", rng() % 3 == 0 ? 0.0 : 0.8},
                   {"seed", i},
                   {"priority", priority},
                   {"stream", stream}};
        if (rng() % 10 == 0) {
          drop_midway(t->port, body.dump());
          ++dropped;
          continue;
        }
        auto r = client.Post("/v1/completions", body.dump(), "application/json");
        if (!r) {
          fail(fmt::format("request {}: no answer ({})", i, httplib::to_string(r.error())));
          continue;
        }
        if (r->status == 429) {
          const auto j = ojson::parse(r->body, nullptr, false);
          if (priority != 2 || !j.is_object() || j["error"]["code"] != "queue_full")
            fail(fmt::format("request {}: unexpected 429 at priority {}: {}", i, priority, r->body));
          ++rejected;
          continue;
        }
        if (r->status != 200) {
          fail(fmt::format("request {}: status {}: {}", i, r->status, r->body));
          continue;
        }
        int n_tokens = -1;
        std::string finish;
        if (stream) {
          if (r->body.size() < 14 || r->body.substr(r->body.size() - 14) != "data: [DONE]\n\n") {
            fail(fmt::format("request {}: stream without [DONE]", i));
            continue;
          }
          n_tokens = 0;
          size_t pos = 0;
          while ((pos = r->body.find("data: {", pos)) != std::string::npos) {
            const size_t end = r->body.find("\n\n", pos);
            const auto chunk = ojson::parse(r->body.substr(pos + 6, end - pos - 6), nullptr, false);
            if (chunk.is_object() && !chunk["choices"][0]["finish_reason"].is_null())
              finish = chunk["choices"][0]["finish_reason"];
            pos = end;
          }
        } else {
          const auto j = ojson::parse(r->body, nullptr, false);
          if (!j.is_object() || !j.contains("choices")) {
            fail(fmt::format("request {}: bad body {}", i, r->body));
            continue;
          }
          n_tokens = j["usage"]["completion_tokens"];
          finish = j["choices"][0]["finish_reason"];
        }
        if (finish != "length" && finish != "stop") {
          fail(fmt::format("request {}: finish_reason '{}'", i, finish));
          continue;
        }
        if (!stream && finish == "length" && n_tokens != max_tokens) {
          fail(fmt::format("request {}: {} tokens for max_tokens {}", i, n_tokens, max_tokens));
          continue;
        }
        ++ok;
      }
    });
  }
  for (auto& th : clients) th.join();
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(ok + rejected + dropped, kRequests);
  EXPECT_GT(ok.load(), kRequests / 3);  // the rest: dropped on purpose or refused (429, level 2)
  // Everything ends within a few steps: disconnected requests are cancelled, blocks come back.
  for (int i = 0; i < 1000 && !t->engine->idle(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(t->engine->idle());
  const auto st = t->engine->stats();
  EXPECT_EQ(st.kv_blocks_free, idle_free);
  EXPECT_EQ(st.n_running, 0);
  auto metrics = t->client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(fmt::format("autoglm_kv_blocks_free {}\n", idle_free)), std::string::npos);
  std::printf("load: %d ok, %d rejected (429), %d dropped; %llu preempted, %llu prefix-hit tokens\n", ok.load(),
              rejected.load(), dropped.load(), static_cast<unsigned long long>(st.n_preempted),
              static_cast<unsigned long long>(st.prefix_hit_tokens));
}

}  // namespace
}  // namespace ag::server
