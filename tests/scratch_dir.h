#pragma once
// A per-process scratch directory for the files a test writes, removed with its contents when the
// test process exits. ctest runs every test as its own process, so the per-pid name keeps
// concurrent tests apart, and the removal keeps thousands of them from piling up in /tmp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace ag::test {

inline const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path =
        std::filesystem::path(::testing::TempDir()) / ("autoglm_test_" + std::to_string(::getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;  // best effort: a test may have removed it, or a file may be busy
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

// scratch_dir()/name.
inline std::string scratch_path(const std::string& name) { return (scratch_dir() / name).string(); }

}  // namespace ag::test
