#include <gtest/gtest.h>
#include <stdlib.h>

#include "device/gpu_probe.h"

namespace ag::device {
namespace {

// Each test sets the fake library's knobs and clears them after.
class GpuProbe : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* k : {"FAKE_NVML_GPUS", "FAKE_NVML_CUDA", "FAKE_NVML_INIT_ERROR",
                          "FAKE_NVML_SMALL_GPU1", "AUTOGLM_NVML_LIBRARY"})
      unsetenv(k);
  }
};

TEST_F(GpuProbe, TwoFakeGpus) {
  GpuReport r = probe_gpus(FAKE_NVML_PATH, nullptr);
  ASSERT_TRUE(r.nvml_loaded) << r.status;
  EXPECT_EQ(r.driver_version, "550.54.15");
  EXPECT_EQ(r.cuda_driver_version, 12040);
  EXPECT_EQ(r.cuda_version_string(), "12.4");
  EXPECT_EQ(r.n_total, 2);
  ASSERT_EQ(r.gpus.size(), 2u);
  EXPECT_EQ(r.gpus[0].name, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(r.gpus[0].memory_total_bytes, 80ull << 30);
  EXPECT_EQ(r.gpus[0].memory_free_bytes, 79ull << 30);
  EXPECT_EQ(r.gpus[0].cc_major, 8);
  EXPECT_EQ(r.gpus[0].cc_minor, 0);
  EXPECT_EQ(r.gpus[1].name, "NVIDIA GeForce RTX 4090");
  EXPECT_EQ(r.gpus[1].cc_minor, 9);
  EXPECT_EQ(r.gpus[1].uuid.substr(0, 12), "GPU-22222222");
}

TEST_F(GpuProbe, LibraryPathFromEnvironment) {
  setenv("AUTOGLM_NVML_LIBRARY", FAKE_NVML_PATH, 1);
  setenv("FAKE_NVML_GPUS", "3", 1);
  GpuReport r = probe_gpus("", nullptr);
  ASSERT_TRUE(r.nvml_loaded) << r.status;
  EXPECT_EQ(r.gpus.size(), 3u);
  EXPECT_EQ(r.gpus[2].name, "Tesla T4");
}

TEST_F(GpuProbe, CudaVisibleDevices) {
  GpuReport one = probe_gpus(FAKE_NVML_PATH, "1");
  ASSERT_EQ(one.gpus.size(), 1u);
  EXPECT_EQ(one.gpus[0].index, 1);
  EXPECT_EQ(one.n_total, 2);

  GpuReport by_uuid = probe_gpus(FAKE_NVML_PATH, "GPU-11111111");
  ASSERT_EQ(by_uuid.gpus.size(), 1u);
  EXPECT_EQ(by_uuid.gpus[0].index, 0);

  GpuReport reordered = probe_gpus(FAKE_NVML_PATH, "1,0");
  ASSERT_EQ(reordered.gpus.size(), 2u);
  EXPECT_EQ(reordered.gpus[0].index, 1);

  // CUDA stops at the first entry that names no device.
  GpuReport stop = probe_gpus(FAKE_NVML_PATH, "0,7,1");
  ASSERT_EQ(stop.gpus.size(), 1u);
  EXPECT_NE(stop.visibility_note.find("'7'"), std::string::npos);

  GpuReport none = probe_gpus(FAKE_NVML_PATH, "");
  EXPECT_TRUE(none.gpus.empty());
  EXPECT_TRUE(none.nvml_loaded);
  EXPECT_NE(none.status.find("no GPU visible"), std::string::npos);
  EXPECT_TRUE(probe_gpus(FAKE_NVML_PATH, "-1").gpus.empty());
}

TEST_F(GpuProbe, NoLibraryIsANormalOutcome) {
  GpuReport r = probe_gpus("/nonexistent/libnvidia-ml.so.1", nullptr);
  EXPECT_FALSE(r.nvml_loaded);
  EXPECT_TRUE(r.gpus.empty());
  EXPECT_NE(r.status.find("cannot load"), std::string::npos);
}

TEST_F(GpuProbe, NotAnNvmlLibrary) {
  // libc is a real shared library without NVML's entry points.
  GpuReport r = probe_gpus("libc.so.6", nullptr);
  EXPECT_FALSE(r.nvml_loaded);
  EXPECT_NE(r.status.find("lacks the NVML entry points"), std::string::npos);
}

TEST_F(GpuProbe, DriverNotLoaded) {
  setenv("FAKE_NVML_INIT_ERROR", "9", 1);
  GpuReport r = probe_gpus(FAKE_NVML_PATH, nullptr);
  EXPECT_FALSE(r.nvml_loaded);
  EXPECT_NE(r.status.find("Driver Not Loaded"), std::string::npos);
}

TEST_F(GpuProbe, NoGpus) {
  setenv("FAKE_NVML_GPUS", "0", 1);
  GpuReport r = probe_gpus(FAKE_NVML_PATH, nullptr);
  EXPECT_TRUE(r.nvml_loaded);
  EXPECT_TRUE(r.gpus.empty());
  EXPECT_EQ(r.status, "NVML reports no GPU");
}

}  // namespace
}  // namespace ag::device
