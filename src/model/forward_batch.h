#pragma once
// The unit of work of one forward pass: token rows from several sequences at once.
//
// Rows of one sequence appear in position order. A row at position p of sequence s attends to the
// positions 0..p of s: those before this step are already in the paged KV cache, those in this
// batch are written to the cache before attention runs. Each sequence addresses its KV through a
// block table: position p lives in block block_tables[s][p / block_size], slot p % block_size.
#include <cstdint>
#include <vector>

namespace ag {

struct ForwardBatch {
  std::vector<int32_t> tokens;       // [n_rows] token ids
  std::vector<int32_t> positions;    // [n_rows] position of the token in its sequence
  std::vector<int32_t> seq_index;    // [n_rows] index into block_tables
  std::vector<uint8_t> want_logits;  // [n_rows] 1 = return logits for this row
  // [n_seqs][n_blocks] physical KV block ids of each sequence in this batch; must cover every
  // position up to the largest one in the batch for that sequence.
  std::vector<std::vector<int32_t>> block_tables;

  size_t n_rows() const { return tokens.size(); }
  void clear() {
    tokens.clear();
    positions.clear();
    seq_index.clear();
    want_logits.clear();
    block_tables.clear();
  }
};

}  // namespace ag
