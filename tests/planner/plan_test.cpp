#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "planner/device_catalog.h"
#include "planner/plan.h"

namespace ag::planner {
namespace {

const Device& catalog_device(const char* name) {
  const Device* d = builtin_device_catalog().find(name);
  EXPECT_NE(d, nullptr) << name;
  return *d;
}

TEST(Catalog, BuiltInHasEveryFamilyWithSources) {
  const DeviceCatalog& c = builtin_device_catalog();
  for (const char* name : {"a100-40gb-sxm", "a100-80gb-sxm", "a100-40gb-pcie", "a100-80gb-pcie",
                           "h100-sxm", "h100-pcie", "h100-nvl", "h200", "l4", "l40s", "a10",
                           "a10g", "t4", "v100-32gb-sxm2", "rtx-3090", "rtx-4090", "rtx-5090",
                           "mi300x", "apple-m2-ultra"})
    EXPECT_NE(c.find(name), nullptr) << name;
  for (const auto& d : c.devices) {
    EXPECT_FALSE(d.source.empty()) << d.name;
    EXPECT_GT(d.memory_bytes, 0u);
    EXPECT_GT(d.bandwidth_gbs, 0);
  }
  // The seed's H100 FP32 figure is corrected from the datasheet.
  const Device& h100 = catalog_device("H100-SXM");
  EXPECT_DOUBLE_EQ(h100.fp32_tflops, 67);
  ASSERT_EQ(h100.seed_corrections.size(), 1u);
  EXPECT_DOUBLE_EQ(h100.seed_corrections[0].seed, 36.6);
  EXPECT_DOUBLE_EQ(catalog_device("h100-pcie").fp32_tflops, 51);
  EXPECT_FALSE(c.cpu.source.empty());
}

TEST(Catalog, ParseErrorsNameTheEntry) {
  const std::string eff =
      R"("efficiency":{"cpu":{"decode":0.5,"prefill":0.5,"source":"x"},"gpu":{"decode":0.5,"prefill":0.5,"source":"x"},"apple":{"decode":0.5,"prefill":0.5,"source":"x"}})";
  auto no_source = parse_device_catalog(
      "{" + eff + R"(,"devices":[{"name":"x1","memory_gib":8,"bandwidth_gbs":100,"fp16_tflops":10}]})",
      "test.json");
  ASSERT_FALSE(no_source.ok());
  EXPECT_NE(no_source.error().message.find("x1"), std::string::npos);
  EXPECT_NE(no_source.error().message.find("source"), std::string::npos);
  auto negative = parse_device_catalog(
      "{" + eff +
          R"(,"devices":[{"name":"x2","memory_gib":-8,"bandwidth_gbs":100,"fp16_tflops":10,"source":"s"}]})",
      "test.json");
  EXPECT_FALSE(negative.ok());
  EXPECT_FALSE(parse_device_catalog("not json", "test.json").ok());
  auto ok = parse_device_catalog(
      "{" + eff +
          R"(,"devices":[{"name":"x3","memory_gib":8,"bandwidth_gbs":100,"fp16_tflops":10,"source":"s"}]})",
      "test.json");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->devices[0].memory_bytes, 8ull << 30);
  // A catalog without efficiency.cpu_scalar: a tenth of the CPU factors, said so.
  EXPECT_DOUBLE_EQ(ok->cpu_scalar.decode, 0.05);
  EXPECT_NE(ok->cpu_scalar.source.find("assumed"), std::string::npos);
}

// A CPU without the fast kernels (ARM, x86 without AVX2+FMA+F16C) runs the scalar references: the
// plan uses their measured factors, not the SIMD kernels'.
TEST(Plan, CpuWithoutFastKernelsUsesTheScalarFactors) {
  auto spec = spec_from_preset("qwen2.5-0.5b", FileType::Q4_0);
  ASSERT_TRUE(spec.ok());
  CpuMachine m{.n_cores = 4, .ghz = 3.0, .flops_per_cycle = 16 /* NEON */, .fast_kernels = false,
               .memory_bytes = 16ull << 30, .bandwidth_gbs = 60};
  const Device scalar = cpu_device(m);
  m.fast_kernels = true;
  const Device simd = cpu_device(m);
  const DeviceCatalog& c = builtin_device_catalog();
  EXPECT_TRUE(scalar.scalar_kernels);
  EXPECT_NE(scalar.display.find("scalar kernels"), std::string::npos) << scalar.display;
  EXPECT_LT(c.efficiency_for(scalar).decode, 0.2);
  EXPECT_GE(c.efficiency_for(simd).decode, 0.5);
  RunConfig run;
  const SpeedEstimate slow = estimate_speed(*spec, run, scalar, c.efficiency_for(scalar), 1);
  const SpeedEstimate fast = estimate_speed(*spec, run, simd, c.efficiency_for(simd), 1);
  EXPECT_LT(slow.decode_tok_per_s * 5, fast.decode_tok_per_s);
  EXPECT_LT(slow.prefill_tok_per_s * 10, fast.prefill_tok_per_s);
}

TEST(Plan, SeventyBF16NeedsTwoH100s) {
  auto spec = spec_from_preset("llama-3.1-70b", FileType::F16);
  ASSERT_TRUE(spec.ok());
  PlanRequest req;
  req.run.n_ctx = 4096;
  const Device& h100 = catalog_device("h100-sxm");
  DeviceFit f = fit_device(*spec, req, h100, builtin_device_catalog().gpu);
  EXPECT_FALSE(f.fits);
  EXPECT_EQ(f.min_gpus, 2);  // 141 GB of weights: two 80 GB GPUs
  EXPECT_GT(f.max_ctx, 4096);
  EXPECT_GE(f.headroom_bytes, 0);
  EXPECT_EQ(f.speed.n_devices, 2);
}

TEST(Plan, MaxContextIsTheLargestThatFits) {
  auto spec = spec_from_preset("llama-3.1-8b", FileType::Q4_K_M);
  ASSERT_TRUE(spec.ok());
  PlanRequest req;
  req.run.n_ctx = 8192;
  Device small;
  small.name = "small";
  small.kind = "gpu";
  small.memory_bytes = 8ull << 30;
  small.bandwidth_gbs = 300;
  small.fp16_tflops = 50;
  DeviceFit f = fit_device(*spec, req, small, builtin_device_catalog().gpu);
  ASSERT_TRUE(f.fits);
  ASSERT_GT(f.max_ctx, 8192);
  ASSERT_LT(f.max_ctx, 131072);
  EXPECT_EQ(f.max_ctx % req.engine.kv_block_size, 0);
  PlanRequest at = req;
  at.run.n_ctx = f.max_ctx;
  EXPECT_TRUE(fit_device(*spec, at, small, builtin_device_catalog().gpu).fits);
  at.run.n_ctx = f.max_ctx + req.engine.kv_block_size;
  EXPECT_FALSE(fit_device(*spec, at, small, builtin_device_catalog().gpu).fits);
  EXPECT_GE(f.max_batch, 1);
}

TEST(Plan, DeviceAllRanksAndCorrectsSingleMachineLimits) {
  // A 7B model at 4-bit and 8k context: a 24 GB card holds it and, at the same bits per weight,
  // a model of ~30B — not "only 7B" as an FP16 rule of thumb says.
  auto spec = spec_from_params("7B", FileType::Q4_K_M);
  ASSERT_TRUE(spec.ok());
  PlanRequest req;
  req.run.n_ctx = 8192;
  const DeviceCatalog& c = builtin_device_catalog();
  Plan p = make_plan(std::move(spec).value(), req, c.devices, c);
  ASSERT_EQ(p.devices.size(), c.devices.size());
  for (size_t i = 1; i < p.devices.size(); ++i) {
    const auto& a = p.devices[i - 1];
    const auto& b = p.devices[i];
    const int na = a.min_gpus == 0 ? 1000 : a.min_gpus, nb = b.min_gpus == 0 ? 1000 : b.min_gpus;
    EXPECT_TRUE(na < nb || (na == nb && a.speed.decode_tok_per_s >= b.speed.decode_tok_per_s));
  }
  for (const auto& f : p.devices) {
    if (f.device.name == "rtx-4090") {
      EXPECT_TRUE(f.fits);
      EXPECT_GT(f.max_params_b, 25);
      EXPECT_LT(f.max_params_b, 45);
    }
    EXPECT_TRUE(f.fits) << f.device.name;  // every catalog device holds 7B at 4-bit
  }
  nlohmann::json j = plan_to_json(p);
  for (const char* k : {"weights_bytes", "kv_bytes", "kv_bytes_per_token", "compute_bytes",
                        "overhead_bytes", "total_bytes"})
    EXPECT_TRUE(j["memory"].contains(k)) << k;
  EXPECT_TRUE(j["speed"].contains("decode_tok_per_s"));
  EXPECT_TRUE(j["speed"].contains("prefill_tok_per_s"));
  for (const auto& d : j["devices"])
    for (const char* k : {"name", "fits", "max_ctx", "min_gpus"}) EXPECT_TRUE(d.contains(k)) << k;
  EXPECT_NE(plan_to_text(p).find("seed figures corrected"), std::string::npos);
}

TEST(Plan, DecodeSpeedIsBandwidthOverBytesPerToken) {
  auto spec = spec_from_preset("qwen2.5-0.5b", FileType::Q4_0);
  ASSERT_TRUE(spec.ok());
  const CpuMachine m{.n_cores = 2, .ghz = 3.0, .flops_per_cycle = 32, .memory_bytes = 8ull << 30, .bandwidth_gbs = 31};
  const Device cpu = cpu_device(m);
  Efficiency eff{0.6, 0.7, "test"};
  RunConfig run;
  SpeedEstimate s = estimate_speed(*spec, run, cpu, eff, 1);
  // Tied embedding: the whole Q8_0 matrix is read as the output every token.
  const double bytes = static_cast<double>(spec->weights_read_per_token());
  EXPECT_NEAR(bytes, static_cast<double>(spec->weights_bytes), 1.0);
  EXPECT_NEAR(s.decode_bound_tok_per_s, 31e9 / bytes, 1e-6);
  EXPECT_NEAR(s.decode_tok_per_s, 0.6 * 31e9 / bytes, 1e-6);
  EXPECT_EQ(s.decode_limit, "memory bandwidth");
  EXPECT_LT(s.decode_tok_per_s_full_ctx, s.decode_tok_per_s);
  // llama.cpp on this machine kind: Q4_0 0.5B decodes at 47-52 tok/s with a 89.5 tok/s bound.
  EXPECT_NEAR(s.decode_bound_tok_per_s, 89.5, 3.0);
  EXPECT_GT(s.prefill_tok_per_s, 50);
  EXPECT_EQ(s.tokens_per_joule, 0);  // no power figure for this machine
}

}  // namespace
}  // namespace ag::planner
