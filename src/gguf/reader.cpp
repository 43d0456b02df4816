// GGUF reader. The file is untrusted: every count, length, offset and size is checked against
// the bytes that remain before anything is allocated or read, so a corrupt or hostile file gives
// one error line ("FILE: <field>: <problem>") and never a crash, a huge allocation or a hang.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_set>

#include "gguf/gguf.h"

namespace ag::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
// Nested arrays recurse; a hostile file could nest thousands deep and overflow the stack.
constexpr int kMaxArrayDepth = 16;

// Smallest encoded size of one value of a type: bounds a count by the bytes left in the file.
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
    case ValueType::STRING: return 8;  // u64 length
    case ValueType::ARRAY: return 12;  // u32 element type + u64 count
  }
  return 1;
}

// Names from the file go into one-line error messages: escape control bytes (a key holding '\n'
// must not split the line) and cut very long names.
std::string printable(std::string_view s) {
  constexpr size_t kMaxChars = 96;
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == kMaxChars) {
      out += fmt::format("...({} bytes)", s.size());
      break;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  return out;
}

}  // namespace

// Reads one GGUF image front to back. `field_` names what is being read, for error messages.
class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& label) : bytes_(bytes), label_(label) {}

  Status run(File& f);

 private:
  template <typename... Args>
  Error fail(fmt::format_string<Args...> format, Args&&... args) const {
    return Error{fmt::format("{}: {}: {}", label_, field_,
                             fmt::format(format, std::forward<Args>(args)...))};
  }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  // Reads a little-endian scalar; `what` names it ("version", "string length" ...).
  template <typename T>
  Result<T> read(std::string_view what) {
    if (remaining() < sizeof(T))
      return fail("file ends while reading the {} at offset {} (needs {} bytes, file is {} bytes)",
                  what, pos_, sizeof(T), bytes_.size());
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string> read_string(std::string_view what);
  Result<Value> read_value(ValueType type, int depth);
  Result<ValueType> read_value_type(std::string_view what);

  Status read_metadata(File& f, uint64_t n_kv);
  Status read_tensor_infos(File& f, uint64_t n_tensors);
  Status read_alignment(File& f);
  Status place_tensors(File& f);

  std::span<const uint8_t> bytes_;
  const std::string& label_;
  uint64_t pos_ = 0;
  std::string field_ = "header";
};

Result<std::string> Parser::read_string(std::string_view what) {
  AG_TRY(uint64_t len, read<uint64_t>(fmt::format("{} length", what)));
  if (len > remaining())
    return fail("{} length {} at offset {} runs past the end of the file ({} bytes)", what, len,
                pos_ - 8, bytes_.size());
  std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(len));
  pos_ += len;
  return s;
}

Result<ValueType> Parser::read_value_type(std::string_view what) {
  AG_TRY(uint32_t id, read<uint32_t>(what));
  if (id > static_cast<uint32_t>(ValueType::FLOAT64))
    return fail("unknown value type {} at offset {}", id, pos_ - 4);
  return static_cast<ValueType>(id);
}

Result<Value> Parser::read_value(ValueType type, int depth) {
  switch (type) {
    case ValueType::UINT8: { AG_TRY(auto v, read<uint8_t>("u8 value")); return Value(v); }
    case ValueType::INT8: { AG_TRY(auto v, read<int8_t>("i8 value")); return Value(v); }
    case ValueType::UINT16: { AG_TRY(auto v, read<uint16_t>("u16 value")); return Value(v); }
    case ValueType::INT16: { AG_TRY(auto v, read<int16_t>("i16 value")); return Value(v); }
    case ValueType::UINT32: { AG_TRY(auto v, read<uint32_t>("u32 value")); return Value(v); }
    case ValueType::INT32: { AG_TRY(auto v, read<int32_t>("i32 value")); return Value(v); }
    case ValueType::FLOAT32: { AG_TRY(auto v, read<float>("f32 value")); return Value(v); }
    case ValueType::UINT64: { AG_TRY(auto v, read<uint64_t>("u64 value")); return Value(v); }
    case ValueType::INT64: { AG_TRY(auto v, read<int64_t>("i64 value")); return Value(v); }
    case ValueType::FLOAT64: { AG_TRY(auto v, read<double>("f64 value")); return Value(v); }
    case ValueType::BOOL: {
      AG_TRY(uint8_t b, read<uint8_t>("bool value"));
      if (b > 1) return fail("bool value {} at offset {} is not 0 or 1", b, pos_ - 1);
      return Value(b == 1);
    }
    case ValueType::STRING: {
      AG_TRY(std::string s, read_string("string"));
      return Value(std::move(s));
    }
    case ValueType::ARRAY: {
      if (depth >= kMaxArrayDepth)
        return fail("arrays nested more than {} deep at offset {}", kMaxArrayDepth, pos_);
      Array arr;
      AG_TRY(arr.type, read_value_type("array element type"));
      AG_TRY(uint64_t n, read<uint64_t>("array length"));
      // Each element takes at least min_encoded_size bytes: a count the rest of the file cannot
      // hold is rejected before reserve() sees it.
      if (n > remaining() / min_encoded_size(arr.type))
        return fail("array length {} of {} at offset {} runs past the end of the file ({} bytes)",
                    n, value_type_name(arr.type), pos_ - 8, bytes_.size());
      arr.items.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) {
        AG_TRY(Value item, read_value(arr.type, depth + 1));
        arr.items.push_back(std::move(item));
      }
      return Value(std::move(arr));
    }
  }
  return fail("unknown value type {}", static_cast<uint32_t>(type));
}

