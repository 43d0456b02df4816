#pragma once
// Repacking at load: every Q4_0 / Q5_0 / Q8_0 / Q4_K / Q5_K / Q6_K / F16 / BF16 matrix the forward pass multiplies by is copied once into
// the 16-row interleaved layout of tensor/packed.h when this CPU has a packed kernel for its type
// (x86 with AVX2: tensor/packed.h's best_packed_isa), as llama.cpp repacks Q4_0 for its AVX2/ARM
// kernels. The copy replaces the file's bytes
// for matmul; the file's pages of a packed matrix are released from the process (madvise
// MADV_DONTNEED on the read-only mapping: the page cache keeps them, the resident set does not),
// so the weights are not held twice. The token embedding keeps its file layout for the lookup of
// single rows (with tied embeddings the output matrix is packed, the lookup reads the file).
#include <cstddef>
#include <string>

#include "core/result.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "model/weights.h"

namespace ag {

// Whether Model::load (with ModelOptions::repack) repacks tensor `t` of `file` on this CPU: a
// matrix the forward pass multiplies by (bind_weights' names: blk.N.attn_q/k/v/output and
// ffn_gate/up/down, output, or token_embd when there is no output), of a type with a packed layout,
// and the packed kernel available. What `autoglm inspect` reports per tensor.
bool repacked_at_load(const gguf::File& file, const gguf::TensorInfo& t);
// "q4_0x16", "q5_0x16", "q8_0x16", "q4_kx16", "q5_kx16", "q6_kx16", "f16x16", "bf16x16".
std::string packed_layout_name(DType type);

// Packs every eligible matrix of `w` (sets WeightView::packed) using the pool's threads.
// `map` / `map_size`: the file mapping the views point into (null: nothing to release).
Status pack_weights(ModelWeights& w, ThreadPool& pool, const uint8_t* map, size_t map_size);

}  // namespace ag
