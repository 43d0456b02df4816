#pragma once
// How fast a model runs on a device, as bounds times measured efficiencies:
//   decode  = bandwidth / bytes read per step (weights once + each sequence's KV), or the compute
//             bound when a large batch makes the step FLOP-limited;
//   prefill = compute peak / FLOPs per token (2 per weight, plus attention), or the weights'
//             read time per chunk when that is longer.
// The efficiency factors come from the device catalog (measured for `cpu`, assumed for GPUs) and
// are printed with every figure.
#include <string>

#include "planner/device_catalog.h"
#include "planner/memory_model.h"
#include "planner/model_spec.h"

namespace ag::planner {

struct SpeedEstimate {
  std::string device;
  int n_devices = 1;
  double decode_tok_per_s = 0;           // all n_batch sequences together, empty KV cache
  double decode_tok_per_s_full_ctx = 0;  // all sequences together, each at n_ctx positions
  double decode_bound_tok_per_s = 0;     // bandwidth bound, before the efficiency factor
  double prefill_tok_per_s = 0;
  double tokens_per_joule = 0;           // decode_tok_per_s / board power; 0 when unknown
  double decode_efficiency = 0;
  double prefill_efficiency = 0;
  double bytes_per_step = 0;             // weights read per decode step
  double flops_per_token = 0;            // decode, empty cache
  std::string decode_limit;              // "memory bandwidth" or "compute"
  std::string efficiency_source;
};

SpeedEstimate estimate_speed(const ModelSpec& model, const RunConfig& run, const Device& device,
                             const Efficiency& efficiency, int n_devices,
                             const EngineConstants& engine = {});

}  // namespace ag::planner
