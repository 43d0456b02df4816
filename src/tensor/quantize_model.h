#pragma once
// Converts a GGUF model to a llama.cpp file type (Q4_K_M, Q8_0, F16, …): every tensor gets the
// type kquant_mixture.h chooses, metadata is copied, general.file_type is set. Rows are quantized
// in parallel; progress and each tensor's reconstruction error go to a log stream.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/result.h"
#include "tensor/dtype.h"
#include "tensor/kquant_mixture.h"

namespace ag::quant {

struct QuantizeOptions {
  std::string input_path;
  std::string output_path;  // written to OUTPUT.tmp first, renamed when complete
  Scheme scheme;
  bool pure = false;              // every quantizable tensor in scheme.default_type
  bool allow_requantize = false;  // accept already-quantized input tensors (quality loss)
  int n_threads = 1;
  std::FILE* log = stderr;  // progress bar and per-tensor lines; null for silence
};

struct TensorReport {
  std::string name;
  std::vector<uint64_t> shape;
  DType from;
  DType to;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  bool converted = false;  // false: copied byte for byte
  bool fallback = false;   // row length forced a compatible type
  double rmse = 0;         // of the reconstruction against the input values (converted only)
  double rel_error = 0;    // rmse / rms(input)
};

struct QuantizeReport {
  std::vector<TensorReport> tensors;  // in file order
  uint64_t n_elements = 0;
  uint64_t bytes_in = 0;   // tensor data only
  uint64_t bytes_out = 0;  // tensor data only
};

// Errors (one line, naming the file or tensor): unreadable input, output equal to input, a
// tensor type that cannot be converted, non-finite input values, values whose scales overflow the
// target type (e.g. |x| > 65504 * 15 for Q4_K), a failed write (no partial output is left).
Result<QuantizeReport> quantize_model(const QuantizeOptions& options);

}  // namespace ag::quant
