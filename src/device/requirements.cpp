#include "device/requirements.h"

#include "core/check.h"

namespace ag::device {

namespace {

// From the seed's device requirements (§1): minimum 4 cores, 8 GB RAM, 20 GB free disk; GPU
// optional with CUDA >= 11.8 and >= 6 GB VRAM; Docker >= 20.10; recommended 16 GB RAM and an SSD.
constexpr Requirement kRequirements[] = {
    {"cpu.cores", Level::Minimum, "usable CPU cores", 4, "cores"},
    {"cpu.simd", Level::Recommended, "AVX2 + FMA + F16C (x86) for the fast kernels (no ARM kernels yet)", 0, ""},
    {"memory.total", Level::Minimum, "memory", 8, "GB"},
    {"memory.recommended", Level::Recommended, "memory", 16, "GB"},
    {"disk.free", Level::Minimum, "free disk where models live", 20, "GB"},
    {"disk.ssd", Level::Recommended, "SSD for model storage", 0, ""},
    {"gpu.cuda", Level::Optional, "CUDA version the NVIDIA driver supports", 11.8, "version"},
    {"gpu.memory", Level::Optional, "GPU memory", 6, "GB"},
    {"docker.version", Level::Optional, "Docker client", 20.10, "version"},
};

}  // namespace

std::string_view level_name(Level l) {
  switch (l) {
    case Level::Minimum: return "minimum";
    case Level::Recommended: return "recommended";
    case Level::Optional: return "optional";
  }
  return "?";
}

std::string_view check_status_name(CheckStatus s) {
  switch (s) {
    case CheckStatus::Pass: return "pass";
    case CheckStatus::Warn: return "warn";
    case CheckStatus::Fail: return "fail";
  }
  return "?";
}

std::span<const Requirement> requirements() { return kRequirements; }

const Requirement& requirement(std::string_view id) {
  for (const auto& r : kRequirements)
    if (r.id == id) return r;
  AG_CHECK(false, "no requirement '%.*s'", static_cast<int>(id.size()), id.data());
  return kRequirements[0];
}

CheckStatus unmet_status(Level level, Profile profile) {
  switch (level) {
    case Level::Minimum: return CheckStatus::Fail;
    case Level::Recommended:
      return profile == Profile::Recommended ? CheckStatus::Fail : CheckStatus::Warn;
    case Level::Optional: return CheckStatus::Warn;
  }
  return CheckStatus::Warn;
}

}  // namespace ag::device
