#include "planner/speed_model.h"

#include <algorithm>

namespace ag::planner {

SpeedEstimate estimate_speed(const ModelSpec& model, const RunConfig& run, const Device& device,
                             const Efficiency& eff, int n_devices, const EngineConstants& engine) {
  SpeedEstimate s;
  s.device = device.name;
  s.n_devices = std::max(1, n_devices);
  s.decode_efficiency = eff.decode;
  s.prefill_efficiency = eff.prefill;
  s.efficiency_source = eff.source;
  const double n = s.n_devices;
  const double bw = device.bandwidth_gbs * 1e9 * n;  // tensor parallel: each reads its share
  const double peak = device.fp16_tflops * 1e12 * n;
  if (bw <= 0 || peak <= 0) return s;

  const HParams& hp = model.hp;
  const double batch = std::max(1, run.n_batch);
  const double kvpt = static_cast<double>(kv_bytes_per_token(hp, run.kv_type));
  const double weights = static_cast<double>(model.weights_read_per_token());
  // Attention per token at position p: q·K and softmax·V over p positions for every query head.
  const double attn_flops_per_pos = 4.0 * hp.n_layer * hp.n_embd_q() * model.shape_scale;
  const double matmul = model.matmul_flops_per_token(true);
  s.bytes_per_step = weights;
  s.flops_per_token = matmul;

  auto decode_rate = [&](double pos) {
    const double bytes = weights + batch * pos * kvpt;
    const double t_mem = bytes / (bw * eff.decode);
    const double t_cmp = batch * (matmul + attn_flops_per_pos * pos) / (peak * eff.prefill);
    return std::pair{batch / std::max(t_mem, t_cmp), t_cmp > t_mem};
  };
  auto [rate0, compute_bound] = decode_rate(0);
  s.decode_tok_per_s = rate0;
  s.decode_limit = compute_bound ? "compute" : "memory bandwidth";
  s.decode_tok_per_s_full_ctx = decode_rate(run.n_ctx).first;
  s.decode_bound_tok_per_s = batch * bw / weights;

  // Prefill in chunks of up to n_ubatch rows: logits only for the last row of the prompt.
  const double chunk = std::max(1, std::min(engine.n_ubatch, run.n_ctx));
  const double flops_chunk = chunk * (model.matmul_flops_per_token(false) +
                                      attn_flops_per_pos * std::min<double>(run.n_ctx, chunk) / 2);
  const double t_chunk = std::max(flops_chunk / (peak * eff.prefill), weights / (bw * eff.decode));
  s.prefill_tok_per_s = chunk / t_chunk;
  if (device.tdp_w > 0) s.tokens_per_joule = s.decode_tok_per_s / (device.tdp_w * n);
  return s;
}

}  // namespace ag::planner
