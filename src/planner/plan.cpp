#include "planner/plan.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ag::planner {

namespace {

constexpr int kMaxGpus = 64;

std::string_view train_mode_name(TrainMode m) {
  switch (m) {
    case TrainMode::Adam: return "adam";
    case TrainMode::AdamMixed: return "adam-mixed";
    case TrainMode::Lora: return "lora";
  }
  return "?";
}

// Bytes one of `n` devices needs for `model` at ctx x batch. A CPU holds everything in host RAM;
// an accelerator holds its share of weights and KV (tensor-parallel split), the whole compute
// buffers and its runtime context, while tokenizer and process overhead stay on the host.
uint64_t required_bytes(const ModelSpec& model, const PlanRequest& req, const Device& device,
                        int ctx, int batch, int n) {
  RunConfig run = req.run;
  run.n_ctx = ctx;
  run.n_batch = batch;
  const MemoryEstimate m = estimate_memory(model, run, req.engine);
  uint64_t shared = m.weights_bytes + m.kv_bytes;
  if (req.train) {
    const TrainingEstimate t = estimate_training(model, *req.train, run, req.lora_rank);
    shared = t.total_bytes;
  }
  if (device.kind == "cpu") return shared + m.compute_bytes + m.overhead_bytes;
  const uint64_t nn = static_cast<uint64_t>(std::max(1, n));
  return (shared + nn - 1) / nn + m.compute_bytes + req.engine.gpu_context_bytes;
}

// Largest v in [lo, hi] with ok(v), stepping in multiples of `step`; 0 when ok(lo) fails.
template <typename Ok>
int largest(int lo, int hi, int step, Ok ok) {
  if (hi < lo || !ok(lo)) return 0;
  int a = lo / step, b = hi / step;  // ok(a*step) holds
  if (ok(b * step)) return b * step;
  while (b - a > 1) {
    int mid = a + (b - a) / 2;
    if (ok(mid * step)) a = mid;
    else b = mid;
  }
  return std::max(lo, a * step);
}

double gib(uint64_t b) { return static_cast<double>(b) / static_cast<double>(1ull << 30); }

}  // namespace

std::string format_bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= (1ull << 30)) return fmt::format("{:.2f} GiB", b / (1ull << 30));
  if (bytes >= (1ull << 20)) return fmt::format("{:.1f} MiB", b / (1ull << 20));
  if (bytes >= (1ull << 10)) return fmt::format("{:.1f} KiB", b / (1ull << 10));
  return fmt::format("{} B", bytes);
}

DeviceFit fit_device(const ModelSpec& model, const PlanRequest& req, const Device& device,
                     const Efficiency& efficiency) {
  DeviceFit f;
  f.device = device;
  f.usable_bytes =
      static_cast<uint64_t>(static_cast<double>(device.memory_bytes) * device.usable_fraction);
  const int ctx = req.run.n_ctx, batch = req.run.n_batch;
  auto fits_on = [&](int c, int b, int n) {
    return required_bytes(model, req, device, c, b, n) <= f.usable_bytes;
  };
  const int max_n = device.kind == "cpu" ? 1 : kMaxGpus;
  for (int n = 1; n <= max_n; ++n) {
    if (fits_on(ctx, batch, n)) {
      f.min_gpus = n;
      break;
    }
  }
  f.fits = f.min_gpus == 1;
  const int n = std::max(1, f.min_gpus);
  f.required_bytes = required_bytes(model, req, device, ctx, batch, n);
  f.headroom_bytes = static_cast<int64_t>(f.usable_bytes) - static_cast<int64_t>(f.required_bytes);
  const int block = std::max(1, req.engine.kv_block_size);
  const int ctx_cap = model.hp.n_ctx_train > 0 ? model.hp.n_ctx_train : (1 << 20);
  f.max_ctx = largest(block, std::max(block, ctx_cap), block,
                      [&](int c) { return fits_on(c, batch, n); });
  f.max_batch = largest(1, 4096, 1, [&](int b) { return fits_on(ctx, b, n); });

  // The largest model of this bits/weight one device holds at the same ctx x batch, with KV
  // growing in proportion to parameters (bigger models have more layers and KV heads).
  const MemoryEstimate m = estimate_memory(model, req.run, req.engine);
  const double fixed = static_cast<double>(m.compute_bytes) +
                       (device.kind == "cpu" ? static_cast<double>(m.overhead_bytes)
                                             : static_cast<double>(req.engine.gpu_context_bytes));
  const double per_param = model.bits_per_weight() / 8.0 +
                           static_cast<double>(m.kv_bytes) / std::max<double>(1, model.n_params);
  f.max_params_b =
      std::max(0.0, (static_cast<double>(f.usable_bytes) - fixed) / per_param) / 1e9;
  f.speed = estimate_speed(model, req.run, device, efficiency, n, req.engine);
  return f;
}

