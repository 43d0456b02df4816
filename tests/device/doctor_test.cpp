#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "device/doctor.h"
#include "fake_root.h"

namespace ag::device {
namespace {

using testing::FakeRoot;

const Check* find_check(const DoctorReport& r, std::string_view id, int nth = 0) {
  for (const auto& c : r.checks)
    if (c.id == id && nth-- == 0) return &c;
  return nullptr;
}

class Doctor : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.basic_machine(8, 32ull << 20);  // 8 CPUs, 32 GiB
    root_.write("/proc/self/mountinfo", "26 1 259:0 / / rw - ext4 /dev/nvme0n1 rw\n");
    root_.write("/sys/dev/block/259:0/queue/rotational", "0\n");
    root_.write("/bin/docker", "#!/bin/sh\necho 'Docker version 24.0.7, build afdd53b'\n");
    std::filesystem::permissions(root_.at("/bin/docker"), std::filesystem::perms::owner_all);
    root_.mkdir("/models");
    options_.sysroot = root_.path();
    options_.models_dir = root_.at("/models");
    options_.nvml_library = "/nonexistent/libnvidia-ml.so.1";
    options_.cuda_visible_devices = std::optional<std::string>{};  // unset
    options_.docker_command = root_.at("/bin/docker");
    options_.port = free_port();
  }
  void TearDown() override {
    for (const char* k : {"FAKE_NVML_CUDA", "FAKE_NVML_SMALL_GPU1"}) unsetenv(k);
  }
  static int free_port() {
    for (int p = 38080; p < 38180; ++p)
      if (probe_port(p).free) return p;
    return 38080;
  }
  bool disk_has_20gb() const { return probe_disk(SysRoot(root_.path()), root_.at("/models")).free_bytes >= 20'000'000'000ull; }

  FakeRoot root_;
  DoctorOptions options_;
};

TEST_F(Doctor, HealthyMachinePasses) {
  DoctorReport r = run_doctor(options_);
  for (const auto& c : r.checks) {
    if (c.id != "disk.free") {
      EXPECT_EQ(c.status, CheckStatus::Pass) << c.id << ": " << c.measured;
    }
  }
  EXPECT_EQ(r.exit_code(), disk_has_20gb() ? 0 : 2);
  EXPECT_EQ(find_check(r, "gpu")->status, CheckStatus::Pass);  // no GPU is fine
  EXPECT_NE(find_check(r, "gpu")->measured.find("none"), std::string::npos);
}

TEST_F(Doctor, ContainerWithTwoCpuQuotaFailsTheCoreMinimum) {
  root_.write("/proc/self/cgroup", "0::/\n");
  root_.write("/proc/self/mountinfo",
              "26 1 259:0 / / rw - ext4 /dev/nvme0n1 rw\n"
              "30 26 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  root_.write("/sys/fs/cgroup/cpu.max", "200000 100000\n");
  root_.write("/sys/fs/cgroup/memory.max", "6442450944\n");
  DoctorReport r = run_doctor(options_);
  EXPECT_EQ(r.cpu.n_usable, 2);
  const Check* cores = find_check(r, "cpu.cores");
  ASSERT_NE(cores, nullptr);
  EXPECT_EQ(cores->status, CheckStatus::Fail);
  EXPECT_NE(cores->message.find("only 2 usable CPU cores"), std::string::npos);
  // 6 GiB limit: below the 8 GB minimum, though the machine has 32.
  EXPECT_EQ(find_check(r, "memory.total")->status, CheckStatus::Fail);
  EXPECT_EQ(r.exit_code(), 2);
  nlohmann::json j = doctor_to_json(r);
  EXPECT_EQ(j["cpu"]["usable_cores"], 2);
  EXPECT_EQ(j["memory"]["effective_total_bytes"], 6442450944ull);
  EXPECT_EQ(j["exit_code"], 2);
  EXPECT_EQ(j["status"], "fail");
  EXPECT_NE(doctor_to_text(r).find("FAIL  CPU cores"), std::string::npos);
}

TEST_F(Doctor, RecommendedProfileTurnsWarningsIntoFailures) {
  root_.write("/proc/meminfo", "MemTotal: 12582912 kB\nMemAvailable: 8000000 kB\n");  // 12 GiB
  root_.write("/sys/dev/block/259:0/queue/rotational", "1\n");
  root_.write("/sys/dev/block/259:0/uevent", "DEVNAME=sda\n");
  DoctorReport min = run_doctor(options_);
  EXPECT_EQ(find_check(min, "memory.total")->status, CheckStatus::Pass);
  EXPECT_EQ(find_check(min, "memory.recommended")->status, CheckStatus::Warn);
  EXPECT_EQ(find_check(min, "disk.ssd")->status, CheckStatus::Warn);
  if (disk_has_20gb()) {
    EXPECT_EQ(min.exit_code(), 1);
  }
  options_.profile = Profile::Recommended;
  DoctorReport rec = run_doctor(options_);
  EXPECT_EQ(find_check(rec, "memory.recommended")->status, CheckStatus::Fail);
  EXPECT_EQ(find_check(rec, "disk.ssd")->status, CheckStatus::Fail);
  EXPECT_EQ(rec.exit_code(), 2);
}

// The fast kernels need AVX2 + FMA + F16C; an ARM CPU (NEON) runs the scalar references, and the
// warning says so rather than passing.
TEST_F(Doctor, SimdCheckNamesWhatTheKernelsNeed) {
  EXPECT_EQ(find_check(run_doctor(options_), "cpu.simd")->status, CheckStatus::Pass);
  root_.write("/proc/cpuinfo", "processor\t: 0\nFeatures\t: fp asimd asimddp\n\nprocessor\t: 1\n"
                               "Features\t: fp asimd asimddp\n\n");
  const DoctorReport arm_report = run_doctor(options_);
  const Check* arm = find_check(arm_report, "cpu.simd");
  EXPECT_EQ(arm->status, CheckStatus::Warn);
  EXPECT_NE(arm->message.find("no ARM kernels"), std::string::npos) << arm->message;
  root_.write("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma\n\n");  // no F16C
  const DoctorReport no_f16c_report = run_doctor(options_);
  const Check* no_f16c = find_check(no_f16c_report, "cpu.simd");
  EXPECT_EQ(no_f16c->status, CheckStatus::Warn);
  EXPECT_NE(no_f16c->message.find("AVX2+FMA+F16C"), std::string::npos) << no_f16c->message;
}

TEST_F(Doctor, TwoFakeGpus) {
  options_.nvml_library = FAKE_NVML_PATH;
  DoctorReport r = run_doctor(options_);
  ASSERT_EQ(r.gpu.gpus.size(), 2u);
  EXPECT_EQ(find_check(r, "gpu.cuda")->status, CheckStatus::Pass);
  EXPECT_EQ(find_check(r, "gpu.memory", 0)->status, CheckStatus::Pass);
  EXPECT_EQ(find_check(r, "gpu.memory", 1)->status, CheckStatus::Pass);
  nlohmann::json j = doctor_to_json(r);
  EXPECT_EQ(j["gpu"]["gpus"].size(), 2u);
  EXPECT_EQ(j["gpu"]["cuda_version"], "12.4");
  EXPECT_EQ(j["gpu"]["gpus"][1]["compute_capability"], "8.9");

  // An old driver and a small card: the GPU cannot be used, but the CPU can: warnings.
  setenv("FAKE_NVML_CUDA", "11040", 1);
  setenv("FAKE_NVML_SMALL_GPU1", "1", 1);
  DoctorReport old = run_doctor(options_);
  EXPECT_EQ(find_check(old, "gpu.cuda")->status, CheckStatus::Warn);
  EXPECT_NE(find_check(old, "gpu.cuda")->message.find("11.4"), std::string::npos);
  EXPECT_EQ(find_check(old, "gpu.memory", 0)->status, CheckStatus::Pass);
  EXPECT_EQ(find_check(old, "gpu.memory", 1)->status, CheckStatus::Warn);

  // CUDA_VISIBLE_DEVICES hides one.
  options_.cuda_visible_devices = std::optional<std::string>{"1"};
  DoctorReport one = run_doctor(options_);
  ASSERT_EQ(one.gpu.gpus.size(), 1u);
  EXPECT_EQ(one.gpu.gpus[0].name, "NVIDIA GeForce RTX 4090");
}

TEST_F(Doctor, GpuDevicesForThePlannerMatchTheCatalog) {
  GpuReport g = probe_gpus(FAKE_NVML_PATH, nullptr);
  auto devices = gpu_devices(g, planner::builtin_device_catalog());
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_DOUBLE_EQ(devices[0].bandwidth_gbs, 2039);  // A100 80GB SXM
  EXPECT_DOUBLE_EQ(devices[1].bandwidth_gbs, 1008);  // RTX 4090
  EXPECT_EQ(devices[1].memory_bytes, 24ull << 30);   // what NVML says, not the catalog
}

TEST_F(Doctor, DockerMissingOrOldWarns) {
  options_.docker_command = "autoglm-no-such-docker";
  DoctorReport r = run_doctor(options_);
  EXPECT_EQ(find_check(r, "docker.version")->status, CheckStatus::Warn);
  root_.write("/bin/docker", "#!/bin/sh\necho 'Docker version 20.9.1, build x'\n");
  options_.docker_command = root_.at("/bin/docker");
  EXPECT_EQ(find_check(run_doctor(options_), "docker.version")->status, CheckStatus::Warn);
  root_.write("/bin/docker", "#!/bin/sh\necho 'Docker version 20.10.0, build x'\n");
  EXPECT_EQ(find_check(run_doctor(options_), "docker.version")->status, CheckStatus::Pass);
}

TEST_F(Doctor, MissingSysAndProc) {
  FakeRoot empty;
  options_.sysroot = empty.path();
  DoctorReport r = run_doctor(options_);
  EXPECT_EQ(find_check(r, "cpu.cores")->status, CheckStatus::Fail);
  EXPECT_EQ(find_check(r, "memory.total")->status, CheckStatus::Warn);
  EXPECT_NE(find_check(r, "memory.total")->message.find("unknown"), std::string::npos);
  EXPECT_EQ(find_check(r, "disk.ssd")->status, CheckStatus::Warn);
  EXPECT_EQ(r.exit_code(), 2);
  EXPECT_FALSE(doctor_to_text(r).empty());
}

TEST_F(Doctor, ModelFitCheck) {
  options_.model_path = std::string(AUTOGLM_SHARED_DIR) + "/models/stories260K.gguf";
  DoctorReport r = run_doctor(options_);
  const Check* fit = find_check(r, "model.fit");
  ASSERT_NE(fit, nullptr);
  EXPECT_EQ(fit->status, CheckStatus::Pass) << fit->measured << " " << fit->message;
  ASSERT_TRUE(r.model_plan.has_value());
  EXPECT_EQ(r.model_plan->model.hp.n_layer, 5);
  EXPECT_TRUE(doctor_to_json(r)["model"].contains("memory"));
  // A machine too small for it.
  root_.write("/proc/meminfo", "MemTotal: 10240 kB\nMemAvailable: 5120 kB\n");
  EXPECT_EQ(find_check(run_doctor(options_), "model.fit")->status, CheckStatus::Fail);
  options_.model_path = "/nonexistent/model.gguf";
  DoctorReport bad = run_doctor(options_);
  EXPECT_EQ(find_check(bad, "model.fit")->status, CheckStatus::Fail);
  EXPECT_NE(find_check(bad, "model.fit")->message.find("/nonexistent/model.gguf"), std::string::npos);
}

TEST_F(Doctor, CliExitCodeAndJson) {
  root_.write("/proc/self/status", "Cpus_allowed_list:\t0-1\n");
  const std::string cmd = std::string(AUTOGLM_BINARY_DIR) + "/bin/autoglm doctor --json --sysroot " +
                          root_.path() + " --models-dir " + root_.at("/models") +
                          " --nvml-library /nonexistent/libnvidia-ml.so.1 --docker-command " +
                          root_.at("/bin/docker") + " --port " + std::to_string(options_.port);
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["cpu"]["usable_cores"], 2);
  EXPECT_EQ(j["gpu"]["gpus"].size(), 0u);
  EXPECT_EQ(j["docker"]["version"], "24.0.7");
  // A usage error exits 2 too, never 0 or 1.
  const int bad = std::system((std::string(AUTOGLM_BINARY_DIR) +
                               "/bin/autoglm doctor --profile bogus >/dev/null 2>&1").c_str());
  ASSERT_TRUE(WIFEXITED(bad));
  EXPECT_EQ(WEXITSTATUS(bad), 2);
}

}  // namespace
}  // namespace ag::device
