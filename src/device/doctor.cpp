#include "device/doctor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ag::device {

namespace {

constexpr double kGB = 1e9;

std::string gb(uint64_t bytes) { return fmt::format("{:.1f} GB", static_cast<double>(bytes) / kGB); }

std::string required_text(const Requirement& r) {
  if (r.unit == "version") return fmt::format(">= {:.2f} ({})", r.value, level_name(r.level));
  if (r.unit.empty()) return fmt::format("{} ({})", r.what, level_name(r.level));
  return fmt::format(">= {:g} {} ({})", r.value, r.unit, level_name(r.level));
}

Check make_check(std::string_view id, std::string name, bool met, std::string measured,
                 std::string message_if_unmet, Profile profile) {
  const Requirement& r = requirement(id);
  Check c;
  c.id = std::string(id);
  c.name = std::move(name);
  c.status = met ? CheckStatus::Pass : unmet_status(r.level, profile);
  c.measured = std::move(measured);
  c.required = required_text(r);
  if (!met) c.message = std::move(message_if_unmet);
  return c;
}

// "Catalog device this NVML name is", by the markings NVIDIA puts in product names.
std::string catalog_name_for(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto has = [&](std::string_view s) { return name.find(s) != std::string::npos; };
  if (has("h200")) return "h200";
  if (has("h100")) return has("nvl") ? "h100-nvl" : has("pcie") ? "h100-pcie" : "h100-sxm";
  if (has("a100")) {
    const bool big = has("80g");
    if (has("pcie")) return big ? "a100-80gb-pcie" : "a100-40gb-pcie";
    return big ? "a100-80gb-sxm" : "a100-40gb-sxm";
  }
  if (has("l40s")) return "l40s";
  if (has("a10g")) return "a10g";
  if (has(" a10") && !has("a100")) return "a10";
  if (has(" l4")) return "l4";
  if (has(" t4")) return "t4";
  if (has("v100")) return has("sxm") ? "v100-32gb-sxm2" : "v100-16gb-pcie";
  if (has("3090")) return "rtx-3090";
  if (has("4090")) return "rtx-4090";
  if (has("5090")) return "rtx-5090";
  if (has("mi300x")) return "mi300x";
  return {};
}

void evaluate(DoctorReport& r) {
  const Profile profile = r.options.profile;
  std::vector<Check>& checks = r.checks;

  // CPU cores.
  {
    std::string measured = fmt::format("{} usable core{} ({}; {} logical, {} physical)",
                                       r.cpu.n_usable, r.cpu.n_usable == 1 ? "" : "s",
                                       r.cpu.usable_reason, r.cpu.n_logical, r.cpu.n_physical);
    checks.push_back(make_check(
        "cpu.cores", "CPU cores", r.cpu.n_usable >= requirement("cpu.cores").value, measured,
        fmt::format("only {} usable CPU core{}: the minimum is {}; generation will be slow and "
                    "concurrent requests queue",
                    r.cpu.n_usable, r.cpu.n_usable == 1 ? "" : "s",
                    requirement("cpu.cores").value),
        profile));
  }
  // SIMD.
  {
    // The fast kernels are x86 only (AVX2 + FMA + F16C, core/cpu_features.h); an ARM CPU runs the
    // scalar references today, so NEON alone is reported, not counted as fast.
    const bool fast = r.cpu.has("avx2") && r.cpu.has("fma") && r.cpu.has("f16c");
    std::string list;
    for (const auto& f : r.cpu.simd) list += (list.empty() ? "" : " ") + f;
    checks.push_back(make_check(
        "cpu.simd", "CPU SIMD", fast,
        fmt::format("{} ({})", list.empty() ? "none detected" : list,
                    r.cpu.simd_source.empty() ? "no source" : r.cpu.simd_source),
        r.cpu.has("neon") ? "NEON, but this build has no ARM kernels yet: the scalar reference kernels run, "
                            "several times slower"
                          : "no AVX2+FMA+F16C: the scalar reference kernels run, several times slower",
        profile));
  }
  // Memory.
  {
    const uint64_t eff = r.memory.effective_total_bytes;
    std::string measured = fmt::format("{} total, {} available", gb(eff),
                                       gb(r.memory.effective_available_bytes));
    if (r.memory.cgroup_limit_bytes > 0)
      measured += fmt::format(" (cgroup limit {}; machine {})", gb(r.memory.cgroup_limit_bytes),
                              gb(r.memory.total_bytes));
    const bool known = eff > 0;
    Check c = make_check("memory.total", "memory", known && eff >= requirement("memory.total").value * kGB,
                         measured,
                         known ? fmt::format("{} of memory is below the {:g} GB minimum", gb(eff),
                                             requirement("memory.total").value)
                               : "memory size unknown: /proc/meminfo not readable",
                         profile);
    if (!known) c.status = CheckStatus::Warn;
    checks.push_back(c);
    Check rec = make_check(
        "memory.recommended", "memory (recommended)",
        known && eff >= requirement("memory.recommended").value * kGB, measured,
        fmt::format("{} is below the recommended {:g} GB: 7B models at 4-bit and long contexts "
                    "will not fit",
                    gb(eff), requirement("memory.recommended").value),
        profile);
    if (!known) rec.status = CheckStatus::Warn;
    checks.push_back(rec);
  }
  // Disk.
  {
    Check c = make_check(
        "disk.free", "disk space", r.disk.space_known &&
                                       r.disk.free_bytes >= requirement("disk.free").value * kGB,
        r.disk.space_known ? fmt::format("{} free of {} at {}", gb(r.disk.free_bytes),
                                         gb(r.disk.total_bytes), r.disk.stat_path)
                           : fmt::format("unknown at {}", r.disk.stat_path),
        r.disk.space_known ? fmt::format("{} free where models live ({}); the minimum is {:g} GB",
                                         gb(r.disk.free_bytes), r.disk.stat_path,
                                         requirement("disk.free").value)
                           : "free space unknown",
        profile);
    if (!r.disk.space_known) c.status = CheckStatus::Warn;
    checks.push_back(c);
    Check ssd = make_check("disk.ssd", "SSD", r.disk.storage == "ssd",
                           fmt::format("{} ({})", r.disk.storage, r.disk.storage_reason),
                           r.disk.storage == "hdd"
                               ? "models are on a rotating disk: loading a 5 GB model takes ~30 s"
                               : "cannot tell whether the disk is an SSD",
                           profile);
    // Unknown is not a failure: virtual disks cannot say.
    if (r.disk.storage == "unknown" && ssd.status == CheckStatus::Fail) ssd.status = CheckStatus::Warn;
    checks.push_back(ssd);
  }
  // GPUs (optional).
  if (r.gpu.gpus.empty()) {
    Check c;
    c.id = "gpu";
    c.name = "GPU";
    c.status = CheckStatus::Pass;
    c.measured = fmt::format("none ({})", r.gpu.status);
    c.required = "optional: CUDA >= 11.8 and >= 6 GB per GPU";
    checks.push_back(c);
  } else {
    const Requirement& cuda = requirement("gpu.cuda");
    // NVML encodes CUDA versions as 1000 * major + 10 * minor: 12040 is 12.4, 11080 is 11.8.
    const int major = r.gpu.cuda_driver_version / 1000;
    const int minor = (r.gpu.cuda_driver_version % 1000) / 10;
    const int need_major = static_cast<int>(cuda.value);
    const int need_minor = static_cast<int>(std::lround((cuda.value - need_major) * 10));
    const bool cuda_ok = major > need_major || (major == need_major && minor >= need_minor);
    checks.push_back(make_check(
        "gpu.cuda", "CUDA (driver)", cuda_ok,
        fmt::format("driver {} supports CUDA {}", r.gpu.driver_version.empty() ? "?" : r.gpu.driver_version,
                    r.gpu.cuda_version_string().empty() ? "unknown" : r.gpu.cuda_version_string()),
        fmt::format("the NVIDIA driver supports CUDA {} only; {:.1f} or newer is needed to use the "
                    "GPU (update the driver)",
                    r.gpu.cuda_version_string().empty() ? "unknown" : r.gpu.cuda_version_string(),
                    cuda.value),
        profile));
    for (const auto& g : r.gpu.gpus) {
      const bool ok = g.memory_total_bytes >= requirement("gpu.memory").value * kGB;
      Check c = make_check(
          "gpu.memory", fmt::format("GPU {}", g.index), ok,
          fmt::format("{}: {} ({} free), compute capability {}.{}", g.name, gb(g.memory_total_bytes),
                      gb(g.memory_free_bytes), g.cc_major, g.cc_minor),
          fmt::format("GPU {} ({}) has {}: below {:g} GB it cannot hold a 7B model at 4-bit", g.index,
                      g.name, gb(g.memory_total_bytes), requirement("gpu.memory").value),
          profile);
      checks.push_back(c);
    }
  }
  // Docker (optional).
  {
    const Requirement& d = requirement("docker.version");
    const bool ok = r.docker.found && (r.docker.major > 20 || (r.docker.major == 20 && r.docker.minor >= 10));
    checks.push_back(make_check(
        "docker.version", "Docker", ok,
        r.docker.found ? fmt::format("Docker {}", r.docker.version) : r.docker.status,
        r.docker.found
            ? fmt::format("Docker {} is older than {:.2f}: the container image needs a newer engine",
                          r.docker.version, d.value)
            : "Docker client not found: install it to run the container image (native runs work)",
        profile));
  }
  // Port.
  {
    Check c;
    c.id = "port";
    c.name = fmt::format("port {}", r.port.port);
    c.status = r.port.free ? CheckStatus::Pass : CheckStatus::Warn;
    c.measured = r.port.status;
    c.required = "free on 127.0.0.1 for `autoglm serve`";
    if (!r.port.free)
      c.message = fmt::format("port {} is not available ({}): stop what holds it or serve on another "
                              "--port",
                              r.port.port, r.port.status);
    checks.push_back(c);
  }
  // Model fit.
  if (!r.options.model_path.empty()) {
    Check c;
    c.id = "model.fit";
    c.name = "model fits";
    c.required = fmt::format("weights + KV ({} ctx) + buffers within memory", r.options.model_ctx);
    if (!r.model_plan) {
      c.status = CheckStatus::Fail;
      c.measured = "cannot read the model";
      c.message = r.model_error;
    } else {
      const planner::Plan& p = *r.model_plan;
      const uint64_t need = p.memory.total_bytes;
      const uint64_t avail = r.memory.effective_available_bytes;
      const uint64_t total = r.memory.effective_total_bytes;
      std::string gpu_note;
      for (const auto& f : p.devices)
        if (f.device.kind == "gpu" && f.fits) gpu_note = fmt::format("; fits on {}", f.device.display);
      c.measured = fmt::format("needs {} ({} weights + {} KV); {} available of {}{}", gb(need),
                               gb(p.memory.weights_bytes), gb(p.memory.kv_bytes), gb(avail), gb(total),
                               gpu_note);
      if (need <= avail) {
        c.status = CheckStatus::Pass;
      } else if (need <= total) {
        c.status = CheckStatus::Warn;
        c.message = fmt::format("the model needs {} but only {} is free now: close other programs or "
                                "lower --ctx",
                                gb(need), gb(avail));
      } else {
        c.status = CheckStatus::Fail;
        c.message = fmt::format("the model needs {} at {} context; this machine allows {}: use a "
                                "smaller quantization or context",
                                gb(need), r.options.model_ctx, gb(total));
      }
    }
    checks.push_back(c);
  }
}

}  // namespace

