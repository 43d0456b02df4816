#pragma once
// A throw-away sysroot for the probes: files and symlinks under a fresh temporary directory,
// removed when the test ends.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ag::device::testing {

class FakeRoot {
 public:
  FakeRoot() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "autoglm-sysroot-XXXXXX").string();
    char* dir = mkdtemp(tmpl.data());
    EXPECT_NE(dir, nullptr);
    root_ = tmpl;
  }
  ~FakeRoot() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeRoot(const FakeRoot&) = delete;
  FakeRoot& operator=(const FakeRoot&) = delete;

  const std::string& path() const { return root_; }
  std::string at(const std::string& abs) const { return root_ + abs; }

  void write(const std::string& abs, const std::string& content) const {
    std::filesystem::create_directories(std::filesystem::path(at(abs)).parent_path());
    std::ofstream(at(abs)) << content;
  }
  void mkdir(const std::string& abs) const { std::filesystem::create_directories(at(abs)); }
  // A symlink at `abs` pointing to `target` (relative targets resolve as the kernel's do).
  void symlink(const std::string& target, const std::string& abs) const {
    std::filesystem::create_directories(std::filesystem::path(at(abs)).parent_path());
    std::filesystem::create_symlink(target, at(abs));
  }

  // A plain x86 machine: `n_cpus` logical CPUs, 2 threads per core, 16 GiB, no cgroup limits.
  void basic_machine(int n_cpus = 8, uint64_t mem_kb = 16ull << 20) const {
    std::string cpuinfo;
    for (int i = 0; i < n_cpus; ++i)
      cpuinfo += "processor\t: " + std::to_string(i) +
                 "\nmodel name\t: Fake EPYC 9000\ncpu MHz\t\t: 3000.000\ncache size\t: 1024 KB\n"
                 "physical id\t: 0\ncore id\t\t: " + std::to_string(i / 2) +
                 "\nflags\t\t: fpu sse4_2 avx avx2 fma f16c\n\n";
    write("/proc/cpuinfo", cpuinfo);
    write("/sys/devices/system/cpu/online", "0-" + std::to_string(n_cpus - 1) + "\n");
    write("/proc/self/status", "Name:\tautoglm\nCpus_allowed_list:\t0-" + std::to_string(n_cpus - 1) +
                                   "\nVmRSS:\t1000 kB\n");
    write("/proc/meminfo", "MemTotal:       " + std::to_string(mem_kb) +
                               " kB\nMemFree:        1000000 kB\nMemAvailable:   " +
                               std::to_string(mem_kb / 2) + " kB\nSwapTotal:      0 kB\n");
    write("/proc/sys/kernel/osrelease", "6.1.0-fake\n");
    write("/etc/os-release", "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
    write("/sys/devices/system/cpu/cpu0/cache/index0/level", "1\n");
    write("/sys/devices/system/cpu/cpu0/cache/index0/type", "Data\n");
    write("/sys/devices/system/cpu/cpu0/cache/index0/size", "32K\n");
    write("/sys/devices/system/cpu/cpu0/cache/index0/shared_cpu_list", "0-1\n");
    write("/sys/devices/system/cpu/cpu0/cache/index3/level", "3\n");
    write("/sys/devices/system/cpu/cpu0/cache/index3/type", "Unified\n");
    write("/sys/devices/system/cpu/cpu0/cache/index3/size", "32768K\n");
  }

 private:
  std::string root_;
};

}  // namespace ag::device::testing
