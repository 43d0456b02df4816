#include "model/kl_divergence.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace ag {

namespace {

constexpr char kMagic[8] = {'A', 'G', 'K', 'L', 'B', 'A', 'S', 'E'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 32;     // magic + 6 x u32
constexpr size_t kRowHeaderBytes = 12;  // lo, step, target
constexpr uint32_t kMaxCode = 65535;    // codes 1..kMaxCode hold the window; 0 = below it
constexpr int kMaxVocab = 1 << 24;
constexpr int kMaxCtx = 1 << 20;

size_t row_bytes(int n_vocab) {
  const auto n = static_cast<size_t>(n_vocab);
  return kRowHeaderBytes + 2 * (n + (n & 1));
}

// log softmax(logits) in double: lp[i] = x[i] - max - log(sum(exp(x - max))).
void log_softmax(std::span<const float> logits, std::vector<double>& lp) {
  lp.resize(logits.size());
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  const double norm = max + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) lp[i] = static_cast<double>(logits[i]) - norm;
}

// The grid index of a log-probability in a row's window. Base rows and the model's rows go
// through this one expression, so equal log-probabilities give equal indices.
double grid_index(double lp, float lo, float step) {
  return std::nearbyint((lp - static_cast<double>(lo)) / static_cast<double>(step));
}

double grid_value(double index, float lo, float step) {
  return static_cast<double>(lo) + index * static_cast<double>(step);
}

void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
uint32_t get_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
float get_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

// --- writer -------------------------------------------------------------------------------------

KlBaseWriter::KlBaseWriter(KlBaseWriter&& o) noexcept
    : f_(std::exchange(o.f_, nullptr)),
      path_(std::move(o.path_)),
      n_vocab_(o.n_vocab_),
      n_rows_expected_(o.n_rows_expected_),
      n_rows_(o.n_rows_),
      buf_(std::move(o.buf_)) {}

KlBaseWriter& KlBaseWriter::operator=(KlBaseWriter&& o) noexcept {
  if (this != &o) {
    if (f_) {
      std::fclose(f_);
      std::remove(path_.c_str());
    }
    f_ = std::exchange(o.f_, nullptr);
    path_ = std::move(o.path_);
    n_vocab_ = o.n_vocab_;
    n_rows_expected_ = o.n_rows_expected_;
    n_rows_ = o.n_rows_;
    buf_ = std::move(o.buf_);
  }
  return *this;
}

KlBaseWriter::~KlBaseWriter() {
  if (f_) {
    std::fclose(f_);
    std::remove(path_.c_str());
  }
}

Result<KlBaseWriter> KlBaseWriter::create(const std::string& path, int n_vocab, int n_ctx,
                                          std::span<const int32_t> chunks) {
  if (n_vocab < 1 || n_vocab > kMaxVocab) return error("{}: vocabulary size {} out of range", path, n_vocab);
  if (n_ctx < 4 || n_ctx > kMaxCtx) return error("{}: context {} out of range", path, n_ctx);
  if (chunks.empty() || chunks.size() % static_cast<size_t>(n_ctx) != 0)
    return error("{}: {} tokens are not whole chunks of {}", path, chunks.size(), n_ctx);
  KlBaseWriter w;
  w.f_ = std::fopen(path.c_str(), "wb");
  if (!w.f_) return error("{}: cannot open for writing: {}", path, std::strerror(errno));
  w.path_ = path;
  w.n_vocab_ = n_vocab;
  const size_t n_chunks = chunks.size() / static_cast<size_t>(n_ctx);
  const int first = n_ctx / 2;
  w.n_rows_expected_ = n_chunks * static_cast<size_t>(n_ctx - 1 - first);
  w.buf_.resize(row_bytes(n_vocab) / 2);

  uint8_t header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, 8);
  put_u32(header + 8, kVersion);
  put_u32(header + 12, static_cast<uint32_t>(n_vocab));
  put_u32(header + 16, static_cast<uint32_t>(n_ctx));
  put_u32(header + 20, static_cast<uint32_t>(n_chunks));
  put_u32(header + 24, static_cast<uint32_t>(first));
  if (std::fwrite(header, 1, kHeaderBytes, w.f_) != kHeaderBytes ||
      std::fwrite(chunks.data(), sizeof(int32_t), chunks.size(), w.f_) != chunks.size())
    return error("{}: write failed: {}", path, std::strerror(errno));
  return w;
}

