// `autoglm perplexity -m FILE -f TEXT --ctx N [--batch B] [--threads T] [--json]`
// Perplexity with llama.cpp's method (llama-perplexity): tokenize the whole file with BOS, cut it
// into consecutive chunks of n_ctx tokens (the remainder is dropped), put BOS first in each chunk,
// evaluate each chunk from an empty cache, and score only the second half of each chunk (logits at
// positions n_ctx/2 .. n_ctx-2 predicting the next token). PPL = exp(mean negative log-likelihood).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace ag::cli {
namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "autoglm: %s\n", message.c_str());
  return 1;
}

int run(int argc, char** argv) {
  CLI::App app{"Perplexity of a model on a text file (llama.cpp's method)", "autoglm perplexity"};
  std::string model_path, text_path;
  int n_ctx = 512, n_batch = 0, n_threads = 0;
  bool json = false;
  app.add_option("-m,--model", model_path, "GGUF model file")->required();
  app.add_option("-f,--file", text_path, "text file to score")->required();
  app.add_option("--ctx", n_ctx, "tokens per chunk")->check(CLI::Range(4, 1 << 20));
  app.add_option("--batch", n_batch, "tokens per forward step (default: --ctx)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--threads", n_threads, "threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_flag("--json", json, "print a JSON object (last line) instead of PPL = X");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (n_threads == 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n_batch == 0) n_batch = n_ctx;

  std::ifstream in(text_path, std::ios::binary);
  if (!in) return fail(text_path + ": cannot open for reading");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return fail(text_path + ": read error");

  const auto t0 = std::chrono::steady_clock::now();
  auto model = Model::load(model_path, {.n_threads = n_threads});
  if (!model) return fail(model.error().message);
  auto tokenizer = tok::Tokenizer::from_gguf((*model)->file());
  if (!tokenizer) return fail(tokenizer.error().message);
  const std::vector<int32_t> tokens = tokenizer->encode(text, true, false);
  const int32_t bos = tokenizer->add_bos() ? tokenizer->special().bos : -1;
  auto result = ag::perplexity(**model, tokens, n_ctx, n_batch, bos, [&](size_t chunk, double ppl) {
    if (!json) std::fprintf(stderr, "[%zu]%.4f,", chunk + 1, ppl);
  });
  if (!result) return fail(text_path + ": " + result.error().message);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const PerplexityResult& r = *result;

  if (json) {
    nlohmann::json out = {{"ppl", r.ppl},           {"ppl_error", r.ppl_error},
                          {"mean_nll", r.mean_nll}, {"n_ctx", n_ctx},
                          {"n_chunks", r.n_chunks}, {"n_tokens", tokens.size()},
                          {"n_scored", r.n_scored}, {"chunk_ppl", r.chunk_ppl},
                          {"seconds", seconds}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::fprintf(stderr, "\n%zu chunks of %d tokens, %zu scored, %.2f s, estimate +/- %.4f\n",
               r.n_chunks, n_ctx, r.n_scored, seconds, r.ppl_error);
  std::printf("PPL = %.4f\n", r.ppl);
  return 0;
}

const CommandRegistration kRegistration{
    {"perplexity", "perplexity of a model on a text file (llama.cpp's method)", run}};

}  // namespace
}  // namespace ag::cli
