#include "pull/pull.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include "pull/sha256.h"

namespace ag::pull {

namespace fs = std::filesystem;

namespace {

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::move(fallback);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ETag values come quoted and sometimes weak: W/"abc" -> abc.
std::string strip_etag(std::string v) {
  if (v.starts_with("W/")) v.erase(0, 2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

// Percent-encodes a path, keeping '/' and RFC 3986 unreserved characters.
std::string encode_path(std::string_view p) {
  std::string out;
  for (const char ch : p) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += ch;
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One transfer's state, shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  FILE* out = nullptr;
  uint64_t offset = 0;     // bytes of the .part file before this request
  uint64_t written = 0;    // bytes written by this request
  uint64_t total = 0;      // size of the whole file when known
  long status = 0;         // HTTP status of the final response
  bool started = false;    // first body byte seen (status checked)
  bool restart = false;    // server ignored Range: the .part file was truncated
  std::string etag, linked_etag, error;
  const PullOptions* opts = nullptr;
  bool bar = false;
  std::chrono::steady_clock::time_point t0, last_draw;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->etag.clear();  // a new response (after a redirect): its headers replace the last ones
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  const std::string name = lower(std::string(line.substr(0, colon)));
  std::string value(line.substr(colon + 1));
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
  // Hugging Face puts the LFS object's SHA-256 in X-Linked-Etag on the redirect response.
  if (name == "x-linked-etag") t->linked_etag = strip_etag(value);
  if (name == "etag") t->etag = strip_etag(value);
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->started) {
    t->started = true;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->status == 200 && t->offset > 0) {
      // The server sent the whole file instead of the range: start the .part file over.
      if (std::fflush(t->out) != 0 || ftruncate(fileno(t->out), 0) != 0 ||
          std::fseek(t->out, 0, SEEK_SET) != 0) {
        t->error = fmt::format("cannot truncate the partial file: {}", std::strerror(errno));
        return 0;
      }
      t->offset = 0;
      t->restart = true;
    } else if (t->status != 200 && t->status != 206) {
      return size * n;  // an error page: not written, reported after the transfer
    }
  }
  if (t->status != 200 && t->status != 206) return size * n;
  if (std::fwrite(data, 1, size * n, t->out) != size * n) {
    t->error = fmt::format("write error: {}", std::strerror(errno));
    return 0;
  }
  t->written += size * n;
  return size * n;
}

void draw_bar(Transfer& t, bool final) {
  const uint64_t done = t.offset + t.written;
  if (t.opts->on_progress) t.opts->on_progress(done, t.total);
  if (!t.bar) return;
  const auto now = std::chrono::steady_clock::now();
  if (!final && now - t.last_draw < std::chrono::milliseconds(100)) return;
  t.last_draw = now;
  const double secs = std::chrono::duration<double>(now - t.t0).count();
  const double rate = secs > 0 ? static_cast<double>(t.written) / secs : 0.0;
  constexpr int kWidth = 30;
  if (t.total > 0) {
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(t.total));
    const int fill = static_cast<int>(frac * kWidth);
    std::fprintf(stderr, "\r[%s%s] %5.1f%% %.1f/%.1f MB %.1f MB/s ",
                 std::string(static_cast<size_t>(fill), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - fill), '.').c_str(), 100.0 * frac,
                 static_cast<double>(done) / 1e6, static_cast<double>(t.total) / 1e6, rate / 1e6);
  } else {
    std::fprintf(stderr, "\r%.1f MB %.1f MB/s ", static_cast<double>(done) / 1e6, rate / 1e6);
  }
  if (final) std::fputc('\n', stderr);
}

int on_xfer(void* user, curl_off_t dl_total, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (dl_total > 0 && (t->status == 206 || t->status == 200 || !t->started))
    t->total = static_cast<uint64_t>(dl_total) + t->offset;
  draw_bar(*t, false);
  return 0;
}

// One GET of `url` appending to `part` from its current size. Ok when the response was a
// success (200/206, or 416 for a .part that is already whole); the transfer may still have
// ended early, which the caller sees as a short file (curl_code != CURLE_OK).
struct Attempt {
  CURLcode curl_code = CURLE_OK;
  long status = 0;
  std::string etag, linked_etag, curl_error;
};

Result<Attempt> get_once(const std::string& url, const std::string& part, const PullOptions& opts) {
  std::error_code ec;
  const uint64_t have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(part.c_str(), "ab"), &std::fclose);
  if (!out) return ag::error("{}: cannot open for writing: {}", part, std::strerror(errno));
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return ag::error("cannot initialise libcurl");
  Transfer t;
  t.curl = curl.get();
  t.out = out.get();
  t.offset = have;
  t.opts = &opts;
  t.bar = opts.progress_bar && !opts.quiet && isatty(STDERR_FILENO) != 0;
  t.t0 = t.last_draw = std::chrono::steady_clock::now();
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_slist* headers = nullptr;
  const std::string token = env_or("HF_TOKEN", "");
  if (!token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(headers, &curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "autoglm-pull/0.1");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &on_xfer);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled connection (under 1 byte/s for 60 s) counts as dropped and is resumed.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  if (headers != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  // CURLOPT_RANGE rather than RESUME_FROM: a server that ignores the range (200, whole file) is
  // then accepted, and on_body starts the .part file over.
  const std::string range = std::to_string(have) + "-";
  if (have > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  Attempt a;
  a.curl_code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  if (t.bar && t.written > 0) draw_bar(t, true);
  if (std::fflush(out.get()) != 0)
    return ag::error("{}: write error: {}", part, std::strerror(errno));
  if (!t.error.empty()) return ag::error("{}: {}", part, t.error);
  a.etag = t.etag;
  a.linked_etag = t.linked_etag;
  a.curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(a.curl_code);
  return a;
}

}  // namespace

