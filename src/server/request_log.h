#pragma once
// One log line per request, written when the request ends (for a stream: when the stream ends or
// the client leaves): id, endpoint, status, priority, token counts, queue / first-token / total
// milliseconds, finish reason. Prompt text only with --log-prompts.
#include <string>

namespace ag::server {

struct RequestLog {
  std::string id;
  std::string endpoint;
  int status = 200;
  int priority = 0;
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  long long cached_tokens = 0;
  double queue_ms = -1, ttft_ms = -1, total_ms = -1;
  std::string finish;  // stop / length / cancelled / disconnected / error
  std::string error;   // message of an error answer
  std::string user;
  std::string prompt;  // only filled with --log-prompts
  bool stream = false;

  std::string format() const;
  void write() const;  // one line on stderr, whole (serialised between threads)
};

// A line on stderr with the same timestamp format (start-up messages, warnings).
void log_line(const std::string& text);

}  // namespace ag::server
