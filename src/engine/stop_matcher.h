#pragma once
// Stop strings over streamed text. Generated text arrives in pieces; a stop string may span
// pieces, so text that could be the start of a stop string is held back until the next piece
// settles it. When a stop string appears, everything before it is released and the rest
// (the stop string and whatever followed in the same piece) is dropped.
#include <string>
#include <string_view>
#include <vector>

namespace ag::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);  // empty strings are ignored

  // Adds text; returns what is safe to emit now. After a match, returns the text before the stop
  // string and matched() is true; further pushes return nothing.
  std::string push(std::string_view text);
  // The held-back text, when generation ends without a match.
  std::string flush();
  bool matched() const { return matched_; }
  const std::string& matched_stop() const { return matched_stop_; }
  size_t n_held() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
  std::string matched_stop_;
};

}  // namespace ag::engine