Plan make_plan(ModelSpec model, const PlanRequest& request, const std::vector<Device>& devices,
               const DeviceCatalog& catalog) {
  Plan p;
  p.request = request;
  p.memory = estimate_memory(model, request.run, request.engine);
  if (request.train)
    p.training = estimate_training(model, *request.train, request.run, request.lora_rank);
  for (const auto& d : devices)
    p.devices.push_back(fit_device(model, request, d, catalog.efficiency_for(d)));
  if (!p.devices.empty()) p.speed = p.devices.front().speed;
  std::stable_sort(p.devices.begin(), p.devices.end(), [](const DeviceFit& a, const DeviceFit& b) {
    const int na = a.min_gpus == 0 ? kMaxGpus + 1 : a.min_gpus;
    const int nb = b.min_gpus == 0 ? kMaxGpus + 1 : b.min_gpus;
    if (na != nb) return na < nb;
    return a.speed.decode_tok_per_s > b.speed.decode_tok_per_s;
  });
  p.model = std::move(model);
  return p;
}

nlohmann::json plan_to_json(const Plan& p) {
  using nlohmann::json;
  const ModelSpec& m = p.model;
  const HParams& hp = m.hp;
  json model = {
      {"name", m.name},
      {"source", m.source},
      {"arch", hp.arch},
      {"type", m.type_label},
      {"n_params", m.n_params},
      {"bits_per_weight", m.bits_per_weight()},
      {"file_bytes", m.file_bytes},
      {"n_layer", hp.n_layer},
      {"n_embd", hp.n_embd},
      {"n_head", hp.n_head},
      {"n_head_kv", hp.n_head_kv},
      {"head_dim", hp.head_dim},
      {"n_ff", hp.n_ff},
      {"n_vocab", hp.n_vocab},
      {"n_ctx_train", hp.n_ctx_train},
      {"tied_output", hp.tied_output},
      {"notes", m.notes},
  };
  json run = {{"ctx", p.request.run.n_ctx},
              {"batch", p.request.run.n_batch},
              {"kv_type", dtype_name(p.request.run.kv_type)},
              {"threads", p.request.run.n_threads}};
  auto items = [](const std::vector<MemoryItem>& v) {
    json a = json::array();
    for (const auto& i : v) a.push_back({{"name", i.name}, {"bytes", i.bytes}});
    return a;
  };
  const EngineConstants& e = p.request.engine;
  json memory = {
      {"weights_bytes", p.memory.weights_bytes},
      {"kv_bytes", p.memory.kv_bytes},
      {"kv_bytes_per_token", p.memory.kv_bytes_per_token},
      {"compute_bytes", p.memory.compute_bytes},
      {"overhead_bytes", p.memory.overhead_bytes},
      {"total_bytes", p.memory.total_bytes},
      {"compute", items(p.memory.compute_items)},
      {"overhead", items(p.memory.overhead_items)},
      {"engine_constants",
       {{"kv_block_size", e.kv_block_size},
        {"n_ubatch", e.n_ubatch},
        {"process_bytes", e.process_bytes},
        {"per_thread_bytes", e.per_thread_bytes},
        {"tokenizer_bytes_per_token", e.tokenizer_bytes_per_token},
        {"tokenizer_bytes_per_merge", e.tokenizer_bytes_per_merge},
        {"tokenizer_fixed_bytes", e.tokenizer_fixed_bytes},
        {"gpu_context_bytes", e.gpu_context_bytes}}},
  };
  auto speed_json = [](const SpeedEstimate& s) {
    return json{{"device", s.device},
                {"n_devices", s.n_devices},
                {"decode_tok_per_s", s.decode_tok_per_s},
                {"decode_tok_per_s_full_ctx", s.decode_tok_per_s_full_ctx},
                {"decode_bound_tok_per_s", s.decode_bound_tok_per_s},
                {"prefill_tok_per_s", s.prefill_tok_per_s},
                {"tokens_per_joule", s.tokens_per_joule},
                {"decode_efficiency", s.decode_efficiency},
                {"prefill_efficiency", s.prefill_efficiency},
                {"decode_limit", s.decode_limit},
                {"bytes_per_step", s.bytes_per_step},
                {"flops_per_token", s.flops_per_token},
                {"efficiency_source", s.efficiency_source}};
  };
  json devices = json::array();
  for (const auto& f : p.devices) {
    json corrections = json::array();
    for (const auto& c : f.device.seed_corrections)
      corrections.push_back(
          {{"field", c.field}, {"seed", c.seed}, {"corrected", c.corrected}, {"why", c.why}});
    devices.push_back({
        {"name", f.device.name},
        {"display", f.device.display},
        {"kind", f.device.kind},
        {"memory_bytes", f.device.memory_bytes},
        {"usable_bytes", f.usable_bytes},
        {"bandwidth_gbs", f.device.bandwidth_gbs},
        {"fp16_tflops", f.device.fp16_tflops},
        {"fits", f.fits},
        {"min_gpus", f.min_gpus},
        {"max_ctx", f.max_ctx},
        {"max_batch", f.max_batch},
        {"required_bytes", f.required_bytes},
        {"headroom_bytes", f.headroom_bytes},
        {"max_params_b", f.max_params_b},
        {"decode_tok_per_s", f.speed.decode_tok_per_s},
        {"prefill_tok_per_s", f.speed.prefill_tok_per_s},
        {"tokens_per_joule", f.speed.tokens_per_joule},
        {"estimate", f.device.estimate},
        {"source", f.device.source},
        {"seed_corrections", corrections},
    });
  }
  json out = {{"model", model}, {"run", run}, {"memory", memory}, {"speed", speed_json(p.speed)},
              {"devices", devices}};
  if (p.training) {
    const TrainingEstimate& t = *p.training;
    out["training"] = {{"mode", train_mode_name(t.mode)},
                       {"trainable_params", t.trainable_params},
                       {"weights_bytes", t.weights_bytes},
                       {"gradient_bytes", t.gradient_bytes},
                       {"optimizer_bytes", t.optimizer_bytes},
                       {"activation_bytes", t.activation_bytes},
                       {"total_bytes", t.total_bytes},
                       {"state_bytes_per_param", t.state_bytes_per_param},
                       {"note", t.note}};
  }
  return out;
}

