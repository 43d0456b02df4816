#pragma once
// The deployment requirements of the seed document, as data: each row is one figure a machine
// must (minimum) or should (recommended) meet; optional components (GPU, Docker) are checked only
// when present. Doctor turns each row into a pass / warn / fail check.
#include <span>
#include <string>
#include <string_view>

namespace ag::device {

enum class Level { Minimum, Recommended, Optional };
enum class Profile { Minimum, Recommended };
enum class CheckStatus { Pass, Warn, Fail };

std::string_view level_name(Level l);
std::string_view check_status_name(CheckStatus s);  // "pass" | "warn" | "fail"

struct Requirement {
  std::string_view id;    // "memory.total"
  Level level;
  std::string_view what;  // "memory"
  double value;           // in `unit`
  std::string_view unit;  // "cores", "GB" (10^9 bytes), "version", ""
};

std::span<const Requirement> requirements();
const Requirement& requirement(std::string_view id);  // id must exist (a bug otherwise)

// What an unmet requirement of `level` is under `profile`: minimum rows fail; recommended rows
// warn under the minimum profile and fail under the recommended one; optional components warn.
CheckStatus unmet_status(Level level, Profile profile);

struct Check {
  std::string id;        // requirement id, or "model.fit", "port", ...
  std::string name;      // short label
  CheckStatus status = CheckStatus::Pass;
  std::string measured;  // "2 usable cores (cgroup quota 2.00 CPUs)"
  std::string required;  // ">= 4 cores (minimum)"
  std::string message;   // one line: what it means / what to do; "" when passing
};

}  // namespace ag::device
