#pragma once
// Row-wise ops of the forward pass. Each works on one row so the model can run rows in parallel;
// the arithmetic follows ggml's CPU ops (sums of squares and softmax sums in double).
#include <cstdint>

namespace ag::kernels {

// y = x / sqrt(mean(x^2) + eps) * w, n elements. y may alias x. w may be null (no weight).
void rms_norm(const float* x, const float* w, float* y, int n, float eps);

// gate[i] = silu(gate[i]) * up[i], silu(v) = v / (1 + exp(-v)).
void silu_mul(float* gate, const float* up, int n);
// What one element of silu_mul costs in the units of worth_parallel (parallel.h): an expf call
// where the C library computes it, a few vector operations where expf_vec.h does.
int64_t silu_mul_work_per_element();

// y[i] += x[i]
void add_inplace(float* y, const float* x, int n);

// x = softmax(x) over n elements, in place.
void softmax_inplace(float* x, int n);

}  // namespace ag::kernels
