// `autoglm synth --preset NAME --type TYPE [--vocab VOCAB.gguf] -o FILE [--seed S]`: a model with
// random weights and the exact shapes, tensor types and metadata of a real one, to measure speed
// and memory without downloading weights.
#include <cstdio>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "planner/model_presets.h"
#include "planner/synth_model.h"

namespace ag::cli {
namespace {

int run_synth(int argc, char** argv) {
  CLI::App app{"Write a GGUF model with random weights and the exact shapes of a real one", "synth"};
  std::string preset, type, vocab, output;
  uint64_t seed = 0;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool list = false, quiet = false;
  app.add_option("--preset", preset, "model shape (see --list)");
  app.add_option("--type", type,
                 "file type as llama.cpp names them: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, "
                 "q2_k, q3_k_s/m/l, q4_k_s/m, q5_k_s/m, q6_k");
  app.add_option("--vocab", vocab, "GGUF whose tokenizer to copy (default: a byte vocabulary)");
  app.add_option("-o,--output", output, "output GGUF file");
  app.add_option("--seed", seed, "random seed (same seed, same file)");
  app.add_option("-t,--threads", threads, "threads")->check(CLI::Range(1, 1024));
  app.add_flag("--list", list, "list the presets and exit");
  app.add_flag("-q,--quiet", quiet, "no progress line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (list) {
    for (const auto& p : planner::model_presets())
      std::printf("%-20s %-6s %14llu params  %s\n", std::string(p.name).c_str(),
                  p.hparams.arch.c_str(), static_cast<unsigned long long>(p.n_params),
                  std::string(p.hf_repo).c_str());
    return 0;
  }
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "autoglm synth: %s\n", msg.c_str());
    return 1;
  };
  if (preset.empty() || type.empty() || output.empty())
    return fail("--preset, --type and -o are required (see --help)");
  auto ftype = planner::file_type_from_name(type);
  if (!ftype.ok()) return fail(ftype.error().message);
  planner::SynthOptions o;
  o.preset = preset;
  o.ftype = *ftype;
  o.vocab_path = vocab;
  o.output_path = output;
  o.seed = seed;
  o.n_threads = threads;
  o.log = quiet ? nullptr : stderr;
  auto r = planner::synth_model(o);
  if (!r.ok()) return fail(r.error().message);
  std::fprintf(stderr,
               "synth: wrote %s: %s %s, %llu parameters in %llu tensors, %.1f MiB; %d tokens%s in "
               "%.1f s\n",
               output.c_str(), preset.c_str(), std::string(planner::file_type_name(*ftype)).c_str(),
               static_cast<unsigned long long>(r->n_params),
               static_cast<unsigned long long>(r->n_tensors),
               static_cast<double>(r->file_bytes) / (1 << 20), r->n_vocab_tokens,
               r->n_padding > 0 ? fmt::format(" + {} padding", r->n_padding).c_str() : "",
               r->seconds);
  return 0;
}

const CommandRegistration kRegistration{
    {"synth", "write a random-weight model with a real model's exact shapes", run_synth}};

}  // namespace
}  // namespace ag::cli
