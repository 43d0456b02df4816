#pragma once
// `autoglm doctor`: probes this machine (through an injectable sysroot), checks it against the
// requirements, and with a model, whether the model fits. Exit code 0 pass / 1 warn / 2 fail.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "device/bandwidth.h"
#include "device/cgroup.h"
#include "device/cpu_probe.h"
#include "device/disk_probe.h"
#include "device/gpu_probe.h"
#include "device/memory_probe.h"
#include "device/requirements.h"
#include "device/system_probe.h"
#include "planner/device_catalog.h"
#include "planner/plan.h"

namespace ag::device {

struct DoctorOptions {
  std::string sysroot = "/";
  std::string models_dir;     // "" = the model's directory, else "."
  std::string model_path;     // --model: adds the "fits this machine" check
  int model_ctx = 4096;       // context the model check plans for
  int port = 8080;
  Profile profile = Profile::Minimum;
  std::string nvml_library;   // "" = $AUTOGLM_NVML_LIBRARY or libnvidia-ml.so.1
  // nullopt: read CUDA_VISIBLE_DEVICES from the environment; a value: use it ("" = hide all).
  std::optional<std::optional<std::string>> cuda_visible_devices;
  std::string docker_command = "docker";
  bool measure_bandwidth = false;  // a ~0.3 s read test (for the model's speed estimate)
};

struct DoctorReport {
  DoctorOptions options;
  OsReport os;
  CgroupLimits cgroup;
  CpuReport cpu;
  MemoryReport memory;
  DiskReport disk;
  GpuReport gpu;
  DockerReport docker;
  PortReport port;
  std::optional<BandwidthResult> bandwidth;
  std::optional<planner::Plan> model_plan;  // on this machine's CPU (and its GPUs)
  std::string model_error;                  // the model could not be read
  std::vector<Check> checks;

  CheckStatus overall() const;
  int exit_code() const;  // 0 pass, 1 warn, 2 fail
};

DoctorReport run_doctor(const DoctorOptions& options);

// This machine as the planner's `cpu` device.
planner::CpuMachine cpu_machine(const CpuReport& cpu, const MemoryReport& memory,
                                const std::optional<BandwidthResult>& bandwidth);
// Visible GPUs as planner devices (memory from NVML, speed figures from the catalog entry whose
// name matches, when one does).
std::vector<planner::Device> gpu_devices(const GpuReport& gpu, const planner::DeviceCatalog& catalog);

nlohmann::json doctor_to_json(const DoctorReport& report);
std::string doctor_to_text(const DoctorReport& report);

}  // namespace ag::device
