#pragma once
// `autoglm pull REPO/FILE`: downloads a file from a Hugging Face-style server
// (ENDPOINT/REPO/resolve/main/FILE) into a cache directory, resuming a partial download with an
// HTTP Range request, and verifying its SHA-256 before it becomes visible under its final name.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ag::pull {

// $AUTOGLM_MODELS, else $HOME/.cache/autoglm (else ./.cache/autoglm without HOME).
std::string models_cache_dir();
// $AUTOGLM_HF_ENDPOINT, else https://huggingface.co (no trailing slash).
std::string hf_endpoint();

struct RepoFile {
  std::string repo;  // "owner/name"
  std::string file;  // path inside the repository, may contain '/'
};
// "owner/name/path/to/file.gguf"; rejects empty, ".", ".." and absolute components.
Result<RepoFile> parse_repo_file(std::string_view spec);

struct PullOptions {
  std::string endpoint;   // "" = hf_endpoint()
  std::string cache_dir;  // "" = models_cache_dir()
  std::string revision = "main";
  // Expected SHA-256 (hex). "" = the server's X-Linked-Etag / ETag when that is a SHA-256 (as
  // Hugging Face sends for LFS files); with neither the file is kept unverified, with a warning.
  std::string sha256;
  int max_attempts = 4;      // a dropped connection resumes from the .part file this many times
  bool progress_bar = true;  // on stderr, and only when stderr is a terminal
  bool quiet = false;        // no warnings or progress on stderr at all
  // Called as bytes arrive (bytes of the file so far, total or 0 when unknown); for tests.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
};

// Where REPO/FILE lives in the cache: CACHE/REPO/FILE (the download goes to that path + ".part").
std::string cache_path(const RepoFile& rf, const std::string& cache_dir);

// Downloads (or finds in the cache) REPO/FILE; returns the local path. A cached file is reused
// without a request unless opts.sha256 is given and differs, in which case it is fetched again.
// On a checksum mismatch nothing is left in the cache and the error gives both digests.
Result<std::string> pull(const RepoFile& rf, const PullOptions& opts = {});

}  // namespace ag::pull