CheckStatus DoctorReport::overall() const {
  CheckStatus worst = CheckStatus::Pass;
  for (const auto& c : checks)
    if (static_cast<int>(c.status) > static_cast<int>(worst)) worst = c.status;
  return worst;
}

int DoctorReport::exit_code() const {
  switch (overall()) {
    case CheckStatus::Pass: return 0;
    case CheckStatus::Warn: return 1;
    case CheckStatus::Fail: return 2;
  }
  return 2;
}

planner::CpuMachine cpu_machine(const CpuReport& cpu, const MemoryReport& memory,
                                const std::optional<BandwidthResult>& bandwidth) {
  planner::CpuMachine m;
  m.model_name = cpu.model_name;
  m.n_cores = std::max(1, cpu.n_usable);
  m.ghz = cpu.mhz / 1000.0;
  m.flops_per_cycle = cpu.flops_per_cycle();
  m.fast_kernels = cpu.has("avx2") && cpu.has("fma") && cpu.has("f16c");  // as the cpu.simd check
  m.memory_bytes = memory.effective_total_bytes;
  if (bandwidth && bandwidth->gbs > 0) {
    m.bandwidth_gbs = bandwidth->gbs;
    m.bandwidth_source = fmt::format("measured {:.1f} GB/s ({} threads, {} MiB read)", bandwidth->gbs,
                                     bandwidth->n_threads, bandwidth->bytes >> 20);
  } else {
    // DDR4-3200, one channel's worth per two cores: a floor typical of cloud VMs.
    m.bandwidth_gbs = std::min(100.0, 12.0 * m.n_cores);
    m.bandwidth_source = fmt::format("assumed {:.0f} GB/s (not measured)", m.bandwidth_gbs);
  }
  return m;
}

