#include "tensor/quantize_model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/half.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "tensor/type_traits.h"

namespace ag::quant {

namespace {

// GGML_QNT_VERSION: the version of the quantized block formats, written as
// general.quantization_version.
constexpr uint32_t kQuantizationVersion = 2;

// Rows per work item: enough elements (~64k) to amortise scheduling, small enough to balance.
int64_t rows_per_chunk(int64_t n_per_row) {
  return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, n_per_row));
}

bool is_float_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

ModelFacts model_facts(const gguf::File& f) {
  ModelFacts m;
  if (const gguf::Value* v = f.find("general.architecture"); v && v->as_string()) {
    m.arch = *v->as_string();
  }
  // Per-layer arrays (some models vary heads by layer) count by their first entry.
  auto int_key = [&](const std::string& key) -> std::optional<int64_t> {
    const gguf::Value* v = f.find(m.arch + "." + key);
    if (v == nullptr) return std::nullopt;
    if (const auto* a = v->as_array(); a && !a->items.empty()) return a->items[0].as_int();
    return v->as_int();
  };
  m.n_layer = int_key("block_count").value_or(0);
  if (m.n_layer == 0) {  // no metadata: count the blocks
    for (const auto& t : f.tensors()) {
      int layer = -1;
      if (std::sscanf(t.name.c_str(), "blk.%d.", &layer) == 1) {
        m.n_layer = std::max<int64_t>(m.n_layer, layer + 1);
      }
    }
  }
  m.n_head = int_key("attention.head_count").value_or(0);
  m.n_head_kv = int_key("attention.head_count_kv").value_or(m.n_head);
  m.n_expert = int_key("expert_count").value_or(0);
  return m;
}

// A one-line progress bar on a terminal (redrawn in place); nothing when the log is a file, where
// the per-tensor lines already say how far the run is.
class Progress {
 public:
  Progress(std::FILE* log, uint64_t total) : log_(log), total_(std::max<uint64_t>(1, total)) {
    tty_ = log_ != nullptr && isatty(fileno(log_));
  }
  void draw(uint64_t done, const std::string& what) {
    if (!tty_) return;
    constexpr int kWidth = 30;
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<size_t>(filled), '=');
    bar.resize(kWidth, ' ');
    std::fprintf(log_, "\r\033[K[%s] %5.1f%% %s", bar.c_str(), 100.0 * frac, what.c_str());
    std::fflush(log_);
  }
  // Prints a finished line above the bar.
  void line(const std::string& text) {
    if (log_ == nullptr) return;
    std::fprintf(log_, "%s%s\n", tty_ ? "\r\033[K" : "", text.c_str());
    std::fflush(log_);
  }

 private:
  std::FILE* log_;
  uint64_t total_;
  bool tty_ = false;
};

struct Job {
  const gguf::TensorInfo* in;
  TypeChoice choice;
};

