// `autoglm pull REPO/FILE [--sha256 HEX] [--revision R] [--quiet]`
// Downloads a GGUF from a Hugging Face-style server (https://huggingface.co/REPO/resolve/main/FILE,
// or $AUTOGLM_HF_ENDPOINT) into $AUTOGLM_MODELS (default ~/.cache/autoglm), resuming partial
// downloads, verifying SHA-256; prints the local path. `-m hf://REPO/FILE` elsewhere does the same.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "pull/pull.h"

namespace ag::cli {
namespace {

int run(int argc, char** argv) {
  CLI::App app{"Download a model file into the local cache (Hugging Face-style URL)",
               "autoglm pull"};
  std::string spec;
  pull::PullOptions opts;
  app.add_option("spec", spec, "REPO/FILE, e.g. Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/"
                               "qwen2.5-coder-0.5b-instruct-q8_0.gguf (hf:// prefix allowed)")
      ->required();
  app.add_option("--sha256", opts.sha256, "expected SHA-256 (default: the server's X-Linked-Etag)");
  app.add_option("--revision", opts.revision, "branch, tag or commit (default: main)");
  app.add_option("--cache-dir", opts.cache_dir, "cache directory (default: $AUTOGLM_MODELS or "
                                                "~/.cache/autoglm)");
  app.add_flag("-q,--quiet", opts.quiet, "no progress bar or warnings");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (spec.starts_with("hf://")) spec.erase(0, 5);
  auto rf = pull::parse_repo_file(spec);
  if (!rf) {
    std::fprintf(stderr, "autoglm: %s\n", rf.error().message.c_str());
    return 1;
  }
  auto path = pull::pull(*rf, opts);
  if (!path) {
    std::fprintf(stderr, "autoglm: %s\n", path.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", path->c_str());
  return 0;
}

const CommandRegistration kRegistration{
    {"pull", "download a model file (REPO/FILE from a Hugging Face-style server) into the cache",
     run}};

}  // namespace
}  // namespace ag::cli
