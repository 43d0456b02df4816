#include "planner/device_catalog.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/check.h"

namespace ag::planner {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Result<double> number(const nlohmann::json& obj, const char* key, const std::string& where,
                      bool required, double fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return error("{}: '{}' is missing", where, key);
    return fallback;
  }
  if (!it->is_number()) return error("{}: '{}' is not a number", where, key);
  double v = it->get<double>();
  if (!std::isfinite(v) || v < 0) return error("{}: '{}' = {} is not a finite figure >= 0", where, key, v);
  return v;
}

Result<Efficiency> parse_efficiency(const nlohmann::json& root, const char* kind,
                                    const std::string& label) {
  Efficiency e;
  auto eff = root.find("efficiency");
  if (eff == root.end() || !eff->is_object() || !eff->contains(kind))
    return error("{}: efficiency.{} is missing", label, kind);
  const auto& o = (*eff)[kind];
  const std::string where = fmt::format("{}: efficiency.{}", label, kind);
  if (!o.is_object()) return error("{} is not an object", where);
  AG_TRY(e.decode, number(o, "decode", where, true, 0));
  AG_TRY(e.prefill, number(o, "prefill", where, true, 0));
  if (e.decode <= 0 || e.decode > 1 || e.prefill <= 0 || e.prefill > 1)
    return error("{}: factors must be in (0, 1]", where);
  e.source = o.value("source", std::string());
  if (e.source.empty()) return error("{}: 'source' is missing", where);
  return e;
}

}  // namespace

const Device* DeviceCatalog::find(std::string_view name) const {
  for (const auto& d : devices)
    if (iequals(d.name, name)) return &d;
  return nullptr;
}

const Efficiency& DeviceCatalog::efficiency_for(const Device& d) const {
  if (d.kind == "cpu") return d.scalar_kernels ? cpu_scalar : cpu;
  if (d.kind == "apple") return apple;
  return gpu;
}

Result<DeviceCatalog> parse_device_catalog(std::string_view json, const std::string& label) {
  nlohmann::json root = nlohmann::json::parse(json, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return error("{}: not a JSON object", label);
  DeviceCatalog c;
  AG_TRY(c.cpu, parse_efficiency(root, "cpu", label));
  AG_TRY(c.gpu, parse_efficiency(root, "gpu", label));
  AG_TRY(c.apple, parse_efficiency(root, "apple", label));
  // Optional, so catalogs written before it still load: their CPUs without fast kernels get a
  // tenth of the CPU factors.
  if (root.contains("efficiency") && root["efficiency"].is_object() && root["efficiency"].contains("cpu_scalar")) {
    AG_TRY(c.cpu_scalar, parse_efficiency(root, "cpu_scalar", label));
  } else {
    c.cpu_scalar = {c.cpu.decode / 10, c.cpu.prefill / 10,
                    "assumed: a tenth of the cpu factors (the catalog has no efficiency.cpu_scalar)"};
  }
  auto devs = root.find("devices");
  if (devs == root.end() || !devs->is_array()) return error("{}: 'devices' is not an array", label);
  for (size_t i = 0; i < devs->size(); ++i) {
    const auto& o = (*devs)[i];
    std::string where = fmt::format("{}: devices[{}]", label, i);
    if (!o.is_object()) return error("{} is not an object", where);
    Device d;
    d.name = o.value("name", std::string());
    if (d.name.empty() || d.name == "cpu" || d.name == "all")
      return error("{}: 'name' is missing or reserved", where);
    where = fmt::format("{}: device '{}'", label, d.name);
    if (c.find(d.name) != nullptr) return error("{}: duplicate name", where);
    d.display = o.value("display", d.name);
    d.kind = o.value("kind", std::string("gpu"));
    if (d.kind != "gpu" && d.kind != "apple") return error("{}: kind must be gpu or apple", where);
    AG_TRY(double gib, number(o, "memory_gib", where, true, 0));
    AG_TRY(d.bandwidth_gbs, number(o, "bandwidth_gbs", where, true, 0));
    AG_TRY(d.fp16_tflops, number(o, "fp16_tflops", where, true, 0));
    AG_TRY(d.fp32_tflops, number(o, "fp32_tflops", where, false, 0));
    AG_TRY(d.tdp_w, number(o, "tdp_w", where, false, 0));
    AG_TRY(d.usable_fraction, number(o, "usable_fraction", where, false, 1.0));
    if (gib <= 0 || gib > 1e5 || d.bandwidth_gbs <= 0 || d.fp16_tflops <= 0 ||
        d.usable_fraction <= 0 || d.usable_fraction > 1)
      return error("{}: memory, bandwidth and fp16 figures must be positive, usable_fraction in (0, 1]",
                   where);
    d.memory_bytes = static_cast<uint64_t>(gib * static_cast<double>(1ull << 30));
    d.estimate = o.value("estimate", false);
    d.source = o.value("source", std::string());
    if (d.source.empty()) return error("{}: 'source' is missing: every figure needs one", where);
    if (auto sc = o.find("seed_corrections"); sc != o.end() && sc->is_array()) {
      for (const auto& x : *sc) {
        if (!x.is_object()) return error("{}: seed_corrections item is not an object", where);
        SeedCorrection s;
        s.field = x.value("field", std::string());
        AG_TRY(s.seed, number(x, "seed", where, true, 0));
        AG_TRY(s.corrected, number(x, "corrected", where, true, 0));
        s.why = x.value("why", std::string());
        d.seed_corrections.push_back(std::move(s));
      }
    }
    c.devices.push_back(std::move(d));
  }
  return c;
}

Result<DeviceCatalog> load_device_catalog(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error("{}: cannot open device catalog", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_device_catalog(ss.str(), path);
}

const DeviceCatalog& builtin_device_catalog() {
  static const DeviceCatalog catalog = [] {
    auto c = parse_device_catalog(builtin_device_catalog_json(), "device_catalog.json (built in)");
    AG_CHECK(c.ok(), "%s", c.ok() ? "" : c.error().message.c_str());
    return std::move(c).value();
  }();
  return catalog;
}

Device cpu_device(const CpuMachine& m) {
  Device d;
  d.name = "cpu";
  d.kind = "cpu";
  const double ghz = m.ghz > 0 ? m.ghz : 2.5;
  d.scalar_kernels = !m.fast_kernels;
  d.display = fmt::format("this machine: {} core{} {}{}{}", m.n_cores, m.n_cores == 1 ? "" : "s",
                          m.model_name.empty() ? "CPU" : m.model_name,
                          m.ghz > 0 ? "" : " (clock unknown, 2.5 GHz assumed)",
                          m.fast_kernels ? "" : " (scalar kernels: no AVX2+FMA+F16C)");
  d.memory_bytes = m.memory_bytes;
  d.bandwidth_gbs = m.bandwidth_gbs;
  d.fp32_tflops = m.n_cores * ghz * m.flops_per_cycle / 1000.0;
  d.fp16_tflops = d.fp32_tflops;  // CPU kernels compute in FP32 / int8 at about this rate
  d.estimate = true;
  d.source = fmt::format("autoglm doctor probes: {} usable cores x {:.2f} GHz x {} FP32 FLOP/cycle; "
                         "bandwidth {}",
                         m.n_cores, ghz, m.flops_per_cycle, m.bandwidth_source);
  return d;
}

}  // namespace ag::planner
