// `autoglm perplexity -m FILE -f TEXT --ctx N [--batch B] [--threads T] [--json]`
// Perplexity with llama.cpp's method (llama-perplexity): tokenize the whole file with BOS, cut it
// into consecutive chunks of n_ctx tokens (the remainder is dropped), put BOS first in each chunk,
// evaluate each chunk from an empty cache, and score only the second half of each chunk (logits at
// positions n_ctx/2 .. n_ctx-2 predicting the next token). PPL = exp(mean negative log-likelihood).
//
// KL divergence (llama.cpp's workflow; file format in model/kl_divergence.h):
//   autoglm perplexity -m F16.gguf -f TEXT --ctx N --kl-divergence-base BASE.kld
//     scores the base model as above and saves its log-probabilities for every scored token;
//   autoglm perplexity -m QUANT.gguf --kl-divergence --kl-divergence-base BASE.kld [-f TEXT]
//     runs the model over the base file's chunks and prints the mean KL divergence from the
//     base (± standard error), median, 99th percentile, maximum, the "same top token" share and
//     both perplexities. With -f the text is tokenized again and must give the base's tokens.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "model/kl_divergence.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace ag::cli {
namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "autoglm: %s\n", message.c_str());
  return 1;
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("{}: cannot open for reading", path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return error("{}: read error", path);
  return text;
}

// The text's chunks as perplexity evaluates them.
Result<std::vector<int32_t>> text_chunks(const tok::Tokenizer& tokenizer, const std::string& path, int n_ctx) {
  AG_TRY(std::string text, read_text(path));
  const std::vector<int32_t> tokens = tokenizer.encode(text, true, false);
  const int32_t bos = tokenizer.add_bos() ? tokenizer.special().bos : -1;
  return perplexity_chunks(tokens, n_ctx, bos);
}

struct KlArgs {
  std::string base_path;  // --kl-divergence-base
  bool compare = false;   // --kl-divergence
};

