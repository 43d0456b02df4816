// Writes small valid GGUF files as the seed corpus of gguf_fuzz: every value type, nested arrays,
// several tensor types, a non-default alignment, a version 2 header. Usage: gguf_seeds DIR
#include <cstdio>
#include <string>
#include <vector>

#include "gguf/gguf.h"

using ag::DType;
using ag::gguf::Array;
using ag::gguf::Value;
using ag::gguf::ValueType;
using ag::gguf::Writer;

namespace {

bool write(const Writer& w, const std::string& path) {
  auto st = w.write(path);
  if (!st.ok()) std::fprintf(stderr, "gguf_seeds: %s\n", st.error().message.c_str());
  return st.ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gguf_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  bool ok = true;

  Writer values;
  values.set("general.architecture", std::string("llama"));
  values.set("u8", uint8_t{1});
  values.set("i8", int8_t{-1});
  values.set("u16", uint16_t{2});
  values.set("i16", int16_t{-2});
  values.set("u32", uint32_t{3});
  values.set("i32", int32_t{-3});
  values.set("f32", 0.5f);
  values.set("bool", true);
  values.set("str", std::string("text"));
  values.set("u64", uint64_t{4});
  values.set("i64", int64_t{-4});
  values.set("f64", 0.25);
  values.set("arr", Value(Array{ValueType::STRING, {std::string("a"), std::string("bc")}}));
  values.set("nested", Value(Array{ValueType::ARRAY,
                                   {Value(Array{ValueType::INT32, {int32_t{1}, int32_t{2}}})}}));
  ok &= write(values, dir + "/values.gguf");

  Writer tensors;
  tensors.set("general.architecture", std::string("llama"));
  tensors.set("llama.block_count", uint32_t{1});
  std::vector<uint8_t> f32(8 * 2 * 4, 0x3f), q4(18 * 2, 0x11), q4k(144, 0x22);
  ok &= tensors.add_tensor("a", DType::F32, {8, 2}, f32).ok();
  ok &= tensors.add_tensor("b", DType::Q4_0, {32, 2}, q4).ok();
  ok &= tensors.add_tensor("c", DType::Q4_K, {256}, q4k).ok();
  ok &= write(tensors, dir + "/tensors.gguf");

  Writer aligned;
  aligned.set_alignment(64);
  std::vector<uint8_t> f16(6 * 2, 0x01);
  ok &= aligned.add_tensor("x", DType::F16, {3, 2}, f16).ok();
  ok &= aligned.add_tensor("y", DType::F16, {6}, f16).ok();
  ok &= write(aligned, dir + "/aligned.gguf");

  // Version 2: same layout; patch the version field of a v3 file.
  Writer v2;
  v2.set("k", uint32_t{7});
  ok &= v2.add_tensor("t", DType::F32, {8}, std::vector<uint8_t>(32, 0)).ok();
  std::string v2_path = dir + "/v2.gguf";
  ok &= write(v2, v2_path);
  if (std::FILE* f = std::fopen(v2_path.c_str(), "r+b")) {
    const uint32_t version = 2;
    ok &= std::fseek(f, 4, SEEK_SET) == 0 && std::fwrite(&version, 4, 1, f) == 1;
    ok &= std::fclose(f) == 0;
  } else {
    ok = false;
  }
  return ok ? 0 : 1;
}
