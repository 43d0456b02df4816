#include "server/request_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <fmt/format.h>

namespace ag::server {

namespace {

std::mutex g_log_mu;

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, ms);
}

// Quotes a value for a key=value log line (spaces, quotes, control characters escaped).
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void emit(const std::string& line) {
  std::lock_guard lock(g_log_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::string RequestLog::format() const {
  std::string line = fmt::format("{} request id={} endpoint={} status={} stream={}", timestamp(), id,
                                 endpoint, status, stream ? 1 : 0);
  if (priority > 0) line += fmt::format(" priority={}", priority);
  line += fmt::format(" prompt_tokens={} completion_tokens={} cached_tokens={}", prompt_tokens,
                      completion_tokens, cached_tokens);
  if (queue_ms >= 0) line += fmt::format(" queue_ms={:.1f}", queue_ms);
  if (ttft_ms >= 0) line += fmt::format(" ttft_ms={:.1f}", ttft_ms);
  if (total_ms >= 0) line += fmt::format(" total_ms={:.1f}", total_ms);
  if (!finish.empty()) line += " finish=" + finish;
  if (!user.empty()) line += " user=" + quote(user);
  if (!error.empty()) line += " error=" + quote(error);
  if (!prompt.empty()) line += " prompt=" + quote(prompt);
  return line;
}

void RequestLog::write() const { emit(format() + "\n"); }

void log_line(const std::string& text) { emit(fmt::format("{} {}\n", timestamp(), text)); }

}  // namespace ag::server
