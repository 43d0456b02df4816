#include "model/packed_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "core/huge_pages.h"
#include "tensor/packed.h"

namespace ag {

namespace {

// Drops the process's pages of [begin, end) of the read-only mapping (whole pages inside only):
// they come back from the page cache if anything reads them again.
void release_pages(const uint8_t* map, size_t map_size, const uint8_t* begin, const uint8_t* end) {
  if (map == nullptr || begin < map || end > map + map_size) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const uintptr_t hi = reinterpret_cast<uintptr_t>(end) / page * page;
  if (lo < hi) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

bool packable(const kernels::WeightView& v) { return packed_kernels_available(v.type) && v.n_in % 32 == 0; }

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

bool repacked_at_load(const gguf::File& file, const gguf::TensorInfo& t) {
  if (!packed_kernels_available(t.type) || t.shape.size() != 2 || t.ne(0) % 32 != 0)
    return false;
  if (t.name == "output.weight") return true;
  if (t.name == "token_embd.weight") return file.tensor("output.weight") == nullptr;  // tied
  static const std::regex kLayerMatrix(
      R"(blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight)");
  return std::regex_match(t.name, kLayerMatrix);
}

std::string packed_layout_name(DType type) { return std::string(dtype_name(type)) + "x16"; }

Status pack_weights(ModelWeights& w, ThreadPool& pool, const uint8_t* map, size_t map_size) {
  // With tied embeddings the output view is a copy of token_embd's: the lookup keeps the file.
  std::vector<kernels::WeightView*> views;
  size_t total = 0;
  for (kernels::WeightView* v : multiplied_matrices(w)) {
    if (!packable(*v)) continue;
    views.push_back(v);
    total += round_up(packed_bytes(v->type, v->n_in, v->n_out), 64);
  }
  if (views.empty()) return {};
  // One buffer in huge pages: decode streams every weight once per token, and with 4 KiB pages
  // that is a TLB miss every 4 KiB (85,000 per token for a 0.5B Q4_0 model).
  AG_TRY(w.packed_arena, map_huge_buffer(total));
  uint8_t* at = w.packed_arena.get();
  for (kernels::WeightView* v : views) {
    uint8_t* dst = at;
    const size_t bytes = packed_bytes(v->type, v->n_in, v->n_out);
    at += round_up(bytes, 64);
    // In slices of ~8 MiB of the file, each slice's file pages released once it is packed: the
    // resident set never holds much more than one copy (the tied 151,936-row output matrix of a
    // 0.5B model is 145 MB; held twice it was the process's peak, 9% over `autoglm plan`).
    const int64_t groups = (v->n_out + kPackRows - 1) / kPackRows;
    const size_t group_file_bytes = v->row_bytes * kPackRows;
    const int64_t slice = std::max<int64_t>(1, static_cast<int64_t>((size_t{8} << 20) / group_file_bytes));
    for (int64_t g0 = 0; g0 < groups; g0 += slice) {
      const int64_t g1 = std::min(groups, g0 + slice);
      pool.parallel_for(g1 - g0, 1, [&](int64_t begin, int64_t end) {
        pack_groups(v->type, v->data, v->row_bytes, v->n_in, v->n_out, g0 + begin, g0 + end, dst);
      });
      const int64_t rows_done = std::min(v->n_out, g1 * kPackRows);
      release_pages(map, map_size, v->data + static_cast<size_t>(g0 * kPackRows) * v->row_bytes,
                    v->data + static_cast<size_t>(rows_done) * v->row_bytes);
    }
    // Pages straddling two slices were skipped above (only whole pages inside a range go).
    release_pages(map, map_size, v->data, v->data + v->row_bytes * static_cast<size_t>(v->n_out));
    v->packed = dst;
  }
  w.packed_bytes = static_cast<size_t>(at - w.packed_arena.get());
  return {};
}

}  // namespace ag
