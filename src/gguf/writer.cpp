// GGUF version 3 writer, byte-exact with the specification so llama.cpp reads its files:
// strings are u64 length + bytes (no NUL), arrays are u32 element type + u64 count + items, a
// tensor info is name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset (relative to the data
// section). The data section and every tensor start at a multiple of the alignment; gaps are zeros.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include <fmt/ranges.h>

#include "gguf/gguf.h"

namespace ag::gguf {

namespace {

constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;

uint64_t align_up(uint64_t n, uint64_t align) { return (n + align - 1) / align * align; }

// A FILE* that remembers the first write error so callers check once at the end.
class OutFile {
 public:
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  explicit OutFile(const std::string& path) : f_(std::fopen(path.c_str(), "wb")) {
    if (f_ == nullptr) err_ = errno;
    // A large buffer: metadata is many small writes (a vocabulary is ~150k strings).
    if (f_ != nullptr) std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  }
  ~OutFile() {
    if (f_ != nullptr) std::fclose(f_);
  }
  bool is_open() const { return f_ != nullptr; }
  void bytes(const void* p, size_t n) {
    if (err_ == 0 && n > 0 && std::fwrite(p, 1, n, f_) != n) err_ = errno != 0 ? errno : EIO;
    pos_ += n;
  }
  template <typename T>
  void pod(T v) {
    bytes(&v, sizeof(T));
  }
  void string(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void zeros(uint64_t n) {
    static const uint8_t kZeros[256] = {};
    while (n > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof(kZeros)));
      bytes(kZeros, k);
      n -= k;
    }
  }
  uint64_t pos() const { return pos_; }
  // Flushes and closes; returns errno of the first failure or 0.
  int close() {
    if (f_ != nullptr) {
      if (std::fclose(f_) != 0 && err_ == 0) err_ = errno != 0 ? errno : EIO;
      f_ = nullptr;
    }
    return err_;
  }
  int error() const { return err_; }

 private:
  std::FILE* f_;
  int err_ = 0;
  uint64_t pos_ = 0;
};

// Checks that every array's items have its element type (recursively) before anything is written.
Status check_value(const std::string& key, const Value& v) {
  const Array* arr = v.as_array();
  if (arr == nullptr) return {};
  for (size_t i = 0; i < arr->items.size(); ++i) {
    if (arr->items[i].type() != arr->type)
      return error("gguf writer: metadata '{}': array item {} is {}, the array holds {}", key, i,
                   value_type_name(arr->items[i].type()), value_type_name(arr->type));
    AG_TRY_STATUS(check_value(key, arr->items[i]));
  }
  return {};
}

void write_value(OutFile& out, const Value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out.string(x);
        } else if constexpr (std::is_same_v<T, Array>) {
          out.pod<uint32_t>(static_cast<uint32_t>(x.type));
          out.pod<uint64_t>(x.items.size());
          for (const auto& item : x.items) write_value(out, item);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.pod<uint8_t>(x ? 1 : 0);
        } else {
          out.pod<T>(x);
        }
      },
      v.data);
}

// Validates name, shape and type and fills the size fields of a tensor about to be added.
Result<TensorInfo> make_info(std::string name, DType type, std::vector<uint64_t> shape) {
  if (name.empty()) return error("gguf writer: tensor with an empty name");
  // llama.cpp stores names in char[GGML_MAX_NAME = 64] and rejects files with longer ones.
  if (name.size() >= 64)
    return error("gguf writer: tensor '{}': name is {} bytes (llama.cpp allows at most 63)", name,
                 name.size());
  if (shape.empty() || shape.size() > 4)
    return error("gguf writer: tensor '{}': {} dimensions (1 to 4 allowed)", name, shape.size());
  uint64_t n = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return error("gguf writer: tensor '{}': dimension {} is zero", name, d);
    if (__builtin_mul_overflow(n, shape[d], &n) ||
        n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return error("gguf writer: tensor '{}': element count overflows", name);
  }
  const DTypeInfo& info = dtype_info(type);
  if (shape[0] % info.block_size != 0)
    return error("gguf writer: tensor '{}': row size {} is not a multiple of the {} block size {}",
                 name, shape[0], info.name, info.block_size);
  TensorInfo t;
  t.name = std::move(name);
  t.type = type;
  t.shape = std::move(shape);
  t.n_elements = n;
  t.n_bytes = n / info.block_size * info.type_size;
  return t;
}

}  // namespace

