#pragma once
// A plan: what a model needs (memory item by item, optionally training state) and, per device,
// whether it fits, the largest context and batch that do, how many GPUs it takes at least, and
// how fast it runs. Rendered as a table or as JSON (`autoglm plan --json`).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "planner/device_catalog.h"
#include "planner/memory_model.h"
#include "planner/model_spec.h"
#include "planner/speed_model.h"

namespace ag::planner {

struct DeviceFit {
  Device device;
  bool fits = false;            // on one device
  int min_gpus = 0;             // devices needed (weights and KV split tensor-parallel); 0 = > 64
  int max_ctx = 0;              // largest ctx (per sequence, at the batch asked) on min_gpus devices
  int max_batch = 0;            // largest batch at the ctx asked on min_gpus devices
  uint64_t usable_bytes = 0;    // per device
  uint64_t required_bytes = 0;  // per device, on min_gpus (or one, when none suffice) devices
  int64_t headroom_bytes = 0;   // usable - required on those devices
  double max_params_b = 0;      // largest model (billions) of this bits/weight that one device holds
  SpeedEstimate speed;          // on min_gpus devices (one when none suffice)
};

struct PlanRequest {
  RunConfig run;
  EngineConstants engine;
  std::optional<TrainMode> train;
  int lora_rank = 16;
};

struct Plan {
  ModelSpec model;
  PlanRequest request;
  MemoryEstimate memory;
  std::optional<TrainingEstimate> training;
  SpeedEstimate speed;            // on the primary device
  std::vector<DeviceFit> devices; // ranked: fewest devices first, then fastest decode
};

DeviceFit fit_device(const ModelSpec& model, const PlanRequest& request, const Device& device,
                     const Efficiency& efficiency);

// Plans `model` for `devices` (the first is the primary one whose speed the summary shows).
Plan make_plan(ModelSpec model, const PlanRequest& request, const std::vector<Device>& devices,
               const DeviceCatalog& catalog);

nlohmann::json plan_to_json(const Plan& plan);
std::string plan_to_text(const Plan& plan);

std::string format_bytes(uint64_t bytes);  // "4.58 GiB", "224.0 MiB", "512 B"

}  // namespace ag::planner