Status Parser::read_metadata(File& f, uint64_t n_kv) {
  // A key/value takes at least 8 (key length) + 4 (type) + 1 bytes.
  if (n_kv > remaining() / 13)
    return fail("metadata count {} is more than the file ({} bytes) can hold", n_kv,
                bytes_.size());
  f.metadata_.reserve(static_cast<size_t>(n_kv));
  std::unordered_set<std::string> seen;
  for (uint64_t i = 0; i < n_kv; ++i) {
    field_ = fmt::format("metadata key #{}", i);
    AG_TRY(std::string key, read_string("key"));
    field_ = fmt::format("metadata '{}'", printable(key));
    if (key.empty()) return fail("empty key");
    if (!seen.insert(key).second) return fail("duplicate key");
    AG_TRY(ValueType type, read_value_type("value type"));
    AG_TRY(Value value, read_value(type, 0));
    f.metadata_.emplace_back(std::move(key), std::move(value));
  }
  return {};
}

Status Parser::read_alignment(File& f) {
  field_ = "metadata 'general.alignment'";
  const Value* v = f.find("general.alignment");
  if (v == nullptr) return {};
  const auto* a = std::get_if<uint32_t>(&v->data);
  if (a == nullptr) return fail("type {} (expected u32)", value_type_name(v->type()));
  if (*a == 0 || !std::has_single_bit(*a)) return fail("alignment {} is not a power of two", *a);
  f.alignment_ = *a;
  return {};
}

