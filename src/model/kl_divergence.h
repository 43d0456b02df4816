#pragma once
// KL divergence of a model's next-token distributions from a base model's (llama.cpp's
// `llama-perplexity --kl-divergence-base` / `--kl-divergence` workflow): the base model (F16) is
// run once over a text and its full log-probabilities are saved; a quantized model is then run
// over the same token chunks and compared row by row.
//
// Base file format (little-endian; all offsets are multiples of 4):
//   char[8]  magic "AGKLBASE"
//   u32      version              1
//   u32      n_vocab              the base model's vocabulary size (logits per row)
//   u32      n_ctx                tokens per chunk
//   u32      n_chunks
//   u32      first                first scored position of a chunk (n_ctx / 2, as perplexity)
//   u32      reserved             0
//   i32      tokens[n_chunks * n_ctx]   each chunk as evaluated (BOS already put first)
//   rows, n_chunks * (n_ctx - 1 - first) of them, chunk by chunk, position by position:
//     f32    lo        log-probability of code 1 (the bottom of the row's window)
//     f32    step      log-probability per code
//     f32    target    exact log-probability of the next token (for the base perplexity)
//     u16    code[n_vocab]  1 + round((logprob - lo) / step); 0 = below the window
//     u16    pad       when n_vocab is odd
// The window spans the 16 nats below the row's most likely token (as llama.cpp's uint16 form),
// so step <= 16 / 65534 = 2.4e-4 nats and a row takes about half the bytes of float logits.
// Tokens more than 16 nats less likely than the top one are left out of the sum, as in llama.cpp.
//
// Comparing: the model's log-probabilities are rounded to the same grid as the base row's before
// the difference is taken, so rounding adds no bias and a model compared with itself gives
// exactly 0. KL(row) = sum over codes > 0 of p_base * (lp_base - lp_model).
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/result.h"

namespace ag {

inline constexpr float kKlWindowNats = 16.0f;

// Streams a base file: the header and tokens at create(), then one add_row() per scored row.
class KlBaseWriter {
 public:
  KlBaseWriter() = default;
  KlBaseWriter(KlBaseWriter&& other) noexcept;
  KlBaseWriter& operator=(KlBaseWriter&& other) noexcept;
  KlBaseWriter(const KlBaseWriter&) = delete;
  KlBaseWriter& operator=(const KlBaseWriter&) = delete;
  ~KlBaseWriter();  // an unfinished file is removed

  // chunks: [n_chunks * n_ctx] tokens as evaluated.
  static Result<KlBaseWriter> create(const std::string& path, int n_vocab, int n_ctx,
                                     std::span<const int32_t> chunks);
  // logits: [n_vocab] raw logits of one scored row; target: the token that follows.
  Status add_row(std::span<const float> logits, int32_t target);
  // Checks that every row was written and closes the file.
  Status finish();

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  int n_vocab_ = 0;
  size_t n_rows_expected_ = 0, n_rows_ = 0;
  std::vector<uint16_t> buf_;  // [n_vocab rounded up to even] codes of the row being written
};

// One row of a base file, in place in the mapped file.
struct KlBaseRow {
  float lo = 0, step = 0, target_logprob = 0;
  const uint8_t* codes = nullptr;  // [n_vocab] little-endian u16, possibly unaligned
  uint16_t code(size_t i) const {
    return static_cast<uint16_t>(codes[2 * i] | (codes[2 * i + 1] << 8));
  }
};

class KlBaseReader {
 public:
  // Validates the whole layout (magic, version, sizes against the file length, token ids, row
  // headers) before anything is used; errors name the file and the field.
  static Result<KlBaseReader> open(const std::string& path);

  int n_vocab() const { return n_vocab_; }
  int n_ctx() const { return n_ctx_; }
  size_t n_chunks() const { return n_chunks_; }
  int first() const { return first_; }
  std::span<const int32_t> tokens() const { return tokens_; }
  size_t n_rows() const { return n_rows_; }
  KlBaseRow row(size_t i) const;  // i < n_rows()

 private:
  MappedFile map_;
  int n_vocab_ = 0, n_ctx_ = 0, first_ = 0;
  size_t n_chunks_ = 0, n_rows_ = 0, rows_offset_ = 0, row_bytes_ = 0;
  std::vector<int32_t> tokens_;
};

struct KlSummary {
  size_t n_rows = 0;
  double mean = 0, mean_error = 0;  // mean KL (nats) and its standard error
  double median = 0, p90 = 0, p99 = 0, max = 0;
  double same_top = 0, same_top_error = 0;  // fraction of rows whose most likely token agrees
  double ppl = 0, ppl_base = 0;             // perplexity of the model and of the base on the rows
  double mean_dp = 0, rms_dp = 0;           // p_model(next) - p_base(next): mean and RMS
};

// Accumulates the comparison row by row.
class KlAccumulator {
 public:
  // logits: [n_vocab] raw logits of the model for the row the base row describes.
  void add(const KlBaseRow& base, std::span<const float> logits, int32_t target);
  KlSummary summary() const;

 private:
  std::vector<double> kl_;  // per row
  double sum_nll_ = 0, sum_nll_base_ = 0, sum_dp_ = 0, sum_dp2_ = 0;
  size_t n_same_top_ = 0;
  std::vector<double> lp_;  // scratch: the model's log-probabilities of one row
};

}  // namespace ag
