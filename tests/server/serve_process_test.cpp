// `autoglm serve` as a process: it binds, answers /health once the model is loaded, and on
// SIGTERM lets an in-flight request finish, refuses new ones, and exits 0.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

namespace {

using namespace std::chrono_literals;

struct Child {
  pid_t pid = -1;
  FILE* err = nullptr;  // the server's stderr (log lines)
  int port = 0;
  std::string log;

  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (err) std::fclose(err);
  }
  // Reads log lines until one matches `re` (returns its first group) or the process ends.
  std::string wait_for(const std::regex& re) {
    char line[4096];
    while (std::fgets(line, sizeof line, err)) {
      log += line;
      std::cmatch m;
      if (std::regex_search(line, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
    }
    return {};
  }
  int wait_exit() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    char line[4096];
    while (std::fgets(line, sizeof line, err)) log += line;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

std::unique_ptr<Child> spawn(std::vector<std::string> args) {
  int fds[2];
  if (::pipe(fds) != 0) return nullptr;
  auto c = std::make_unique<Child>();
  c->pid = ::fork();
  if (c->pid == 0) {
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  c->err = ::fdopen(fds[0], "r");
  return c;
}

TEST(ServeProcess, SigtermDrainsInFlightAndExitsZero) {
  const std::string bin = std::string(AUTOGLM_BINARY_DIR) + "/bin/autoglm";
  const std::string model = std::string(AUTOGLM_SHARED_DIR) + "/models/stories260K.gguf";
  auto c = spawn({bin, "serve", "-m", model, "--port", "0", "--threads", "1", "--http-threads", "8",
                  "--chat-template", "chatml", "--shutdown-timeout", "20"});
  ASSERT_TRUE(c);
  const std::string port = c->wait_for(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"));
  ASSERT_FALSE(port.empty()) << c->log;
  c->port = std::stoi(port);
  ASSERT_FALSE(c->wait_for(std::regex("ready: model 'stories260K'")).empty()) << c->log;

  httplib::Client client("127.0.0.1", c->port);
  client.set_read_timeout(30, 0);
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  // A long streamed request is in flight when SIGTERM comes; it must complete.
  std::string body;
  int status = 0;
  std::atomic<bool> first_bytes{false};
  std::thread inflight([&] {
    httplib::Client cl("127.0.0.1", c->port);
    cl.set_read_timeout(30, 0);
    nlohmann::json req{{"prompt", "Once upon a time"}, {"max_tokens", 400}, {"temperature", 0}, {"stream", true},
                       {"ignore_eos", true}};
    httplib::Request post;
    post.method = "POST";
    post.path = "/v1/completions";
    post.body = req.dump();
    post.set_header("Content-Type", "application/json");
    post.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      body.append(data, n);
      first_bytes = true;
      return true;
    };
    auto r = cl.send(post);
    if (r) status = r->status;
  });
  for (int i = 0; i < 2000 && !first_bytes; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(first_bytes.load());
  ASSERT_EQ(::kill(c->pid, SIGTERM), 0);
  inflight.join();
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("\"finish_reason\":\"length\""), std::string::npos) << body.substr(0, 300);
  EXPECT_NE(body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(c->wait_exit(), 0) << c->log;
  EXPECT_NE(c->log.find("draining"), std::string::npos) << c->log;
  EXPECT_NE(c->log.find("finish=length"), std::string::npos) << c->log;  // its log line
}

TEST(ServeProcess, BadFlagsAndFilesFailWithAMessage) {
  const std::string bin = std::string(AUTOGLM_BINARY_DIR) + "/bin/autoglm";
  auto c = spawn({bin, "serve", "-m", "/nonexistent.gguf", "--port", "0"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->wait_exit(), 1);
  EXPECT_NE(c->log.find("/nonexistent.gguf"), std::string::npos) << c->log;
  c = spawn({bin, "serve", "-m", "x.gguf", "--queue-policy", "7:max_queue_size=1", "--port", "0"});
  EXPECT_EQ(c->wait_exit(), 1);
  EXPECT_NE(c->log.find("level '7'"), std::string::npos) << c->log;
  c = spawn({bin, "serve", "-m", "x.gguf", "--kv-memory", "lots", "--port", "0"});
  EXPECT_EQ(c->wait_exit(), 1);
  EXPECT_NE(c->log.find("--kv-memory"), std::string::npos) << c->log;
}

}  // namespace