std::string models_cache_dir() {
  if (const char* v = std::getenv("AUTOGLM_MODELS"); v != nullptr && *v != '\0') return v;
  const std::string home = env_or("HOME", ".");
  return home + "/.cache/autoglm";
}

std::string hf_endpoint() {
  std::string e = env_or("AUTOGLM_HF_ENDPOINT", "https://huggingface.co");
  while (e.size() > 1 && e.back() == '/') e.pop_back();
  return e;
}

Result<RepoFile> parse_repo_file(std::string_view spec) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t slash = std::min(spec.find('/', start), spec.size());
    parts.emplace_back(spec.substr(start, slash - start));
    start = slash + 1;
  }
  if (parts.size() < 3)
    return ag::error("'{}' is not REPO/FILE (owner/name/file, e.g. "
                     "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q8_0.gguf)",
                     spec);
  for (const std::string& p : parts) {
    if (p.empty() || p == "." || p == "..")
      return ag::error("'{}': empty, '.' or '..' path components are not allowed", spec);
    for (const char c : p)
      if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == 0x7f)
        return ag::error("'{}': control characters and '\\' are not allowed", spec);
  }
  RepoFile rf;
  rf.repo = parts[0] + "/" + parts[1];
  rf.file = std::string(spec.substr(rf.repo.size() + 1));
  return rf;
}

std::string cache_path(const RepoFile& rf, const std::string& cache_dir) {
  return (fs::path(cache_dir) / rf.repo / rf.file).string();
}

Result<std::string> pull(const RepoFile& rf, const PullOptions& opts) {
  global_init();
  const std::string dest = cache_path(rf, opts.cache_dir.empty() ? models_cache_dir() : opts.cache_dir);
  const std::string part = dest + ".part";
  if (!opts.sha256.empty() && !is_sha256_hex(opts.sha256))
    return ag::error("--sha256 '{}' is not 64 hex digits", opts.sha256);
  const std::string want = lower(opts.sha256);
  std::error_code ec;
  if (fs::exists(dest, ec)) {
    if (want.empty()) return dest;
    AG_TRY(const std::string have, sha256_file(dest));
    if (have == want) return dest;
    if (!opts.quiet)
      std::fprintf(stderr, "autoglm: %s: cached copy has sha256 %s, not %s; downloading again\n",
                   dest.c_str(), have.c_str(), want.c_str());
    fs::remove(dest, ec);
  }
  fs::create_directories(fs::path(dest).parent_path(), ec);
  if (ec) return ag::error("{}: cannot create directory: {}", fs::path(dest).parent_path().string(),
                           ec.message());

  const std::string url = (opts.endpoint.empty() ? hf_endpoint() : opts.endpoint) + "/" +
                          encode_path(rf.repo) + "/resolve/" + encode_path(opts.revision) + "/" +
                          encode_path(rf.file);
  std::string server_sha;
  for (int attempt = 1;; ++attempt) {
    AG_TRY(const Attempt a, get_once(url, part, opts));
    if (!a.linked_etag.empty() && is_sha256_hex(a.linked_etag)) {
      server_sha = lower(a.linked_etag);
    } else if (server_sha.empty() && is_sha256_hex(a.etag)) {
      server_sha = lower(a.etag);
    }
    if (a.status == 416) break;  // the range starts at the end: the .part file is whole
    if (a.status != 0 && a.status != 200 && a.status != 206) {
      fs::remove(part, ec);
      return ag::error("{}: HTTP {}", url, a.status);
    }
    if (a.curl_code == CURLE_OK) break;
    if (attempt >= opts.max_attempts) {
      return ag::error("{}: {} (after {} attempts; {} is kept and the next pull resumes it)", url,
                       a.curl_error, attempt, part);
    }
    if (!opts.quiet)
      std::fprintf(stderr, "autoglm: %s: %s; resuming (attempt %d of %d)\n", url.c_str(),
                   a.curl_error.c_str(), attempt + 1, opts.max_attempts);
  }

  const std::string expected = want.empty() ? server_sha : want;
  AG_TRY(const std::string got, sha256_file(part));
  if (!expected.empty() && got != expected) {
    fs::remove(part, ec);
    return ag::error("{}: sha256 mismatch: expected {}, got {}; the download was deleted", url,
                     expected, got);
  }
  if (expected.empty() && !opts.quiet)
    std::fprintf(stderr, "autoglm: warning: %s: no sha256 to verify against (none given, and the "
                 "server's ETag is not one); sha256 is %s\n", url.c_str(), got.c_str());
  fs::rename(part, dest, ec);
  if (ec) return ag::error("{}: cannot rename to {}: {}", part, dest, ec.message());
  return dest;
}

}  // namespace ag::pull