std::vector<planner::Device> gpu_devices(const GpuReport& gpu, const planner::DeviceCatalog& catalog) {
  std::vector<planner::Device> out;
  for (const auto& g : gpu.gpus) {
    planner::Device d;
    const std::string match = catalog_name_for(g.name);
    if (const planner::Device* c = catalog.find(match); c != nullptr) d = *c;
    else {
      d.kind = "gpu";
      d.source = "NVML (no catalog entry: speed unknown)";
    }
    d.name = fmt::format("gpu{}", g.index);
    d.display = fmt::format("GPU {}: {}", g.index, g.name);
    d.memory_bytes = g.memory_total_bytes;
    d.usable_fraction = 1.0;
    out.push_back(std::move(d));
  }
  return out;
}

DoctorReport run_doctor(const DoctorOptions& options) {
  DoctorReport r;
  r.options = options;
  const SysRoot root(options.sysroot);
  r.os = probe_os(root);
  r.cgroup = probe_cgroup(root);
  r.cpu = probe_cpu(root, r.cgroup, root.is_live());
  r.memory = probe_memory(root, r.cgroup);
  std::string models_dir = options.models_dir;
  if (models_dir.empty()) {
    std::filesystem::path mp(options.model_path);
    models_dir = options.model_path.empty() || mp.parent_path().empty() ? "." : mp.parent_path().string();
  }
  r.disk = probe_disk(root, models_dir);
  std::string visible_storage;
  const char* visible = nullptr;
  if (options.cuda_visible_devices) {
    if (*options.cuda_visible_devices) {
      visible_storage = **options.cuda_visible_devices;
      visible = visible_storage.c_str();
    }
  } else {
    visible = std::getenv("CUDA_VISIBLE_DEVICES");
  }
  r.gpu = probe_gpus(options.nvml_library, visible);
  r.docker = probe_docker(options.docker_command);
  r.port = probe_port(options.port);
  if (options.measure_bandwidth) r.bandwidth = measure_read_bandwidth(r.cpu.n_usable);

  if (!options.model_path.empty()) {
    auto spec = planner::spec_from_gguf(options.model_path);
    if (!spec.ok()) {
      r.model_error = spec.error().message;
    } else {
      const planner::DeviceCatalog& catalog = planner::builtin_device_catalog();
      std::vector<planner::Device> devices{
          planner::cpu_device(cpu_machine(r.cpu, r.memory, r.bandwidth))};
      for (auto& d : gpu_devices(r.gpu, catalog)) devices.push_back(std::move(d));
      planner::PlanRequest req;
      req.run.n_ctx = options.model_ctx;
      req.run.n_threads = r.cpu.n_usable;
      r.model_plan = planner::make_plan(std::move(spec).value(), req, devices, catalog);
    }
  }
  evaluate(r);
  return r;
}

