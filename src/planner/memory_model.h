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

// How this engine allocates (src/model/session.h, model_impl.h, kv/kv_cache.h). Calibrated against
// the peak RSS of `autoglm generate` on a synthetic Qwen2.5-0.5B Q4_0 (ctx 1024, 900-token prompt:
// 426.2 MB measured, see docs/PLANNING.md); recalibrate when the engine's buffers change.
struct EngineConstants {
  int kv_block_size = 16;        // paged KV positions per block (Session's default)
  int n_ubatch = 512;            // rows per forward step while prefilling (generate --batch)
  // Measured RSS: `autoglm --version` 8.4 MiB; `autoglm tokenize` of the Qwen2 vocabulary
  // (151,936 tokens, 151,387 merges) 41 MiB more than that, its 5.7 MiB file included.
  uint64_t process_bytes = 10ull << 20;          // binary, libc/libstdc++, heap arenas at start
  uint64_t per_thread_bytes = 256ull << 10;      // stack and allocator arena touched per worker
  uint64_t tokenizer_bytes_per_token = 120;      // token strings, id/string maps, scores, types
  uint64_t tokenizer_bytes_per_merge = 110;      // BPE merge ranks
  uint64_t tokenizer_fixed_bytes = 2ull << 20;   // pre-tokenizer regexes (PCRE2 JIT), caches
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
