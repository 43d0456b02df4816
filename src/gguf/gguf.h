#pragma once
// GGUF files (versions 2 and 3): metadata key/values, tensor infos and memory-mapped tensor data.
// Layout per the GGUF specification (ggml/docs/gguf.md): little-endian header
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv | kv[n_kv] | tensor_info[n_tensors]
//   | padding to general.alignment | tensor data (each tensor at its offset, aligned)
// Every count, length and offset is validated against the file size before use.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/mapped_file.h"
#include "core/result.h"
#include "tensor/dtype.h"

namespace ag::gguf {

// Value type ids as stored in the file.
enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
std::string_view value_type_name(ValueType t);

struct Value;
struct Array {
  ValueType type = ValueType::UINT8;  // element type (may itself be ARRAY: nested arrays)
  std::vector<Value> items;
};

// One metadata value. The variant's index equals the ValueType id.
struct Value {
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, Array, uint64_t, int64_t, double>;
  Storage data;

  Value() = default;
  template <typename T>
  Value(T v) : data(std::move(v)) {}  // NOLINT: implicit for convenience in writers/tests

  ValueType type() const { return static_cast<ValueType>(data.index()); }
  // Any integer type (or bool) widened; nullopt for other types or an out-of-range uint64.
  std::optional<int64_t> as_int() const;
  // Any numeric type as double.
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const { return std::get_if<std::string>(&data); }
  const Array* as_array() const { return std::get_if<Array>(&data); }
  // Human-readable rendering for `inspect` (long arrays abbreviated).
  std::string to_display_string(size_t max_items = 8) const;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // ne[0] first: ne[0] is the contiguous (row) dimension
  DType type = DType::F32;
  uint64_t offset = 0;      // bytes from the start of the data section
  uint64_t n_elements = 0;  // product of shape
  uint64_t n_bytes = 0;     // n_elements / block_size * type_size
  const uint8_t* data = nullptr;  // into the mapped file; nullptr only while writing

  uint64_t ne(size_t i) const { return i < shape.size() ? shape[i] : 1; }
};

class File {
 public:
  // Maps and parses `path`. Errors name the file, the field and the problem.
  static Result<File> open(const std::string& path);
  // Parses bytes owned by the caller (kept alive while the File is used). `label` names the
  // source in errors. Used by the fuzz target and tests.
  static Result<File> parse(std::span<const uint8_t> bytes, std::string label);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
  const std::string& path() const { return label_; }
  uint64_t file_size() const { return bytes_.size(); }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;

  // Typed getters: an error names the key when it is missing or has the wrong type.
  Result<int64_t> get_int(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  // With defaults when the key is absent (still an error when present with a wrong type).
  Result<int64_t> get_int_or(std::string_view key, int64_t fallback) const;
  Result<double> get_float_or(std::string_view key, double fallback) const;
  Result<std::string> get_string_or(std::string_view key, std::string fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(std::string_view name) const;

  // The mapping (none for parse(): check has_mapping()); exposes mlock for --mlock.
  bool has_mapping() const { return mapping_ != nullptr; }
  MappedFile& mapping() { return *mapping_; }

 private:
  std::shared_ptr<MappedFile> mapping_;  // shared so File stays movable and cheap to pass
  std::span<const uint8_t> bytes_;
  std::string label_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;
  friend class Parser;
};

// Writes GGUF version 3 files that llama.cpp reads. Tensor data is either given as bytes (copied)
// or produced on demand at write time by a callback, so multi-GB synthetic models never sit in
// memory twice.
class Writer {
 public:
  using Fill = std::function<void(std::span<uint8_t> out)>;  // must fill exactly n_bytes

  void set(std::string key, Value value);  // replaces an existing key, keeps first position
  void set_alignment(uint64_t alignment);  // also writes general.alignment when != 32
  Status add_tensor(std::string name, DType type, std::vector<uint64_t> shape,
                    std::span<const uint8_t> data);
  Status add_tensor(std::string name, DType type, std::vector<uint64_t> shape, Fill fill);
  Status write(const std::string& path) const;

 private:
  struct PendingTensor {
    TensorInfo info;
    std::vector<uint8_t> bytes;
    Fill fill;
  };
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace ag::gguf