Status KlBaseWriter::add_row(std::span<const float> logits, int32_t target) {
  if (!f_) return error("{}: the file is closed", path_);
  if (logits.size() != static_cast<size_t>(n_vocab_))
    return error("{}: a row of {} logits, but the vocabulary has {}", path_, logits.size(), n_vocab_);
  if (target < 0 || target >= n_vocab_) return error("{}: target token {} out of range", path_, target);
  if (n_rows_ == n_rows_expected_) return error("{}: more rows than the header announces", path_);
  for (float x : logits)
    if (!std::isfinite(x)) return error("{}: row {} has a non-finite logit", path_, n_rows_);

  std::vector<double> lp;
  log_softmax(logits, lp);
  const double top = *std::max_element(lp.begin(), lp.end());
  const double bottom = std::max(*std::min_element(lp.begin(), lp.end()), top - kKlWindowNats);
  const auto lo = static_cast<float>(bottom);
  // The top must land on a code that fits (index <= kMaxCode - 1): float rounding of lo and step
  // can push it one past, so the step grows by an ulp until it fits.
  auto step = static_cast<float>(std::max(top - static_cast<double>(lo), 1e-6) / (kMaxCode - 1));
  while (grid_index(top, lo, step) > kMaxCode - 1) step = std::nextafter(step, 1.0f);

  const float target_lp = static_cast<float>(lp[static_cast<size_t>(target)]);
  std::memcpy(buf_.data(), &lo, 4);
  std::memcpy(buf_.data() + 2, &step, 4);
  std::memcpy(buf_.data() + 4, &target_lp, 4);
  uint16_t* codes = buf_.data() + kRowHeaderBytes / 2;
  for (size_t i = 0; i < lp.size(); ++i) {
    const double k = grid_index(lp[i], lo, step);
    codes[i] = k < 0 ? uint16_t{0} : static_cast<uint16_t>(k + 1);
  }
  if (lp.size() & 1) codes[lp.size()] = 0;
  if (std::fwrite(buf_.data(), 2, buf_.size(), f_) != buf_.size())
    return error("{}: write failed: {}", path_, std::strerror(errno));
  ++n_rows_;
  return {};
}

Status KlBaseWriter::finish() {
  if (!f_) return error("{}: the file is closed", path_);
  if (n_rows_ != n_rows_expected_)
    return error("{}: {} rows written, the header announces {}", path_, n_rows_, n_rows_expected_);
  const bool ok = std::fflush(f_) == 0 && !std::ferror(f_);
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok || !closed) {
    std::remove(path_.c_str());
    return error("{}: write failed", path_);
  }
  return {};
}

// --- reader -------------------------------------------------------------------------------------

Result<KlBaseReader> KlBaseReader::open(const std::string& path) {
  KlBaseReader r;
  AG_TRY(r.map_, MappedFile::open(path));
  const uint8_t* d = r.map_.data();
  const size_t size = r.map_.size();
  if (size < kHeaderBytes) return error("{}: {} bytes, too short for a KL base file header", path, size);
  if (std::memcmp(d, kMagic, 8) != 0) return error("{}: not a KL base file (bad magic)", path);
  if (get_u32(d + 8) != kVersion) return error("{}: KL base file version {}, expected {}", path, get_u32(d + 8), kVersion);
  const uint32_t n_vocab = get_u32(d + 12), n_ctx = get_u32(d + 16), n_chunks = get_u32(d + 20),
                 first = get_u32(d + 24);
  if (n_vocab < 1 || n_vocab > static_cast<uint32_t>(kMaxVocab)) return error("{}: n_vocab {} out of range", path, n_vocab);
  if (n_ctx < 4 || n_ctx > static_cast<uint32_t>(kMaxCtx)) return error("{}: n_ctx {} out of range", path, n_ctx);
  if (first != n_ctx / 2) return error("{}: first scored position {} is not n_ctx / 2 = {}", path, first, n_ctx / 2);
  if (n_chunks < 1) return error("{}: no chunks", path);
  const size_t token_bytes_per_chunk = 4 * static_cast<size_t>(n_ctx);
  if (n_chunks > (size - kHeaderBytes) / token_bytes_per_chunk)
    return error("{}: truncated: {} chunks of {} tokens do not fit in {} bytes", path, n_chunks, n_ctx, size);
  const size_t n_tokens = static_cast<size_t>(n_chunks) * n_ctx;
  const size_t rows_offset = kHeaderBytes + 4 * n_tokens;
  const size_t n_rows = static_cast<size_t>(n_chunks) * (n_ctx - 1 - first);
  const size_t rb = row_bytes(static_cast<int>(n_vocab));
  if (n_rows > (size - rows_offset) / rb || rows_offset + n_rows * rb != size)
    return error("{}: {} bytes, but the header announces {} rows of {} log-probabilities (truncated or corrupt)",
                 path, size, n_rows, n_vocab);
  r.tokens_.resize(n_tokens);
  std::memcpy(r.tokens_.data(), d + kHeaderBytes, 4 * n_tokens);
  for (size_t i = 0; i < n_tokens; ++i)
    if (r.tokens_[i] < 0 || r.tokens_[i] >= static_cast<int32_t>(n_vocab))
      return error("{}: token {} is {}, outside the vocabulary of {}", path, i, r.tokens_[i], n_vocab);
  for (size_t i = 0; i < n_rows; ++i) {
    const uint8_t* p = d + rows_offset + i * rb;
    const float lo = get_f32(p), step = get_f32(p + 4), target = get_f32(p + 8);
    if (!std::isfinite(lo) || !std::isfinite(step) || !(step > 0) || !std::isfinite(target) || target > 1e-3f)
      return error("{}: row {} has an invalid header (lo {}, step {}, target log-probability {})", path, i, lo, step,
                   target);
  }
  r.n_vocab_ = static_cast<int>(n_vocab);
  r.n_ctx_ = static_cast<int>(n_ctx);
  r.first_ = static_cast<int>(first);
  r.n_chunks_ = n_chunks;
  r.n_rows_ = n_rows;
  r.rows_offset_ = rows_offset;
  r.row_bytes_ = rb;
  return r;
}

