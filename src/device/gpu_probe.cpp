#include "device/gpu_probe.h"

#include <dlfcn.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "device/sysroot.h"

namespace ag::device {

namespace {

// The few NVML declarations used (nvml.h, stable ABI since NVML 3): opaque handles, int returns.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;

struct Nvml {
  void* handle = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*get_count)(unsigned*) = nullptr;
  nvmlReturn_t (*get_handle)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*get_name)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*get_uuid)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*get_memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*get_cc)(nvmlDevice_t, int*, int*) = nullptr;
  nvmlReturn_t (*driver_version)(char*, unsigned) = nullptr;
  nvmlReturn_t (*cuda_version)(int*) = nullptr;

  ~Nvml() {
    if (handle != nullptr) dlclose(handle);
  }
  std::string err(nvmlReturn_t r) const {
    const char* s = error_string != nullptr ? error_string(r) : nullptr;
    return s != nullptr ? fmt::format("{} ({})", s, r) : fmt::format("NVML error {}", r);
  }
};

template <typename Fn>
void bind(void* handle, Fn& fn, const char* name, const char* fallback = nullptr) {
  void* sym = dlsym(handle, name);
  if (sym == nullptr && fallback != nullptr) sym = dlsym(handle, fallback);
  fn = reinterpret_cast<Fn>(sym);
}

// CUDA_VISIBLE_DEVICES: comma-separated indices or GPU UUIDs (a unique prefix such as "GPU-8f3"
// is enough); CUDA stops at the first entry that names no device. Indices are taken in NVML (PCI
// bus) order, which CUDA uses with CUDA_DEVICE_ORDER=PCI_BUS_ID.
std::vector<GpuInfo> apply_visibility(const std::vector<GpuInfo>& all, const char* env,
                                      std::string& note) {
  if (env == nullptr) {
    note = "CUDA_VISIBLE_DEVICES unset: all GPUs visible";
    return all;
  }
  std::vector<GpuInfo> out;
  std::string_view value = trim(env);
  for (std::string_view tok : split(value, ',')) {
    tok = trim(tok);
    if (tok.empty()) break;
    const GpuInfo* hit = nullptr;
    int idx = -1;
    auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), idx);
    if (ec == std::errc() && end == tok.data() + tok.size()) {
      if (idx >= 0 && idx < static_cast<int>(all.size())) hit = &all[static_cast<size_t>(idx)];
    } else if (tok.starts_with("GPU-")) {
      int matches = 0;
      for (const auto& g : all)
        if (g.uuid.starts_with(tok)) {
          hit = &g;
          ++matches;
        }
      if (matches != 1) hit = nullptr;
    }
    if (hit == nullptr) {
      note = fmt::format("CUDA_VISIBLE_DEVICES='{}': '{}' names no GPU; CUDA ignores it and every "
                         "entry after it",
                         env, tok);
      return out;
    }
    bool dup = false;
    for (const auto& g : out) dup |= g.index == hit->index;
    if (!dup) out.push_back(*hit);
  }
  note = fmt::format("CUDA_VISIBLE_DEVICES='{}': {} of {} GPUs visible", env, out.size(), all.size());
  return out;
}

}  // namespace

std::string GpuReport::cuda_version_string() const {
  if (cuda_driver_version <= 0) return {};
  return fmt::format("{}.{}", cuda_driver_version / 1000, (cuda_driver_version % 1000) / 10);
}

