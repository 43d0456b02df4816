#pragma once
// A loaded model: hyper-parameters, weights bound in place from the memory-mapped GGUF file, and
// the batched forward pass over a paged KV cache.
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "model/forward_batch.h"
#include "model/hparams.h"
#include "tensor/dtype.h"

namespace ag {

class KvCache;

struct ModelOptions {
  int n_threads = 1;          // threads of the forward pass, the caller included
  DType kv_type = DType::F16;  // element type of KV caches made for this model (F16 or F32)
  bool pin_threads = false;    // bind forward-pass thread i to the i-th allowed CPU (--pin-threads)
  // Repack Q4_0 / Q8_0 matrices at load for the packed kernels where this CPU has them
  // (model/packed_weights.h); false keeps every matrix in place in the mapped file (--no-repack).
  bool repack = true;
};

class ModelImpl;  // weights, thread pool and scratch buffers (model/model_impl.h)

class Model {
 public:
  // Maps the GGUF file, reads the hyper-parameters and binds every weight tensor, checking names,
  // shapes and types. Errors name the file and the tensor or key that is wrong.
  static Result<std::unique_ptr<Model>> load(const std::string& path, const ModelOptions& options);
  // Same, for a File already opened (tests, tools that inspect before loading).
  static Result<std::unique_ptr<Model>> from_file(gguf::File file, const ModelOptions& options);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const HParams& hparams() const;
  const gguf::File& file() const;
  const ModelOptions& options() const;

  // Runs one step over `batch` (see forward_batch.h): writes K/V of every row into `kv` at the
  // slots its block table names, then attends over positions 0..pos of each row's sequence.
  // `logits` is resized to [n_want, n_vocab]: one row per batch row with want_logits, in row order.
  //
  // Batch-invariant: a row's logits are bit-identical whatever other rows share the batch and
  // whatever the thread count (every reduction runs in a fixed order per row).
  // A malformed batch (token out of range, position not covered by its block table, block id past
  // the cache, positions of a sequence not increasing) is an error and nothing is written.
  // Not thread-safe: one forward at a time per Model.
  Status forward(const ForwardBatch& batch, KvCache& kv, std::vector<float>& logits);

  // Allocates (and touches) the activation buffers of a step of `n_rows` rows now, as llama.cpp
  // reserves its compute graph at context creation: memory is claimed at load (an out-of-memory
  // shows there, not mid-request) and the process's resident size no longer depends on how long
  // the first prompts are, so `autoglm plan`'s compute figure is what the process holds.
  Status reserve_step(int64_t n_rows);

  // Locks the weights in RAM with mlock (--mlock): no page of them is ever evicted and read back
  // from disk under memory pressure. That is the mapped file, less the matrices that were
  // repacked (their packed copies are locked instead). An error names RLIMIT_MEMLOCK when it fails.
  Status lock_weights();
  // Forward-pass threads bound to one CPU (options().pin_threads).
  int n_pinned_threads() const;
  // Matrices repacked at load (0 without repacking).
  int n_packed_matrices() const;

 private:
  explicit Model(std::unique_ptr<ModelImpl> impl);
  std::unique_ptr<ModelImpl> impl_;
};

}  // namespace ag