KlBaseRow KlBaseReader::row(size_t i) const {
  const uint8_t* p = map_.data() + rows_offset_ + i * row_bytes_;
  return {get_f32(p), get_f32(p + 4), get_f32(p + 8), p + kRowHeaderBytes};
}

// --- comparison ---------------------------------------------------------------------------------

void KlAccumulator::add(const KlBaseRow& base, std::span<const float> logits, int32_t target) {
  log_softmax(logits, lp_);
  double kl = 0.0;
  size_t base_top = 0, model_top = 0;
  uint16_t base_top_code = 0;
  double model_top_index = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < lp_.size(); ++i) {
    const double k_model = grid_index(lp_[i], base.lo, base.step);
    if (k_model > model_top_index) {
      model_top_index = k_model;
      model_top = i;
    }
    const uint16_t c = base.code(i);
    if (c > base_top_code) {
      base_top_code = c;
      base_top = i;
    }
    if (c == 0) continue;
    const double b = grid_value(c - 1, base.lo, base.step);
    kl += std::exp(b) * (b - grid_value(k_model, base.lo, base.step));
  }
  kl_.push_back(kl);
  n_same_top_ += base_top == model_top;
  const double lp_target = lp_[static_cast<size_t>(target)];
  sum_nll_ -= lp_target;
  sum_nll_base_ -= base.target_logprob;
  const double dp = std::exp(lp_target) - std::exp(static_cast<double>(base.target_logprob));
  sum_dp_ += dp;
  sum_dp2_ += dp * dp;
}

KlSummary KlAccumulator::summary() const {
  KlSummary s;
  s.n_rows = kl_.size();
  if (kl_.empty()) return s;
  const auto n = static_cast<double>(kl_.size());
  double sum = 0.0, sum2 = 0.0;
  for (double v : kl_) {
    sum += v;
    sum2 += v * v;
  }
  s.mean = sum / n;
  s.mean_error = kl_.size() > 1 ? std::sqrt(std::max(0.0, sum2 / n - s.mean * s.mean) / (n - 1)) : 0.0;
  std::vector<double> sorted = kl_;
  std::sort(sorted.begin(), sorted.end());
  s.median = percentile(sorted, 0.5);
  s.p90 = percentile(sorted, 0.9);
  s.p99 = percentile(sorted, 0.99);
  s.max = sorted.back();
  s.same_top = static_cast<double>(n_same_top_) / n;
  s.same_top_error = kl_.size() > 1 ? std::sqrt(s.same_top * (1 - s.same_top) / (n - 1)) : 0.0;
  s.ppl = std::exp(sum_nll_ / n);
  s.ppl_base = std::exp(sum_nll_base_ / n);
  s.mean_dp = sum_dp_ / n;
  s.rms_dp = std::sqrt(sum_dp2_ / n);
  return s;
}

}  // namespace ag
