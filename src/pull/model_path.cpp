#include "pull/model_path.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "pull/pull.h"

#ifndef AUTOGLM_DEFAULT_MODEL
#error "AUTOGLM_DEFAULT_MODEL (the source tree's models/default.gguf) must be defined"
#endif

namespace ag {

namespace fs = std::filesystem;

std::string default_model_path() {
  if (const char* v = std::getenv("AUTOGLM_MODEL"); v != nullptr && *v != '\0') return v;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = exe.parent_path() / ".." / ".." / ".." / "models" / "default.gguf";
    if (fs::is_regular_file(beside, ec)) return beside.lexically_normal().string();
  }
  return AUTOGLM_DEFAULT_MODEL;
}

Result<std::string> resolve_model_arg(const std::string& given) {
  const std::string arg = given.empty() ? default_model_path() : given;  // may be hf:// too
  constexpr std::string_view kHf = "hf://";
  if (!arg.starts_with(kHf)) return arg;
  AG_TRY(const pull::RepoFile rf, pull::parse_repo_file(std::string_view(arg).substr(kHf.size())));
  return pull::pull(rf);
}

}  // namespace ag