nlohmann::json doctor_to_json(const DoctorReport& r) {
  using nlohmann::json;
  json caches = json::array();
  for (const auto& c : r.cpu.caches)
    caches.push_back({{"level", c.level}, {"type", c.type}, {"bytes", c.bytes}, {"shared_by", c.shared_by}});
  json gpus = json::array();
  for (const auto& g : r.gpu.gpus)
    gpus.push_back({{"index", g.index},
                    {"name", g.name},
                    {"uuid", g.uuid},
                    {"memory_total_bytes", g.memory_total_bytes},
                    {"memory_free_bytes", g.memory_free_bytes},
                    {"compute_capability", fmt::format("{}.{}", g.cc_major, g.cc_minor)}});
  json checks = json::array();
  for (const auto& c : r.checks)
    checks.push_back({{"id", c.id},
                      {"name", c.name},
                      {"status", check_status_name(c.status)},
                      {"measured", c.measured},
                      {"required", c.required},
                      {"message", c.message}});
  json out = {
      {"status", check_status_name(r.overall())},
      {"exit_code", r.exit_code()},
      {"profile", r.options.profile == Profile::Recommended ? "recommended" : "min"},
      {"sysroot", r.options.sysroot},
      {"os", {{"name", r.os.name}, {"kernel", r.os.kernel}, {"in_container", r.os.in_container}}},
      {"cpu",
       {{"model", r.cpu.model_name},
        {"arch", r.cpu.arch},
        {"logical_cpus", r.cpu.n_logical},
        {"physical_cores", r.cpu.n_physical},
        {"allowed_cpus", r.cpu.n_allowed},
        {"cgroup_quota_cpus", r.cpu.quota_cpus},
        {"cgroup_quota_source", r.cpu.quota_source},
        {"usable_cores", r.cpu.n_usable},
        {"usable_reason", r.cpu.usable_reason},
        {"mhz", r.cpu.mhz},
        {"simd", r.cpu.simd},
        {"simd_source", r.cpu.simd_source},
        {"caches", caches}}},
      {"memory",
       {{"total_bytes", r.memory.total_bytes},
        {"available_bytes", r.memory.available_bytes},
        {"swap_total_bytes", r.memory.swap_total_bytes},
        {"cgroup_limit_bytes", r.memory.cgroup_limit_bytes},
        {"cgroup_usage_bytes", r.memory.cgroup_usage_bytes},
        {"cgroup_source", r.memory.cgroup_source},
        {"effective_total_bytes", r.memory.effective_total_bytes},
        {"effective_available_bytes", r.memory.effective_available_bytes}}},
      {"cgroup_version", r.cgroup.version},
      {"disk",
       {{"path", r.disk.path},
        {"stat_path", r.disk.stat_path},
        {"free_bytes", r.disk.free_bytes},
        {"total_bytes", r.disk.total_bytes},
        {"mount_point", r.disk.mount_point},
        {"fs_type", r.disk.fs_type},
        {"source", r.disk.source},
        {"device", r.disk.device},
        {"storage", r.disk.storage},
        {"storage_reason", r.disk.storage_reason}}},
      {"gpu",
       {{"nvml_library", r.gpu.library},
        {"nvml_loaded", r.gpu.nvml_loaded},
        {"status", r.gpu.status},
        {"driver_version", r.gpu.driver_version},
        {"cuda_version", r.gpu.cuda_version_string()},
        {"n_total", r.gpu.n_total},
        {"visibility", r.gpu.visibility_note},
        {"gpus", gpus}}},
      {"docker",
       {{"found", r.docker.found}, {"version", r.docker.version}, {"raw", r.docker.raw}, {"status", r.docker.status}}},
      {"port", {{"port", r.port.port}, {"free", r.port.free}, {"status", r.port.status}}},
      {"checks", checks},
  };
  if (r.bandwidth)
    out["bandwidth"] = {{"read_gbs", r.bandwidth->gbs},
                        {"threads", r.bandwidth->n_threads},
                        {"bytes", r.bandwidth->bytes}};
  if (!r.options.model_path.empty()) {
    if (r.model_plan) out["model"] = planner::plan_to_json(*r.model_plan);
    else out["model"] = {{"error", r.model_error}};
  }
  return out;
}