// Converts one tensor into `out` (sized for choice.type), filling the report's error fields.
// Returns an error message, empty on success.
std::string convert_tensor(const Job& job, std::span<uint8_t> out, ThreadPool& pool,
                           Progress& progress, uint64_t elements_before, TensorReport& report) {
  const gguf::TensorInfo& t = *job.in;
  const DType from = t.type, to = job.choice.type;
  const int64_t n_per_row = static_cast<int64_t>(t.shape[0]);
  const int64_t n_rows = static_cast<int64_t>(t.n_elements) / n_per_row;
  const uint64_t in_row_bytes = row_bytes(from, static_cast<uint64_t>(n_per_row));
  const uint64_t out_row_bytes = row_bytes(to, static_cast<uint64_t>(n_per_row));
  const int64_t chunk = rows_per_chunk(n_per_row);
  const int64_t n_chunks = (n_rows + chunk - 1) / chunk;

  std::atomic<int64_t> next_chunk{0};
  std::atomic<int64_t> rows_done{0};
  std::mutex mu;
  std::string first_error;
  double sum_err2 = 0, sum_x2 = 0;

  pool.run([&](int ith, int) {
    std::vector<float> src(static_cast<size_t>(chunk * n_per_row));
    std::vector<float> back(static_cast<size_t>(chunk * n_per_row));
    double err2 = 0, x2 = 0;
    std::string err;
    for (int64_t c = next_chunk++; c < n_chunks && err.empty(); c = next_chunk++) {
      const int64_t r0 = c * chunk;
      const int64_t nr = std::min(chunk, n_rows - r0);
      const int64_t n = nr * n_per_row;
      const uint8_t* in = t.data + static_cast<uint64_t>(r0) * in_row_bytes;
      uint8_t* dst = out.data() + static_cast<uint64_t>(r0) * out_row_bytes;
      // 1. Input rows as floats.
      switch (from) {
        case DType::F32:
          std::memcpy(src.data(), in, static_cast<size_t>(n) * 4);
          break;
        case DType::F16:
          for (int64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, in + 2 * i, 2);
            src[static_cast<size_t>(i)] = f16_to_f32(h);
          }
          break;
        case DType::BF16:
          for (int64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, in + 2 * i, 2);
            src[static_cast<size_t>(i)] = bf16_to_f32(h);
          }
          break;
        default:
          type_traits(from).to_float(in, src.data(), n);
          break;
      }
      for (int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(src[static_cast<size_t>(i)])) {
          const int64_t at = r0 * n_per_row + i;
          err = fmt::format("tensor '{}': element {} (row {}) is {}", t.name, at, at / n_per_row,
                            src[static_cast<size_t>(i)]);
          break;
        }
      }
      if (!err.empty()) break;
      // 2. Output rows, and 3. their values read back.
      switch (to) {
        case DType::F32:
          std::memcpy(dst, src.data(), static_cast<size_t>(n) * 4);
          std::memcpy(back.data(), src.data(), static_cast<size_t>(n) * 4);
          break;
        case DType::F16:
        case DType::BF16:
          for (int64_t i = 0; i < n; ++i) {
            const float v = src[static_cast<size_t>(i)];
            const uint16_t h = to == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
            std::memcpy(dst + 2 * i, &h, 2);
            back[static_cast<size_t>(i)] = to == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
          }
          break;
        default:
          quantize_weights(to, src.data(), dst, nr, n_per_row, nullptr);
          type_traits(to).to_float(dst, back.data(), n);
          break;
      }
      for (int64_t i = 0; i < n; ++i) {
        const double x = src[static_cast<size_t>(i)];
        const double y = back[static_cast<size_t>(i)];
        if (!std::isfinite(y)) {
          err = fmt::format(
              "tensor '{}': row {} does not fit {} (its scales overflow F16; max |x| = {})", t.name,
              (r0 * n_per_row + i) / n_per_row, dtype_name(to),
              *std::max_element(src.begin(), src.begin() + n,
                                [](float a, float b) { return std::fabs(a) < std::fabs(b); }));
          break;
        }
        err2 += (x - y) * (x - y);
        x2 += x * x;
      }
      const int64_t done = rows_done += nr;
      if (ith == 0) {
        progress.draw(elements_before + static_cast<uint64_t>(done * n_per_row), t.name);
      }
    }
    std::lock_guard lock(mu);
    sum_err2 += err2;
    sum_x2 += x2;
    if (!err.empty() && first_error.empty()) first_error = err;
  });

  const double n = static_cast<double>(t.n_elements);
  report.rmse = std::sqrt(sum_err2 / n);
  report.rel_error = sum_x2 > 0 ? std::sqrt(sum_err2 / sum_x2) : 0.0;
  return first_error;
}

std::string describe(const TensorReport& r, size_t index, size_t count) {
  const int width = static_cast<int>(std::to_string(count).size());
  std::string s = fmt::format("[{:>{}}/{}] {:<32} {:<16} ", index + 1, width, count, r.name,
                              fmt::format("[{}]", fmt::join(r.shape, " x ")));
  if (!r.converted) {
    return s + fmt::format("{:>5} kept {:>10.3f} MiB", dtype_name(r.from), mib(r.bytes_out));
  }
  s += fmt::format("{:>5} -> {:<5} {:>9.3f} -> {:>8.3f} MiB  rmse {:.3e}  rel {:6.3f}%",
                   dtype_name(r.from), dtype_name(r.to), mib(r.bytes_in), mib(r.bytes_out), r.rmse,
                   100.0 * r.rel_error);
  if (r.fallback) s += "  (fallback)";
  return s;
}

}  // namespace

