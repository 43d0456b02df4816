// autoglm pull against a loopback HTTP server: full download, resume after a dropped connection,
// resume of a .part left by an earlier run, a server that ignores Range, checksum mismatches, 404,
// and hf:// resolution through the cache.
#include "pull/pull.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pull/model_path.h"
#include "pull/sha256.h"

namespace ag::pull {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Serves /owner/repo/resolve/main/model.gguf. The first `drop_after` bytes of the first request
// are sent and then the connection is closed mid-transfer (0 = never drop).
class FileServer {
 public:
  explicit FileServer(std::string content) : content_(std::move(content)) {
    sha_ = sha256_hex(content_);
    server_.Get("/owner/repo/resolve/main/model.gguf",
                [this](const httplib::Request& req, httplib::Response& res) {
                  {
                    std::lock_guard lock(mu_);
                    ranges_.push_back(req.get_header_value("Range"));
                  }
                  if (send_etag) res.set_header("X-Linked-Etag", "\"" + sha_ + "\"");
                  const bool drop = n_requests_++ == 0 && drop_after > 0;
                  if (ignore_range) {
                    // Chunked: httplib applies no Range to it, so the answer is 200 and everything.
                    res.status = 200;
                    res.set_chunked_content_provider(
                        "application/octet-stream", [this](size_t, httplib::DataSink& sink) {
                          sink.write(content_.data(), content_.size());
                          sink.done();
                          return true;
                        });
                    return;
                  }
                  res.set_content_provider(
                      content_.size(), "application/octet-stream",
                      [this, drop](size_t offset, size_t length, httplib::DataSink& sink) {
                        size_t end = offset + length;
                        if (drop) end = std::min(end, drop_after);
                        if (end > offset) sink.write(content_.data() + offset, end - offset);
                        return !drop;  // false: httplib closes the connection
                      });
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FileServer() {
    server_.stop();
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& sha() const { return sha_; }
  std::vector<std::string> ranges() {
    std::lock_guard lock(mu_);
    return ranges_;
  }

  size_t drop_after = 0;
  bool send_etag = true;
  bool ignore_range = false;

 private:
  std::string content_, sha_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> n_requests_{0};
  std::mutex mu_;
  std::vector<std::string> ranges_;
};

std::string test_content() {
  std::string s(300000, '\0');
  uint32_t x = 12345;
  for (char& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("autoglm_pull_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  PullOptions options(const FileServer& s) {
    PullOptions o;
    o.endpoint = s.endpoint();
    o.cache_dir = dir_.string();
    o.quiet = true;
    return o;
  }
  std::string dest() const { return (dir_ / "owner/repo/model.gguf").string(); }
  fs::path dir_;
  const RepoFile rf_{"owner/repo", "model.gguf"};
};

TEST_F(PullTest, FullDownloadVerifiedByLinkedEtag) {
  FileServer server(test_content());
  uint64_t last_done = 0, last_total = 0;
  PullOptions o = options(server);
  o.on_progress = [&](uint64_t done, uint64_t total) {
    last_done = done;
    last_total = total;
  };
  auto path = pull(rf_, o);
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(*path, dest());
  EXPECT_EQ(read_file(*path), test_content());
  EXPECT_FALSE(fs::exists(dest() + ".part"));
  EXPECT_EQ(last_done, test_content().size());
  EXPECT_EQ(last_total, test_content().size());
  // Cached: a second pull makes no request.
  auto again = pull(rf_, o);
  ASSERT_TRUE(again);
  EXPECT_EQ(server.ranges().size(), 1u);
}

TEST_F(PullTest, ResumesAfterDroppedConnection) {
  FileServer server(test_content());
  server.drop_after = 100000;
  auto path = pull(rf_, options(server));
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(read_file(*path), test_content());
  const auto ranges = server.ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=100000-");
}

TEST_F(PullTest, DroppedConnectionWithoutRetriesKeepsPartForNextPull) {
  FileServer server(test_content());
  server.drop_after = 65536;
  PullOptions o = options(server);
  o.max_attempts = 1;
  auto failed = pull(rf_, o);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find(".part is kept"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(fs::file_size(dest() + ".part"), 65536u);
  auto path = pull(rf_, o);
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(read_file(*path), test_content());
  EXPECT_EQ(server.ranges().back(), "bytes=65536-");
}

TEST_F(PullTest, ServerIgnoringRangeStartsOver) {
  FileServer server(test_content());
  server.ignore_range = true;
  fs::create_directories(fs::path(dest()).parent_path());
  std::ofstream(dest() + ".part", std::ios::binary) << "garbage that is not the file's start";
  auto path = pull(rf_, options(server));
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(read_file(*path), test_content());
}

TEST_F(PullTest, WrongChecksumLeavesNothing) {
  FileServer server(test_content());
  PullOptions o = options(server);
  o.sha256 = std::string(64, '0');
  auto path = pull(rf_, o);
  ASSERT_FALSE(path);
  EXPECT_NE(path.error().message.find("sha256 mismatch"), std::string::npos);
  EXPECT_NE(path.error().message.find(server.sha()), std::string::npos);
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_FALSE(fs::exists(dest() + ".part"));
}

TEST_F(PullTest, CorruptTransferFailsEtagCheck) {
  // The server's ETag names other content: the file is rejected and removed.
  FileServer server(test_content());
  server.send_etag = false;
  PullOptions o = options(server);
  o.sha256 = sha256_hex("something else");
  ASSERT_FALSE(pull(rf_, o));
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_FALSE(fs::exists(dest() + ".part"));
  // Without any checksum the file is kept (with a warning, silenced here).
  o.sha256.clear();
  auto path = pull(rf_, o);
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(read_file(*path), test_content());
}

TEST_F(PullTest, NotFoundNamesUrlAndStatus) {
  FileServer server(test_content());
  auto path = pull(RepoFile{"owner/repo", "missing.gguf"}, options(server));
  ASSERT_FALSE(path);
  EXPECT_NE(path.error().message.find("/owner/repo/resolve/main/missing.gguf: HTTP 404"),
            std::string::npos)
      << path.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "owner/repo/missing.gguf.part"));
}

TEST_F(PullTest, HfUrlResolvesThroughCache) {
  FileServer server(test_content());
  ::setenv("AUTOGLM_HF_ENDPOINT", server.endpoint().c_str(), 1);
  ::setenv("AUTOGLM_MODELS", dir_.c_str(), 1);
  auto path = resolve_model_arg("hf://owner/repo/model.gguf");
  ::unsetenv("AUTOGLM_HF_ENDPOINT");
  ::unsetenv("AUTOGLM_MODELS");
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(*path, dest());
  EXPECT_EQ(read_file(*path), test_content());
}

TEST(PullSpec, ParsesAndRejects) {
  auto rf = parse_repo_file("Qwen/Qwen2.5-GGUF/sub/dir/model-q8_0.gguf");
  ASSERT_TRUE(rf);
  EXPECT_EQ(rf->repo, "Qwen/Qwen2.5-GGUF");
  EXPECT_EQ(rf->file, "sub/dir/model-q8_0.gguf");
  for (const char* bad : {"", "model.gguf", "owner/model.gguf", "owner/repo/../x.gguf",
                          "/owner/repo/x.gguf", "owner//repo/x", "owner/repo/x/", "owner/repo/./x"})
    EXPECT_FALSE(parse_repo_file(bad)) << bad;
}

TEST(ModelPath, DefaultAndOverride) {
  ::setenv("AUTOGLM_MODEL", "/some/where/m.gguf", 1);
  EXPECT_EQ(default_model_path(), "/some/where/m.gguf");
  auto r = resolve_model_arg("");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "/some/where/m.gguf");
  ::unsetenv("AUTOGLM_MODEL");
  EXPECT_TRUE(default_model_path().ends_with("models/default.gguf")) << default_model_path();
  auto plain = resolve_model_arg("local.gguf");
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, "local.gguf");
}

}  // namespace
}  // namespace ag::pull
