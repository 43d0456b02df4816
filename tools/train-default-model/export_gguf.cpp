// autoglm-export-default MANIFEST.json TENSORS.bin OUT.gguf
//
// Writes the default model's GGUF with the project's own writer (ag::gguf::Writer) from what
// export.py produced: a manifest of typed metadata and tensors (GGUF names, shapes ne[0] first,
// target type f32 / f16 / q8_0) and a blob of float32 data. It knows nothing about models: every
// key and tensor comes from the manifest, so it serves any recipe that writes the same format.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/half.h"
#include "core/result.h"
#include "gguf/gguf.h"
#include "tensor/type_traits.h"

namespace {

using nlohmann::json;

ag::Result<std::string> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ag::error("{}: cannot open", path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return ag::error("{}: read error", path);
  return s;
}

ag::Result<ag::gguf::Value> to_value(const json& kv, const std::string& path) {
  const std::string key = kv.value("key", "");
  const std::string type = kv.value("type", "");
  if (!kv.contains("value")) return ag::error("{}: metadata '{}' has no value", path, key);
  const json& v = kv["value"];
  try {
    if (type == "str") return ag::gguf::Value(v.get<std::string>());
    if (type == "u32") return ag::gguf::Value(v.get<uint32_t>());
    if (type == "i32") return ag::gguf::Value(v.get<int32_t>());
    if (type == "f32") return ag::gguf::Value(v.get<float>());
    if (type == "bool") return ag::gguf::Value(v.get<bool>());
    if (type == "arr_str" || type == "arr_i32") {
      ag::gguf::Array a;
      a.type = type == "arr_str" ? ag::gguf::ValueType::STRING : ag::gguf::ValueType::INT32;
      a.items.reserve(v.size());
      for (const json& item : v) {
        if (type == "arr_str") {
          a.items.emplace_back(item.get<std::string>());
        } else {
          a.items.emplace_back(item.get<int32_t>());
        }
      }
      return ag::gguf::Value(std::move(a));
    }
  } catch (const json::exception& e) {
    return ag::error("{}: metadata '{}' is not a valid {}: {}", path, key, type, e.what());
  }
  return ag::error("{}: metadata '{}' has unknown type '{}' (str, u32, i32, f32, bool, arr_str, "
                   "arr_i32)",
                   path, key, type);
}

ag::Status run(const std::string& manifest_path, const std::string& blob_path,
               const std::string& out_path) {
  AG_TRY(const std::string text, read_all(manifest_path));
  AG_TRY(const std::string blob, read_all(blob_path));
  json m = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded() || !m.is_object() || !m["metadata"].is_array() || !m["tensors"].is_array())
    return ag::error("{}: not a manifest (an object with arrays 'metadata' and 'tensors')",
                     manifest_path);

  ag::gguf::Writer w;
  for (const json& kv : m["metadata"]) {
    if (!kv.is_object() || !kv.contains("key") || !kv["key"].is_string())
      return ag::error("{}: a metadata entry has no string 'key'", manifest_path);
    AG_TRY(ag::gguf::Value v, to_value(kv, manifest_path));
    w.set(kv["key"].get<std::string>(), std::move(v));
  }
  for (const json& t : m["tensors"]) {
    if (!t.is_object() || !t["name"].is_string() || !t["shape"].is_array() ||
        !t["type"].is_string() || !t["offset"].is_number_unsigned())
      return ag::error("{}: a tensor entry lacks name, shape, type or offset", manifest_path);
    const std::string name = t["name"].get<std::string>();
    std::vector<uint64_t> shape;
    uint64_t n = 1;
    for (const json& d : t["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() == 0 || d.get<uint64_t>() > (1u << 24))
        return ag::error("{}: tensor '{}' has a bad dimension", manifest_path, name);
      shape.push_back(d.get<uint64_t>());
      n *= shape.back();
    }
    const uint64_t offset = t["offset"].get<uint64_t>();
    if (shape.empty() || offset > blob.size() || n * 4 > blob.size() - offset)
      return ag::error("{}: tensor '{}' ({} floats at byte {}) lies outside {} ({} bytes)",
                       manifest_path, name, n, offset, blob_path, blob.size());
    std::vector<float> f(n);
    std::memcpy(f.data(), blob.data() + offset, n * 4);

    const std::string type = t["type"].get<std::string>();
    std::vector<uint8_t> bytes;
    ag::DType dtype;
    if (type == "f32") {
      dtype = ag::DType::F32;
      bytes.resize(n * 4);
      std::memcpy(bytes.data(), f.data(), n * 4);
    } else if (type == "f16") {
      dtype = ag::DType::F16;
      bytes.resize(n * 2);
      for (uint64_t i = 0; i < n; ++i) {
        const uint16_t h = ag::f32_to_f16(f[i]);
        std::memcpy(bytes.data() + i * 2, &h, 2);
      }
    } else if (type == "q8_0") {
      dtype = ag::DType::Q8_0;
      if (shape[0] % 32 != 0)
        return ag::error("{}: tensor '{}' rows of {} are not whole Q8_0 blocks", manifest_path,
                         name, shape[0]);
      const int64_t n_rows = static_cast<int64_t>(n / shape[0]);
      bytes.resize(n_rows * ag::row_bytes(dtype, shape[0]));
      ag::quantize_weights(dtype, f.data(), bytes.data(), n_rows, static_cast<int64_t>(shape[0]),
                           nullptr);
    } else {
      return ag::error("{}: tensor '{}' has type '{}' (f32, f16, q8_0)", manifest_path, name,
                       type);
    }
    AG_TRY_STATUS(w.add_tensor(name, dtype, std::move(shape), bytes));
  }
  return w.write(out_path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MANIFEST.json TENSORS.bin OUT.gguf\n", argv[0]);
    return 2;
  }
  const ag::Status st = run(argv[1], argv[2], argv[3]);
  if (!st) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}