Result<QuantizeReport> quantize_model(const QuantizeOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(options.output_path, ec) &&
      fs::equivalent(options.input_path, options.output_path, ec)) {
    return error("{}: the output would overwrite the input", options.output_path);
  }
  if (options.n_threads < 1 || options.n_threads > 1024) {
    return error("--threads {}: must be between 1 and 1024", options.n_threads);
  }
  AG_TRY(gguf::File in, gguf::File::open(options.input_path));

  const ModelFacts facts = model_facts(in);
  std::vector<TensorSpec> specs;
  specs.reserve(in.tensors().size());
  for (const auto& t : in.tensors()) specs.push_back({t.name, t.shape, t.type});
  AG_TRY(const std::vector<TypeChoice> choices,
         choose_tensor_types(specs, facts, options.scheme, options.pure));

  // Check every conversion before writing anything.
  std::vector<Job> jobs;
  for (size_t i = 0; i < specs.size(); ++i) {
    const gguf::TensorInfo& t = in.tensors()[i];
    Job job{&t, choices[i]};
    if (job.choice.type == t.type) job.choice.quantized = false;
    if (job.choice.quantized) {
      if (!is_float_type(t.type)) {
        if (!options.allow_requantize) {
          return error(
              "{}: tensor '{}' is already {}; requantizing loses quality (use "
              "--allow-requantize to do it anyway)",
              options.input_path, t.name, dtype_name(t.type));
        }
        if (!has_type_traits(t.type) || !dtype_info(t.type).computable) {
          return error("{}: tensor '{}': cannot read type {}", options.input_path, t.name,
                       dtype_name(t.type));
        }
      }
      if (!is_float_type(job.choice.type) && !has_type_traits(job.choice.type)) {
        return error("type {} has no quantizer in this build", dtype_name(job.choice.type));
      }
    }
    jobs.push_back(job);
  }

  gguf::Writer writer;
  writer.set_alignment(in.alignment());
  for (const auto& [key, value] : in.metadata()) {
    if (key == "general.alignment" || key.starts_with("split.")) continue;
    writer.set(key, value);
  }
  writer.set("general.quantization_version", kQuantizationVersion);
  writer.set("general.file_type", static_cast<uint32_t>(options.scheme.file_type));

  QuantizeReport report;
  report.tensors.resize(jobs.size());
  for (const auto& t : in.tensors()) report.n_elements += t.n_elements;

  ThreadPool pool(options.n_threads);
  Progress progress(options.log, report.n_elements);
  progress.line(fmt::format("quantizing {} -> {} as {}{} with {} thread{}", options.input_path,
                            options.output_path, options.scheme.name, options.pure ? " (pure)" : "",
                            options.n_threads, options.n_threads == 1 ? "" : "s"));
  std::string failure;  // first error inside a fill callback
  uint64_t elements_done = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    TensorReport& r = report.tensors[i];
    r.name = job.in->name;
    r.shape = job.in->shape;
    r.from = job.in->type;
    r.to = job.choice.type;
    r.bytes_in = job.in->n_bytes;
    r.bytes_out = static_cast<uint64_t>(job.in->n_elements) / dtype_info(r.to).block_size *
                  dtype_info(r.to).type_size;
    r.converted = job.choice.quantized;
    r.fallback = job.choice.fallback && job.choice.quantized;
    report.bytes_in += r.bytes_in;
    report.bytes_out += r.bytes_out;
    gguf::Writer::Fill fill = [&, i](std::span<uint8_t> out) {
      const Job& jb = jobs[i];
      TensorReport& rep = report.tensors[i];
      if (!failure.empty()) {
        std::memset(out.data(), 0, out.size());
      } else if (!jb.choice.quantized) {
        std::memcpy(out.data(), jb.in->data, out.size());
      } else {
        failure = convert_tensor(jb, out, pool, progress, elements_done, rep);
      }
      elements_done += jb.in->n_elements;
      if (failure.empty()) {
        if (jb.choice.fallback)
          progress.line(fmt::format("warning: {}: {}", rep.name, jb.choice.note));
        progress.line(describe(rep, i, jobs.size()));
      }
    };
    AG_TRY_STATUS(writer.add_tensor(job.in->name, r.to, job.in->shape, std::move(fill)));
  }

  // The writer renames its own temporary file into place when done; write beside the output and
  // rename once more only when every tensor converted, so a failed run never replaces a good file.
  const std::string partial = options.output_path + ".partial";
  const Status written = writer.write(partial);
  if (!failure.empty() || !written.ok()) {
    std::remove(partial.c_str());
    if (!failure.empty()) return error("{}: {}", options.input_path, failure);
    return written.error();
  }
  if (std::rename(partial.c_str(), options.output_path.c_str()) != 0) {
    const int e = errno;
    std::remove(partial.c_str());
    return error("{}: cannot rename from {}: {}", options.output_path, partial, std::strerror(e));
  }
  return report;
}

}  // namespace ag::quant
