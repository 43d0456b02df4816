#pragma once
// Memory a model takes to serve or to train, item by item:
//   weights   exact bytes of every tensor (the GGUF file is memory-mapped: its pages count)
//   KV cache  2 (K and V) · n_layer · n_head_kv · head_dim · bytes/element per position, GQA-aware,
//             for ctx positions of each of `batch` sequences, in whole paged blocks
//   compute   activation buffers of one forward step and the logits rows
//   overhead  file metadata, tokenizer tables, the process itself
// The engine-dependent constants live in EngineConstants with where each comes from, so they can
// be recalibrated against measured peak RSS (see docs/PLANNING.md).
#include <cstdint>
#include <string>
#include <vector>

#include "planner/model_spec.h"
#include "tensor/dtype.h"

namespace ag::planner {

struct RunConfig {
  int n_ctx = 4096;     // positions per sequence
  int n_batch = 1;      // concurrent sequences
  DType kv_type = DType::F16;
  int n_threads = 1;
};

// How this engine allocates. CALIBRATE: until src/model and the engine publish their allocation
// sizes these follow llama.cpp's CPU backend (ubatch 512, logits for the rows that need them).
struct EngineConstants {
  int kv_block_size = 16;        // paged KV positions per block (kv/block_pool.h)
  int n_ubatch = 512;            // rows per forward step while prefilling
  uint64_t process_bytes = 12ull << 20;   // binary, libc/libstdc++, heap arenas at start
  uint64_t per_thread_bytes = 1ull << 20;  // stack + per-thread scratch touched per worker
  uint64_t tokenizer_bytes_per_token = 96;  // token strings, lookup maps, scores in memory
  // GPU runtime (CUDA context, cuBLAS workspace) per device: ~300-500 MB measured by llama.cpp
  // and vLLM users on Ampere/Hopper; 512 MiB is the conservative end.
  uint64_t gpu_context_bytes = 512ull << 20;
};

struct MemoryItem {
  std::string name;
  uint64_t bytes = 0;
};

struct MemoryEstimate {
  uint64_t weights_bytes = 0;
  uint64_t kv_bytes = 0;
  uint64_t kv_bytes_per_token = 0;  // one position of one sequence, all layers, K and V
  uint64_t compute_bytes = 0;
  uint64_t overhead_bytes = 0;
  uint64_t total_bytes = 0;
  std::vector<MemoryItem> compute_items;   // what compute_bytes is made of
  std::vector<MemoryItem> overhead_items;  // what overhead_bytes is made of
};

// KV bytes per position (all layers, K and V) with `kv_type` elements; quantized KV types store
// whole blocks per head_dim row as llama.cpp does.
uint64_t kv_bytes_per_token(const HParams& hp, DType kv_type);

MemoryEstimate estimate_memory(const ModelSpec& model, const RunConfig& run,
                               const EngineConstants& engine = {});

// Memory of training, on top of what a forward pass needs.
enum class TrainMode { Adam, AdamMixed, Lora };

struct TrainingEstimate {
  TrainMode mode = TrainMode::Adam;
  uint64_t trainable_params = 0;
  uint64_t weights_bytes = 0;     // the model as trained (FP32 for adam, BF16 + FP32 master, ...)
  uint64_t gradient_bytes = 0;
  uint64_t optimizer_bytes = 0;   // Adam m and v (and FP32 master weights for mixed precision)
  uint64_t activation_bytes = 0;  // saved for the backward pass, ctx × batch tokens
  uint64_t total_bytes = 0;
  double state_bytes_per_param = 0;  // weights + gradients + optimizer, per trainable parameter
  std::string note;
};

// LoRA: rank `lora_rank` adapters on every attention and FFN matrix; the base stays in its file
// types. Activations assume BF16 saved tensors, no recomputation, and flash attention (no
// [ctx, ctx] score matrices kept).
TrainingEstimate estimate_training(const ModelSpec& model, TrainMode mode, const RunConfig& run,
                                   int lora_rank = 16);

}  // namespace ag::planner