GpuReport probe_gpus(const std::string& library, const char* cuda_visible_devices) {
  GpuReport r;
  r.library = library;
  if (r.library.empty()) {
    const char* env = std::getenv("AUTOGLM_NVML_LIBRARY");
    r.library = env != nullptr && env[0] != '\0' ? env : "libnvidia-ml.so.1";
  }
  Nvml nvml;
  dlerror();
  nvml.handle = dlopen(r.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (nvml.handle == nullptr) {
    const char* e = dlerror();
    r.status = fmt::format("no NVIDIA driver: cannot load {} ({})", r.library,
                           e != nullptr ? e : "not found");
    return r;
  }
  bind(nvml.handle, nvml.init, "nvmlInit_v2", "nvmlInit");
  bind(nvml.handle, nvml.shutdown, "nvmlShutdown");
  bind(nvml.handle, nvml.error_string, "nvmlErrorString");
  bind(nvml.handle, nvml.get_count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
  bind(nvml.handle, nvml.get_handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
  bind(nvml.handle, nvml.get_name, "nvmlDeviceGetName");
  bind(nvml.handle, nvml.get_uuid, "nvmlDeviceGetUUID");
  bind(nvml.handle, nvml.get_memory, "nvmlDeviceGetMemoryInfo");
  bind(nvml.handle, nvml.get_cc, "nvmlDeviceGetCudaComputeCapability");
  bind(nvml.handle, nvml.driver_version, "nvmlSystemGetDriverVersion");
  bind(nvml.handle, nvml.cuda_version, "nvmlSystemGetCudaDriverVersion_v2",
       "nvmlSystemGetCudaDriverVersion");
  if (nvml.init == nullptr || nvml.shutdown == nullptr || nvml.get_count == nullptr ||
      nvml.get_handle == nullptr) {
    r.status = fmt::format("{} lacks the NVML entry points (not an NVML library?)", r.library);
    return r;
  }
  if (nvmlReturn_t e = nvml.init(); e != NVML_SUCCESS) {
    r.status = fmt::format("NVML failed to initialise: {} (driver not loaded or mismatched?)",
                           nvml.err(e));
    return r;
  }
  r.nvml_loaded = true;
  char buf[256];
  if (nvml.driver_version != nullptr && nvml.driver_version(buf, sizeof(buf)) == NVML_SUCCESS) {
    buf[sizeof(buf) - 1] = '\0';
    r.driver_version = buf;
  }
  if (nvml.cuda_version != nullptr) {
    int v = 0;
    if (nvml.cuda_version(&v) == NVML_SUCCESS) r.cuda_driver_version = v;
  }
  unsigned count = 0;
  if (nvmlReturn_t e = nvml.get_count(&count); e != NVML_SUCCESS) {
    r.status = fmt::format("NVML could not count GPUs: {}", nvml.err(e));
    count = 0;
  }
  count = std::min(count, 256u);
  std::vector<GpuInfo> all;
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    GpuInfo g;
    g.index = static_cast<int>(i);
    if (nvml.get_handle(i, &dev) != NVML_SUCCESS) {
      g.name = "(unreadable)";
      all.push_back(std::move(g));
      continue;
    }
    if (nvml.get_name != nullptr && nvml.get_name(dev, buf, sizeof(buf)) == NVML_SUCCESS) {
      buf[sizeof(buf) - 1] = '\0';
      g.name = buf;
    }
    if (nvml.get_uuid != nullptr && nvml.get_uuid(dev, buf, sizeof(buf)) == NVML_SUCCESS) {
      buf[sizeof(buf) - 1] = '\0';
      g.uuid = buf;
    }
    nvmlMemory_t mem{};
    if (nvml.get_memory != nullptr && nvml.get_memory(dev, &mem) == NVML_SUCCESS) {
      g.memory_total_bytes = mem.total;
      g.memory_free_bytes = mem.free;
    }
    if (nvml.get_cc != nullptr) nvml.get_cc(dev, &g.cc_major, &g.cc_minor);
    all.push_back(std::move(g));
  }
  nvml.shutdown();
  r.n_total = static_cast<int>(all.size());
  r.gpus = apply_visibility(all, cuda_visible_devices, r.visibility_note);
  if (r.gpus.empty() && r.status.empty())
    r.status = all.empty() ? "NVML reports no GPU" : "no GPU visible: " + r.visibility_note;
  return r;
}

}  // namespace ag::device