Status Parser::read_tensor_infos(File& f, uint64_t n_tensors) {
  // A tensor info takes at least 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset).
  if (n_tensors > remaining() / 32)
    return fail("tensor count {} is more than the file ({} bytes) can hold", n_tensors,
                bytes_.size());
  f.tensors_.reserve(static_cast<size_t>(n_tensors));
  std::unordered_set<std::string> seen;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    field_ = fmt::format("tensor info #{}", i);
    TensorInfo t;
    AG_TRY(t.name, read_string("name"));
    field_ = fmt::format("tensor '{}'", printable(t.name));
    if (t.name.empty()) return fail("empty tensor name");
    if (!seen.insert(t.name).second) return fail("duplicate tensor name");
    AG_TRY(uint32_t n_dims, read<uint32_t>("n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims)
      return fail("n_dims {} is not between 1 and {}", n_dims, kMaxDims);
    t.shape.resize(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      AG_TRY(t.shape[d], read<uint64_t>("dimension"));
      if (t.shape[d] == 0) return fail("dimension {} is zero", d);
      if (__builtin_mul_overflow(n_elements, t.shape[d], &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return fail("element count overflows (dimension {} is {})", d, t.shape[d]);
    }
    t.n_elements = n_elements;
    AG_TRY(uint32_t type_id, read<uint32_t>("type"));
    auto info = dtype_info(type_id);
    if (!info) return fail("unknown tensor type {}", type_id);
    t.type = info->type;
    if (t.shape[0] % info->block_size != 0)
      return fail("row size {} is not a multiple of the {} block size {}", t.shape[0], info->name,
                  info->block_size);
    if (__builtin_mul_overflow(n_elements / info->block_size, uint64_t{info->type_size},
                               &t.n_bytes))
      return fail("byte size overflows");
    AG_TRY(t.offset, read<uint64_t>("offset"));
    f.tensors_.push_back(std::move(t));
  }
  return {};
}

Status Parser::place_tensors(File& f) {
  uint64_t align = f.alignment_;
  // pos_ <= file size and align <= 2^31, so this cannot overflow.
  f.data_offset_ = (pos_ + align - 1) / align * align;
  if (f.tensors_.empty()) return {};  // vocab-only files may end right after the metadata
  field_ = "data section";
  if (f.data_offset_ > bytes_.size())
    return fail("starts at offset {}, past the end of the file ({} bytes)", f.data_offset_,
                bytes_.size());
  uint64_t data_size = bytes_.size() - f.data_offset_;
  for (auto& t : f.tensors_) {
    field_ = fmt::format("tensor '{}'", printable(t.name));
    if (t.offset % align != 0)
      return fail("data offset {} is not a multiple of the alignment {}", t.offset, align);
    if (t.offset > data_size)
      return fail("data offset {} (from the data section at {}) is past the end of the file ({} bytes)",
                  t.offset, f.data_offset_, bytes_.size());
    if (t.n_bytes > data_size - t.offset)
      return fail("data [offset {}, {} bytes) runs past the end of the file ({} bytes)",
                  f.data_offset_ + t.offset, t.n_bytes, bytes_.size());
    t.data = bytes_.data() + f.data_offset_ + t.offset;
  }
  // Overlap check on the tensors sorted by offset: each must start at or after the previous end.
  std::vector<const TensorInfo*> order;
  order.reserve(f.tensors_.size());
  for (const auto& t : f.tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo* prev = order[i - 1];
    const TensorInfo* cur = order[i];
    if (cur->offset < prev->offset + prev->n_bytes) {
      field_ = fmt::format("tensor '{}'", printable(cur->name));
      return fail("data at offset {} overlaps tensor '{}' [offset {}, {} bytes)", cur->offset,
                  printable(prev->name), prev->offset, prev->n_bytes);
    }
  }
  return {};
}

Status Parser::run(File& f) {
  field_ = "header";
  if (bytes_.size() < 4)
    return fail("file is {} bytes, too small for a GGUF header", bytes_.size());
  AG_TRY(uint32_t magic, read<uint32_t>("magic"));
  if (magic != kMagic) {
    std::string shown;
    for (int i = 0; i < 4; ++i) {
      unsigned char c = bytes_[static_cast<size_t>(i)];
      shown += (c >= 0x20 && c < 0x7f) ? fmt::format("{}", static_cast<char>(c))
                                       : fmt::format("\\x{:02x}", c);
    }
    return fail("bad magic '{}' (not a GGUF file)", shown);
  }
  AG_TRY(uint32_t version, read<uint32_t>("version"));
  if (version != 2 && version != 3) {
    if (std::byteswap(version) == 2 || std::byteswap(version) == 3)
      return fail("big-endian GGUF files are not supported");
    return fail("unsupported version {} (only 2 and 3 are read)", version);
  }
  f.version_ = version;
  AG_TRY(uint64_t n_tensors, read<uint64_t>("tensor count"));
  AG_TRY(uint64_t n_kv, read<uint64_t>("metadata count"));
  AG_TRY_STATUS(read_metadata(f, n_kv));
  AG_TRY_STATUS(read_alignment(f));
  field_ = "tensor infos";
  AG_TRY_STATUS(read_tensor_infos(f, n_tensors));
  return place_tensors(f);
}

Result<File> File::parse(std::span<const uint8_t> bytes, std::string label) {
  File f;
  f.mapping_ = std::make_shared<MappedFile>();
  f.bytes_ = bytes;
  f.label_ = std::move(label);
  Parser parser(bytes, f.label_);
  AG_TRY_STATUS(parser.run(f));
  return f;
}

Result<File> File::open(const std::string& path) {
  AG_TRY(MappedFile mapped, MappedFile::open(path));
  auto mapping = std::make_shared<MappedFile>(std::move(mapped));
  AG_TRY(File f, parse(mapping->bytes(), path));
  f.mapping_ = std::move(mapping);  // data pointers stay valid: the mapping itself did not move
  return f;
}

const Value* File::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

const TensorInfo* File::tensor(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

Result<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return error("{}: metadata '{}': missing", label_, key);
  auto i = v->as_int();
  if (!i) {
    if (v->type() == ValueType::UINT64)
      return error("{}: metadata '{}': value {} is too large", label_, key,
                   std::get<uint64_t>(v->data));
    return error("{}: metadata '{}': type {} is not an integer", label_, key,
                 value_type_name(v->type()));
  }
  return *i;
}

Result<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return error("{}: metadata '{}': missing", label_, key);
  auto d = v->as_float();
  if (!d)
    return error("{}: metadata '{}': type {} is not a number", label_, key,
                 value_type_name(v->type()));
  return *d;
}

Result<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return error("{}: metadata '{}': missing", label_, key);
  const std::string* s = v->as_string();
  if (s == nullptr)
    return error("{}: metadata '{}': type {} is not a string", label_, key,
                 value_type_name(v->type()));
  return *s;
}

Result<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return error("{}: metadata '{}': missing", label_, key);
  auto b = v->as_bool();
  if (!b)
    return error("{}: metadata '{}': type {} is not a bool", label_, key,
                 value_type_name(v->type()));
  return *b;
}

Result<int64_t> File::get_int_or(std::string_view key, int64_t fallback) const {
  if (find(key) == nullptr) return fallback;
  return get_int(key);
}

Result<double> File::get_float_or(std::string_view key, double fallback) const {
  if (find(key) == nullptr) return fallback;
  return get_float(key);
}

Result<std::string> File::get_string_or(std::string_view key, std::string fallback) const {
  if (find(key) == nullptr) return fallback;
  return get_string(key);
}

Result<bool> File::get_bool_or(std::string_view key, bool fallback) const {
  if (find(key) == nullptr) return fallback;
  return get_bool(key);
}

}  // namespace ag::gguf
