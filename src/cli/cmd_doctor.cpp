// `autoglm doctor`: can this machine run Open-AutoGLM (and, with --model, this model)? Probes CPU,
// memory, disk, GPUs, Docker and the port; prints pass / warn / fail per requirement; exit code
// 0 pass, 1 warnings, 2 a failed requirement.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "device/doctor.h"

namespace ag::cli {
namespace {

int run_doctor(int argc, char** argv) {
  CLI::App app{"Check this machine against the deployment requirements", "doctor"};
  device::DoctorOptions o;
  std::string profile = "min";
  bool json_out = false;
  app.add_flag("--json", json_out, "print JSON");
  app.add_option("--model", o.model_path, "GGUF model: add a check that it fits this machine");
  app.add_option("--ctx", o.model_ctx, "context the --model check plans for")->check(CLI::Range(1, 1 << 24));
  app.add_option("--port", o.port, "port `autoglm serve` will listen on")->check(CLI::Range(1, 65535));
  app.add_option("--profile", profile, "requirements to hold: min (default) or recommended");
  app.add_option("--models-dir", o.models_dir, "where models live (default: the model's directory or .)");
  app.add_option("--sysroot", o.sysroot, "read /proc and /sys under this root (tests)");
  app.add_option("--nvml-library", o.nvml_library,
                 "NVML library to load (default: $AUTOGLM_NVML_LIBRARY or libnvidia-ml.so.1)");
  app.add_option("--docker-command", o.docker_command, "Docker client to ask for its version");
  app.add_flag("--bandwidth", o.measure_bandwidth, "measure memory read bandwidth (~0.5 s)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2: never mistaken for a pass (0) or a warning (1).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (profile == "min" || profile == "minimum") {
    o.profile = device::Profile::Minimum;
  } else if (profile == "recommended") {
    o.profile = device::Profile::Recommended;
  } else {
    std::fprintf(stderr, "autoglm doctor: --profile '%s': expected min or recommended\n", profile.c_str());
    return 2;
  }
  // A speed estimate for --model needs this machine's bandwidth.
  if (!o.model_path.empty()) o.measure_bandwidth = true;
  const device::DoctorReport report = device::run_doctor(o);
  if (json_out) std::printf("%s\n", device::doctor_to_json(report).dump(2).c_str());
  else std::fputs(device::doctor_to_text(report).c_str(), stdout);
  return report.exit_code();
}

const CommandRegistration kRegistration{
    {"doctor", "check this machine (and a model) against the requirements", run_doctor}};

}  // namespace
}  // namespace ag::cli
