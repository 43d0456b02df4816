// `autoglm plan`: will this model fit, where, and how fast — from the model's header (or a preset,
// a config.json, a bare parameter count), before anything is loaded.
#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "device/bandwidth.h"
#include "device/cgroup.h"
#include "device/cpu_probe.h"
#include "device/doctor.h"
#include "device/memory_probe.h"
#include "planner/device_catalog.h"
#include "planner/model_presets.h"
#include "planner/plan.h"

namespace ag::cli {
namespace {

using namespace ag::planner;

Result<std::optional<TrainMode>> parse_train(const std::string& s) {
  if (s.empty()) return std::optional<TrainMode>{};
  if (s == "adam") return std::optional<TrainMode>{TrainMode::Adam};
  if (s == "adam-mixed") return std::optional<TrainMode>{TrainMode::AdamMixed};
  if (s == "lora") return std::optional<TrainMode>{TrainMode::Lora};
  return error("--train '{}': expected adam, adam-mixed or lora", s);
}

Result<DType> parse_kv_type(const std::string& s) {
  auto t = dtype_from_name(s);
  if (!t || (*t != DType::F16 && *t != DType::F32 && *t != DType::Q8_0 && *t != DType::Q4_0))
    return error("--kv-type '{}': expected f16, f32, q8_0 or q4_0", s);
  return *t;
}

int run_plan(int argc, char** argv) {
  CLI::App app{"Plan memory, fit and speed of a model on this machine and on known accelerators",
               "plan"};
  std::string model_path, preset, hf_config, params, quant, kv_type = "f16", device = "cpu",
              train, catalog_path, sysroot = "/";
  int ctx = 4096, batch = 1, threads = 0, lora_rank = 16;
  double cpu_bandwidth = 0;
  bool json_out = false, list_devices = false, list_presets = false;
  app.add_option("-m,--model", model_path, "GGUF file: exact tensor sizes from its header");
  app.add_option("--preset", preset, "a known model shape (see --list-presets)");
  app.add_option("--hf-config", hf_config, "a Hugging Face config.json");
  app.add_option("--params", params, "a parameter count such as 7B (shape of the nearest preset)");
  app.add_option("--quant", quant,
                 "file type for --preset/--hf-config/--params: Q4_K_M (default), Q8_0, F16, ...");
  app.add_option("--ctx", ctx, "context positions per sequence")->check(CLI::Range(1, 1 << 24));
  app.add_option("--batch", batch, "concurrent sequences")->check(CLI::Range(1, 1 << 16));
  app.add_option("--kv-type", kv_type, "KV cache element type: f16, f32, q8_0, q4_0");
  app.add_option("-t,--threads", threads, "CPU threads (default: usable cores)")->check(CLI::Range(0, 4096));
  app.add_option("--device", device, "cpu (this machine), a catalog name, or all");
  app.add_option("--train", train, "plan training instead: adam, adam-mixed or lora");
  app.add_option("--lora-rank", lora_rank, "LoRA rank for --train lora")->check(CLI::Range(1, 65536));
  app.add_option("--catalog", catalog_path, "device catalog JSON (default: the built-in one)");
  app.add_option("--cpu-bandwidth", cpu_bandwidth,
                 "this machine's memory bandwidth in GB/s (default: measured, ~0.5 s)")
      ->check(CLI::Range(0.0, 1e5));
  app.add_option("--sysroot", sysroot, "root for /proc and /sys probes (tests)");
  app.add_flag("--json", json_out, "print JSON");
  app.add_flag("--list-devices", list_devices, "list the device catalog and exit");
  app.add_flag("--list-presets", list_presets, "list the model presets and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "autoglm plan: %s\n", e.message.c_str());
    return 1;
  };

  DeviceCatalog catalog = builtin_device_catalog();
  if (!catalog_path.empty()) {
    auto c = load_device_catalog(catalog_path);
    if (!c.ok()) return fail(c.error());
    catalog = std::move(c).value();
  }
  if (list_devices) {
    for (const auto& d : catalog.devices)
      std::printf("%-16s %-40s %6.0f GiB %7.0f GB/s %8.1f TFLOPS  %s\n", d.name.c_str(),
                  d.display.c_str(), static_cast<double>(d.memory_bytes) / (1ull << 30),
                  d.bandwidth_gbs, d.fp16_tflops, d.source.c_str());
    return 0;
  }
  if (list_presets) {
    for (const auto& p : model_presets())
      std::printf("%-20s %-6s %6.2fB params  %s\n", std::string(p.name).c_str(),
                  p.hparams.arch.c_str(), static_cast<double>(p.n_params) / 1e9,
                  std::string(p.hf_repo).c_str());
    return 0;
  }

  const int n_sources = !model_path.empty() + !preset.empty() + !hf_config.empty() + !params.empty();
  if (n_sources != 1)
    return fail(error("give exactly one of -m FILE, --preset NAME, --hf-config FILE, --params N"));
  if (!model_path.empty() && !quant.empty())
    return fail(error("--quant applies to --preset/--hf-config/--params; a GGUF file has its own types"));
  std::optional<FileType> ftype;
  if (!quant.empty()) {
    auto ft = file_type_from_name(quant);
    if (!ft.ok()) return fail(ft.error());
    ftype = *ft;
  }
  Result<ModelSpec> spec = error("no model");
  if (!model_path.empty()) spec = spec_from_gguf(model_path);
  else if (!preset.empty()) spec = spec_from_preset(preset, ftype.value_or(FileType::Q4_K_M));
  else if (!hf_config.empty()) spec = spec_from_hf_config(hf_config, ftype);
  else spec = spec_from_params(params, ftype.value_or(FileType::Q4_K_M));
  if (!spec.ok()) return fail(spec.error());

  PlanRequest req;
  req.run.n_ctx = ctx;
  req.run.n_batch = batch;
  req.lora_rank = lora_rank;
  auto kv = parse_kv_type(kv_type);
  if (!kv.ok()) return fail(kv.error());
  req.run.kv_type = *kv;
  auto tm = parse_train(train);
  if (!tm.ok()) return fail(tm.error());
  req.train = *tm;

  // Devices: this machine is probed only when it is asked about.
  std::vector<Device> devices;
  const bool want_cpu = device == "cpu" || device == "all";
  const device::SysRoot root(sysroot);
  const device::CgroupLimits cgroup = device::probe_cgroup(root);
  const device::CpuReport cpu = device::probe_cpu(root, cgroup, root.is_live());
  req.run.n_threads = threads > 0 ? threads : std::max(1, cpu.n_usable);
  if (want_cpu) {
    const device::MemoryReport mem = device::probe_memory(root, cgroup);
    std::optional<device::BandwidthResult> bw;
    if (cpu_bandwidth > 0) {
      bw = device::BandwidthResult{cpu_bandwidth, 0, req.run.n_threads, 0};
    } else {
      bw = device::measure_read_bandwidth(req.run.n_threads);
    }
    CpuMachine m = device::cpu_machine(cpu, mem, bw);
    if (cpu_bandwidth > 0) m.bandwidth_source = fmt::format("{:.1f} GB/s given with --cpu-bandwidth", cpu_bandwidth);
    devices.push_back(cpu_device(m));
  }
  if (device == "all") {
    for (const auto& d : catalog.devices) devices.push_back(d);
  } else if (device != "cpu") {
    const Device* d = catalog.find(device);
    if (d == nullptr) {
      std::string names;
      for (const auto& x : catalog.devices) names += (names.empty() ? "" : ", ") + x.name;
      return fail(error("--device '{}': not in the catalog (cpu, all, {})", device, names));
    }
    devices.push_back(*d);
  }

  Plan plan = make_plan(std::move(spec).value(), req, devices, catalog);
  if (json_out) std::printf("%s\n", plan_to_json(plan).dump(2).c_str());
  else std::fputs(plan_to_text(plan).c_str(), stdout);
  return 0;
}

const CommandRegistration kRegistration{
    {"plan", "memory, fit and speed of a model per device, before loading it", run_plan}};

}  // namespace
}  // namespace ag::cli