std::string plan_to_text(const Plan& p) {
  const ModelSpec& m = p.model;
  const HParams& hp = m.hp;
  const RunConfig& run = p.request.run;
  std::string s;
  auto line = [&]<typename... A>(fmt::format_string<A...> f, A&&... a) {
    s += fmt::format(f, std::forward<A>(a)...);
    s += '\n';
  };
  const std::string params = m.n_params >= 1000000000 ? fmt::format("{:.2f}B", m.n_params / 1e9)
                             : m.n_params >= 1000000  ? fmt::format("{:.1f}M", m.n_params / 1e6)
                                                      : fmt::format("{:.1f}K", m.n_params / 1e3);
  line("model    {} ({}) · {} · {} params · {} ({:.2f} bits/weight)", m.name, m.source, hp.arch,
       params, m.type_label, m.bits_per_weight());
  line("shape    {} layers · hidden {} · {} heads / {} KV heads × {} · FFN {} · vocab {}{}",
       hp.n_layer, hp.n_embd, hp.n_head, hp.n_head_kv, hp.head_dim, hp.n_ff, hp.n_vocab,
       hp.tied_output ? " (tied output)" : "");
  line("run      ctx {} × batch {} · KV {} · {} thread{}", run.n_ctx, run.n_batch,
       dtype_name(run.kv_type), run.n_threads, run.n_threads == 1 ? "" : "s");
  for (const auto& n : m.notes) line("note     {}", n);
  line("");
  line("memory");
  line("  weights   {:>12}   exact per tensor type", format_bytes(p.memory.weights_bytes));
  line("  KV cache  {:>12}   {} B/token × {} × {} (2 · {} layers · {} KV heads · {} · {} B)",
       format_bytes(p.memory.kv_bytes), p.memory.kv_bytes_per_token, run.n_ctx, run.n_batch,
       hp.n_layer, hp.n_head_kv, hp.head_dim,
       dtype_info(run.kv_type).type_size * 1.0 / dtype_info(run.kv_type).block_size);
  line("  compute   {:>12}   activations of a {}-row step, logits, sampler",
       format_bytes(p.memory.compute_bytes),
       std::min<int64_t>(p.request.engine.n_ubatch, int64_t{run.n_ctx} * run.n_batch));
  line("  overhead  {:>12}   file metadata, tokenizer, process", format_bytes(p.memory.overhead_bytes));
  line("  total     {:>12}   ({:.2f} GB)", format_bytes(p.memory.total_bytes),
       p.memory.total_bytes / 1e9);
  if (p.training) {
    const TrainingEstimate& t = *p.training;
    line("");
    line("training ({}) · {}", train_mode_name(t.mode), t.note);
    line("  trainable   {:.3f} B params · {:.0f} B/param of state", t.trainable_params / 1e9,
         t.state_bytes_per_param);
    line("  weights     {:>12}", format_bytes(t.weights_bytes));
    line("  gradients   {:>12}", format_bytes(t.gradient_bytes));
    line("  optimizer   {:>12}", format_bytes(t.optimizer_bytes));
    line("  activations {:>12}   {} tokens, BF16, flash attention, no recomputation",
         format_bytes(t.activation_bytes), int64_t{run.n_ctx} * run.n_batch);
    line("  total       {:>12}   ({:.2f} GB)", format_bytes(t.total_bytes), t.total_bytes / 1e9);
  }
  const SpeedEstimate& sp = p.speed;
  if (!sp.device.empty()) {
    line("");
    line("speed on {}{}", sp.device, sp.n_devices > 1 ? fmt::format(" × {}", sp.n_devices) : "");
    line("  decode   {:>8.1f} tok/s   bound {:.1f} × efficiency {:.2f} ({}-bound); {:.1f} tok/s at "
         "full context",
         sp.decode_tok_per_s, sp.decode_bound_tok_per_s, sp.decode_efficiency,
         sp.decode_limit == "compute" ? "compute" : "bandwidth", sp.decode_tok_per_s_full_ctx);
    line("  prefill  {:>8.1f} tok/s   {:.2f} GFLOP/token × efficiency {:.2f}", sp.prefill_tok_per_s,
         sp.flops_per_token / 1e9, sp.prefill_efficiency);
    if (sp.tokens_per_joule > 0) line("  energy   {:>8.3f} tok/J   at board power", sp.tokens_per_joule);
    line("  efficiency: {}", sp.efficiency_source);
  }
  line("");
  line("{:<16} {:>9} {:>5} {:>5} {:>9} {:>6} {:>11} {:>10} {:>9} {:>8}", "device", "memory",
       "fits", "GPUs", "max ctx", "batch", "headroom", "decode t/s", "tok/J", "holds");
  for (const auto& f : p.devices) {
    std::string gpus = f.min_gpus == 0 ? ">64" : std::to_string(f.min_gpus);
    line("{:<16} {:>9} {:>5} {:>5} {:>9} {:>6} {:>11} {:>10.1f} {:>9} {:>7.0f}B", f.device.name,
         fmt::format("{:.0f} GiB", gib(f.device.memory_bytes)), f.fits ? "yes" : "no", gpus,
         f.max_ctx, f.max_batch,
         fmt::format("{}{:.1f} GiB", f.headroom_bytes < 0 ? "-" : "",
                     gib(static_cast<uint64_t>(std::abs(f.headroom_bytes)))),
         f.speed.decode_tok_per_s,
         f.speed.tokens_per_joule > 0 ? fmt::format("{:.3f}", f.speed.tokens_per_joule) : "-",
         f.max_params_b);
  }
  line("(GPUs: fewest devices holding it, tensor-parallel on paper; max ctx and batch on that many;"
       " holds: largest model of {:.2f} bits/weight one device takes at this ctx × batch)",
       m.bits_per_weight());
  bool any_correction = false;
  for (const auto& f : p.devices)
    for (const auto& c : f.device.seed_corrections) {
      if (!any_correction) line("seed figures corrected:");
      any_correction = true;
      line("  {} {}: seed {} → {} ({})", f.device.name, c.field, c.seed, c.corrected, c.why);
    }
  return s;
}

}  // namespace ag::planner
