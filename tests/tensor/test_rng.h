#pragma once
// Deterministic test data for the tensor tests: the same numbers on every run and machine
// (splitmix64; no std distributions, whose output differs between standard libraries).
#include <cmath>
#include <cstdint>
#include <vector>

namespace ag::test {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // [0, 1)
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box-Muller).
  float normal() {
    const float u1 = 1.0f - uniform();  // (0, 1]
    const float u2 = uniform();
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
  }

 private:
  uint64_t state_;
};

// Weight-like data: normal values whose scale changes every 32 elements (1e-2 .. 10, so block
// scales stay in F16's normal range), with an occasional outlier, as real weight rows have.
inline std::vector<float> weight_like(Rng& rng, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  float scale = 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = std::pow(10.0f, rng.uniform(-2.0f, 1.0f));
    float v = rng.normal() * scale;
    if (rng.uniform() < 0.01f) v *= 6.0f;
    x[static_cast<size_t>(i)] = v;
  }
  return x;
}

}  // namespace ag::test
