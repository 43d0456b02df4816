#pragma once
// An independent reference forward pass for tests: double precision, naive loops, one token at a
// time, written from the architecture descriptions (not from src/model). Reads F32 GGUF models.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace ag::test {

class ReferenceModel {
 public:
  // Reads hyper-parameters and F32 weights; aborts the test (ADD_FAILURE + empty model) on
  // anything unexpected, since the inputs are files the tests wrote.
  explicit ReferenceModel(const gguf::File& file);

  // Logits [n_vocab] after each token of `tokens` (positions 0..n-1), in double.
  std::vector<std::vector<double>> run(const std::vector<int32_t>& tokens) const;

  int n_vocab() const { return n_vocab_; }

 private:
  using Vec = std::vector<double>;
  const Vec& w(const std::string& name) const;
  // y[o] = sum_i m[o * n_in + i] * x[i]
  static Vec matvec(const Vec& m, const Vec& x, int n_out);
  Vec rms_norm(const Vec& x, const Vec& weight) const;
  void rope(double* v, int pos) const;

  std::string arch_;
  int n_layer_ = 0, n_embd_ = 0, n_head_ = 0, n_head_kv_ = 0, head_dim_ = 0, n_rot_ = 0, n_ff_ = 0;
  int n_vocab_ = 0;
  double eps_ = 0, base_ = 0, linear_scale_ = 1;  // positions are multiplied by linear_scale_
  bool yarn_ = false;
  double yarn_factor_ = 1;
  int n_ctx_orig_ = 0;
  std::map<std::string, Vec> weights_;
};

}  // namespace ag::test