void Writer::set(std::string key, Value value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void Writer::set_alignment(uint64_t alignment) {
  alignment_ = alignment;
  if (alignment != kDefaultAlignment) {
    // Out-of-range values are reported by write(); store something of the right type meanwhile.
    set("general.alignment", static_cast<uint32_t>(alignment));
  } else {
    std::erase_if(metadata_, [](const auto& kv) { return kv.first == "general.alignment"; });
  }
}

Status Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> shape,
                          std::span<const uint8_t> data) {
  AG_TRY(TensorInfo info, make_info(std::move(name), type, std::move(shape)));
  if (data.size() != info.n_bytes)
    return error("gguf writer: tensor '{}': {} bytes given, {} {} needs {}", info.name,
                 data.size(), dtype_name(type), fmt::join(info.shape, "x"), info.n_bytes);
  for (const auto& t : tensors_)
    if (t.info.name == info.name) return error("gguf writer: duplicate tensor '{}'", info.name);
  tensors_.push_back({std::move(info), std::vector<uint8_t>(data.begin(), data.end()), nullptr});
  return {};
}

Status Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> shape, Fill fill) {
  AG_TRY(TensorInfo info, make_info(std::move(name), type, std::move(shape)));
  if (!fill) return error("gguf writer: tensor '{}': empty fill callback", info.name);
  for (const auto& t : tensors_)
    if (t.info.name == info.name) return error("gguf writer: duplicate tensor '{}'", info.name);
  tensors_.push_back({std::move(info), {}, std::move(fill)});
  return {};
}

Status Writer::write(const std::string& path) const {
  if (alignment_ == 0 || !std::has_single_bit(alignment_) ||
      alignment_ > std::numeric_limits<uint32_t>::max())
    return error("{}: general.alignment: {} is not a power of two that fits in u32", path,
                 alignment_);
  for (const auto& [key, value] : metadata_) {
    if (key == "general.alignment") {
      const auto* a = std::get_if<uint32_t>(&value.data);
      if (a == nullptr || *a != alignment_)
        return error("{}: general.alignment: set it with set_alignment(), not set()", path);
    }
    AG_TRY_STATUS(check_value(key, value));
  }

  // Offsets relative to the data section: each tensor starts at the next aligned position.
  std::vector<uint64_t> offsets;
  offsets.reserve(tensors_.size());
  uint64_t data_size = 0;
  uint64_t max_fill = 0;
  for (const auto& t : tensors_) {
    data_size = align_up(data_size, alignment_);
    offsets.push_back(data_size);
    data_size += t.info.n_bytes;
    if (t.fill) max_fill = std::max(max_fill, t.info.n_bytes);
  }

  // Written to a temporary name and renamed, so a failed write never leaves a truncated model
  // where a good one is expected.
  std::string tmp = path + ".tmp";
  OutFile out(tmp);
  if (!out.is_open()) return error("{}: cannot create: {}", tmp, std::strerror(out.error()));

  out.pod<uint32_t>(0x46554747);  // "GGUF"
  out.pod<uint32_t>(kVersion);
  out.pod<uint64_t>(tensors_.size());
  out.pod<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    out.string(key);
    out.pod<uint32_t>(static_cast<uint32_t>(value.type()));
    write_value(out, value);
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorInfo& info = tensors_[i].info;
    out.string(info.name);
    out.pod<uint32_t>(static_cast<uint32_t>(info.shape.size()));
    for (uint64_t d : info.shape) out.pod<uint64_t>(d);
    out.pod<uint32_t>(static_cast<uint32_t>(info.type));
    out.pod<uint64_t>(offsets[i]);
  }
  out.zeros(align_up(out.pos(), alignment_) - out.pos());
  const uint64_t data_start = out.pos();

  // One reusable buffer for callback tensors: at most one tensor is in memory at a time.
  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < tensors_.size() && out.error() == 0; ++i) {
    const PendingTensor& t = tensors_[i];
    out.zeros(data_start + offsets[i] - out.pos());
    if (t.fill) {
      if (buffer.size() < t.info.n_bytes) buffer.resize(static_cast<size_t>(max_fill));
      std::span<uint8_t> span(buffer.data(), static_cast<size_t>(t.info.n_bytes));
      t.fill(span);
      out.bytes(span.data(), span.size());
    } else {
      out.bytes(t.bytes.data(), t.bytes.size());
    }
  }
  // Pad the end too, as llama.cpp's writer does, so the file is a whole number of alignment units.
  out.zeros(align_up(out.pos(), alignment_) - out.pos());

  if (int e = out.close(); e != 0) {
    std::remove(tmp.c_str());
    return error("{}: write failed: {}", tmp, std::strerror(e));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    return error("{}: cannot rename from {}: {}", path, tmp, std::strerror(e));
  }
  return {};
}

}  // namespace ag::gguf
