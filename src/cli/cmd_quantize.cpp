// `autoglm quantize IN.gguf OUT.gguf TYPE [--threads N] [--pure] [--allow-requantize]`: converts
// an F32/F16/BF16 model to a llama.cpp file type (Q4_K_M, Q8_0, …) with the same per-tensor types
// llama-quantize would choose.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <thread>

#include "cli/command.h"
#include "tensor/quantize_model.h"

namespace ag::cli {
namespace {

int run_quantize(int argc, char** argv) {
  CLI::App app{
      "Quantize a GGUF model. TYPE is a llama.cpp file type: " + quant::scheme_names() +
          ". Mixtures give some tensors more bits (e.g. Q4_K_M: Q6_K for output.weight and for "
          "attn_v/ffn_down in some layers); --pure gives every quantizable tensor TYPE's own type.",
      "quantize"};
  std::string input, output, type_name;
  int n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool pure = false, allow_requantize = false;
  app.add_option("input", input, "input GGUF (F32, F16 or BF16 weights)")->required();
  app.add_option("output", output, "output GGUF")->required();
  app.add_option("type", type_name, "target file type, e.g. Q4_K_M, Q8_0, F16")->required();
  app.add_option("-t,--threads", n_threads, "threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--pure", pure, "no mixture: every quantizable tensor gets TYPE's default type");
  app.add_flag("--allow-requantize", allow_requantize,
               "accept already-quantized input tensors (loses quality)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const auto scheme = quant::find_scheme(type_name);
  if (!scheme) {
    std::fprintf(stderr, "autoglm: unknown quantization type '%s' (known: %s)\n", type_name.c_str(),
                 quant::scheme_names().c_str());
    return 1;
  }

  quant::QuantizeOptions options;
  options.input_path = input;
  options.output_path = output;
  options.scheme = *scheme;
  options.pure = pure;
  options.allow_requantize = allow_requantize;
  options.n_threads = n_threads;
  options.log = stderr;
  auto report = quant::quantize_model(options);
  if (!report.ok()) {
    std::fprintf(stderr, "autoglm: %s\n", report.error().message.c_str());
    return 1;
  }
  size_t n_converted = 0, n_fallback = 0;
  for (const auto& t : report->tensors) {
    n_converted += t.converted;
    n_fallback += t.fallback;
  }
  const double n = static_cast<double>(std::max<uint64_t>(1, report->n_elements));
  std::fprintf(stderr,
               "converted %zu of %zu tensors (%zu of them to a fallback type)\n"
               "model size: %.2f MiB (%.2f BPW) -> %.2f MiB (%.2f BPW)\n",
               n_converted, report->tensors.size(), n_fallback,
               static_cast<double>(report->bytes_in) / (1024.0 * 1024.0),
               8.0 * static_cast<double>(report->bytes_in) / n,
               static_cast<double>(report->bytes_out) / (1024.0 * 1024.0),
               8.0 * static_cast<double>(report->bytes_out) / n);
  return 0;
}

const CommandRegistration kRegistration{
    {"quantize", "convert a GGUF model to Q4_K_M, Q8_0, F16 and other llama.cpp types",
     run_quantize}};

}  // namespace
}  // namespace ag::cli