std::string doctor_to_text(const DoctorReport& r) {
  std::string s;
  auto line = [&]<typename... A>(fmt::format_string<A...> f, A&&... a) {
    s += fmt::format(f, std::forward<A>(a)...);
    s += '\n';
  };
  line("autoglm doctor · profile {}{}",
       r.options.profile == Profile::Recommended ? "recommended" : "min",
       r.options.sysroot == "/" ? "" : fmt::format(" · sysroot {}", r.options.sysroot));
  line("  OS       {} · kernel {}{}", r.os.name.empty() ? "unknown" : r.os.name,
       r.os.kernel.empty() ? "unknown" : r.os.kernel, r.os.in_container ? " · in a container" : "");
  std::string caches;
  for (const auto& c : r.cpu.caches)
    caches += fmt::format("{}{} {}", caches.empty() ? "" : ", ",
                          c.level > 0 ? fmt::format("L{}{}", c.level,
                                                    c.type == "Data" ? "d" : c.type == "Instruction" ? "i" : "")
                                      : "LLC",
                          planner::format_bytes(c.bytes));
  line("  CPU      {} · {} logical / {} physical / {} usable · {:.0f} MHz{}",
       r.cpu.model_name.empty() ? "unknown" : r.cpu.model_name, r.cpu.n_logical, r.cpu.n_physical,
       r.cpu.n_usable, r.cpu.mhz, caches.empty() ? "" : " · " + caches);
  line("  memory   {} total, {} available{}", gb(r.memory.total_bytes), gb(r.memory.available_bytes),
       r.memory.cgroup_limit_bytes > 0
           ? fmt::format(" · cgroup limit {} ({})", gb(r.memory.cgroup_limit_bytes), r.memory.cgroup_source)
           : "");
  line("  disk     {} free at {} · {} {} on {}", gb(r.disk.free_bytes), r.disk.stat_path, r.disk.fs_type,
       r.disk.source, r.disk.mount_point);
  if (r.gpu.gpus.empty()) line("  GPU      none: {}", r.gpu.status);
  for (const auto& g : r.gpu.gpus)
    line("  GPU {}    {} · {} · CUDA {} (driver {})", g.index, g.name, gb(g.memory_total_bytes),
         r.gpu.cuda_version_string(), r.gpu.driver_version);
  if (r.bandwidth)
    line("  memory read bandwidth {:.1f} GB/s ({} threads)", r.bandwidth->gbs, r.bandwidth->n_threads);
  line("");
  for (const auto& c : r.checks) {
    std::string tag = c.status == CheckStatus::Pass ? "PASS" : c.status == CheckStatus::Warn ? "WARN" : "FAIL";
    line("  {}  {:<20} {}", tag, c.name, c.measured);
    if (!c.message.empty()) line("        {:<20} → {} [{}]", "", c.message, c.required);
  }
  int n_fail = 0, n_warn = 0;
  for (const auto& c : r.checks) {
    n_fail += c.status == CheckStatus::Fail;
    n_warn += c.status == CheckStatus::Warn;
  }
  line("");
  line("result: {} ({} failed, {} warning{}) · exit {}",
       r.overall() == CheckStatus::Pass ? "PASS" : r.overall() == CheckStatus::Warn ? "WARN" : "FAIL",
       n_fail, n_warn, n_warn == 1 ? "" : "s", r.exit_code());
  if (r.model_plan) {
    line("");
    s += planner::plan_to_text(*r.model_plan);
  }
  return s;
}

}  // namespace ag::device