// --kl-divergence: the model against a base file.
int run_kl(Model& model, const std::string& model_path, const std::string& text_path, int n_ctx_flag, int n_batch,
           bool json, const KlArgs& kl) {
  const auto t0 = std::chrono::steady_clock::now();
  auto base = KlBaseReader::open(kl.base_path);
  if (!base) return fail(base.error().message);
  const int n_vocab = model.hparams().n_vocab;
  if (base->n_vocab() != n_vocab)
    return fail(fmt::format("{}: the base model has a vocabulary of {} tokens, {} has {}", kl.base_path,
                            base->n_vocab(), model_path, n_vocab));
  const int n_ctx = base->n_ctx();
  if (n_batch == 0) n_batch = n_ctx;
  if (n_ctx_flag != 0 && n_ctx_flag != n_ctx)
    return fail(fmt::format("{}: the base was computed with --ctx {}, not {}", kl.base_path, n_ctx, n_ctx_flag));
  if (!text_path.empty()) {
    auto tokenizer = tok::Tokenizer::from_gguf(model.file());
    if (!tokenizer) return fail(tokenizer.error().message);
    auto chunks = text_chunks(*tokenizer, text_path, n_ctx);
    if (!chunks) return fail(chunks.error().message);
    const auto base_tokens = base->tokens();
    if (chunks->size() != base_tokens.size())
      return fail(fmt::format("{}: {} tokens in whole chunks, but the base file has {} ({})", text_path,
                              chunks->size(), base_tokens.size(), kl.base_path));
    const auto diff = std::mismatch(chunks->begin(), chunks->end(), base_tokens.begin());
    if (diff.first != chunks->end())
      return fail(fmt::format("{}: token {} is {} with {}'s tokenizer, but {} in the base file {}", text_path,
                              diff.first - chunks->begin(), *diff.first, model_path, *diff.second, kl.base_path));
  }
  KlAccumulator acc;
  size_t row = 0;
  auto result = ag::perplexity(
      model, base->tokens(), n_ctx, n_batch, -1,
      [&](size_t chunk, double ppl) {
        if (!json) std::fprintf(stderr, "[%zu]%.4f,", chunk + 1, ppl);
      },
      [&](std::span<const float> logits, int32_t next) -> Status {
        acc.add(base->row(row++), logits, next);
        return {};
      });
  if (!result) return fail(kl.base_path + ": " + result.error().message);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const KlSummary s = acc.summary();
  if (json) {
    const nlohmann::ordered_json out = {
        {"kld_mean", s.mean},         {"kld_mean_error", s.mean_error}, {"kld_median", s.median},
        {"kld_p90", s.p90},           {"kld_p99", s.p99},               {"kld_max", s.max},
        {"same_top", s.same_top},     {"same_top_error", s.same_top_error},
        {"ppl", s.ppl},               {"ppl_base", s.ppl_base},         {"mean_delta_p", s.mean_dp},
        {"rms_delta_p", s.rms_dp},    {"n_ctx", n_ctx},                 {"n_chunks", result->n_chunks},
        {"n_scored", s.n_rows},       {"seconds", seconds}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::fprintf(stderr, "\n%zu chunks of %d tokens, %zu scored, %.2f s\n", result->n_chunks, n_ctx, s.n_rows, seconds);
  std::printf("PPL(base)         = %.4f\n", s.ppl_base);
  std::printf("PPL(model)        = %.4f\n", s.ppl);
  std::printf("PPL ratio         = %.6f\n", s.ppl / s.ppl_base);
  std::printf("Mean KLD          = %.6f +/- %.6f\n", s.mean, s.mean_error);
  std::printf("Median KLD        = %.6f\n", s.median);
  std::printf("90%% KLD           = %.6f\n", s.p90);
  std::printf("99%% KLD           = %.6f\n", s.p99);
  std::printf("Maximum KLD       = %.6f\n", s.max);
  std::printf("Mean delta p      = %.4f %%\n", 100.0 * s.mean_dp);
  std::printf("RMS delta p       = %.4f %%\n", 100.0 * s.rms_dp);
  std::printf("Same top token    = %.3f +/- %.3f %%\n", 100.0 * s.same_top, 100.0 * s.same_top_error);
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{"Perplexity of a model on a text file (llama.cpp's method)", "autoglm perplexity"};
  std::string model_path, text_path;
  int n_ctx = 0, n_batch = 0, n_threads = 0;
  bool json = false;
  KlArgs kl;
  app.add_option("-m,--model", model_path, "GGUF model file")->required();
  app.add_option("-f,--file", text_path, "text file to score");
  app.add_option("--ctx", n_ctx, "tokens per chunk (default 512; with --kl-divergence: the base file's)")
      ->check(CLI::Range(4, 1 << 20));
  app.add_option("--kl-divergence-base", kl.base_path,
                 "file of the base model's log-probabilities: written by a normal run, read with --kl-divergence");
  app.add_flag("--kl-divergence", kl.compare,
               "compare the model with the --kl-divergence-base file (KL divergence, same top token, PPL)");
  app.add_option("--batch", n_batch, "tokens per forward step (default: --ctx)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("-t,--threads", n_threads, "threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_flag("--json", json, "print a JSON object (last line) instead of PPL = X");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (n_threads == 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (kl.compare && kl.base_path.empty()) return fail("--kl-divergence needs --kl-divergence-base FILE");
  if (!kl.compare && text_path.empty()) return fail("give the text to score with -f FILE");

  std::string text;
  if (!kl.compare) {  // read before the model loads: a wrong path fails fast
    auto t = read_text(text_path);
    if (!t) return fail(t.error().message);
    text = std::move(*t);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto model = Model::load(model_path, {.n_threads = n_threads});
  if (!model) return fail(model.error().message);
  if (kl.compare) return run_kl(**model, model_path, text_path, n_ctx, n_batch, json, kl);

  if (n_ctx == 0) n_ctx = 512;
  if (n_batch == 0) n_batch = n_ctx;
  auto tokenizer = tok::Tokenizer::from_gguf((*model)->file());
  if (!tokenizer) return fail(tokenizer.error().message);
  const std::vector<int32_t> tokens = tokenizer->encode(text, true, false);
  const int32_t bos = tokenizer->add_bos() ? tokenizer->special().bos : -1;
  PerplexityRowFn save_row;
  KlBaseWriter writer;
  if (!kl.base_path.empty()) {
    if (static_cast<int64_t>(tokens.size()) < 2 * static_cast<int64_t>(n_ctx))
      return fail(fmt::format("{}: {} tokens, but perplexity with a context of {} needs at least {}", text_path,
                              tokens.size(), n_ctx, 2 * n_ctx));
    auto w = KlBaseWriter::create(kl.base_path, (*model)->hparams().n_vocab, n_ctx,
                                  perplexity_chunks(tokens, n_ctx, bos));
    if (!w) return fail(w.error().message);
    writer = std::move(*w);
    save_row = [&](std::span<const float> logits, int32_t next) { return writer.add_row(logits, next); };
  }
  auto result = ag::perplexity(
      **model, tokens, n_ctx, n_batch, bos,
      [&](size_t chunk, double ppl) {
        if (!json) std::fprintf(stderr, "[%zu]%.4f,", chunk + 1, ppl);
      },
      save_row);
  if (!result) return fail(text_path + ": " + result.error().message);
  if (!kl.base_path.empty()) {
    if (Status st = writer.finish(); !st.ok()) return fail(st.error().message);
    if (!json) std::fprintf(stderr, "\nsaved the base log-probabilities to %s", kl.base_path.c_str());
  }
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
