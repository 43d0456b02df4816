// Writer → reader round trips: every value type, every tensor type, alignments, v2 files, and the
// real files in ../shared.
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf_bytes.h"

namespace ag::gguf {
namespace {

using testing::Bytes;
using testing::test_dir;

Value array_of(ValueType type, std::vector<Value> items) {
  return Value(Array{type, std::move(items)});
}

TEST(GgufRoundTrip, EveryValueType) {
  Writer w;
  w.set("u8", uint8_t{250});
  w.set("i8", int8_t{-100});
  w.set("u16", uint16_t{65000});
  w.set("i16", int16_t{-32000});
  w.set("u32", uint32_t{4000000000u});
  w.set("i32", int32_t{-2000000000});
  w.set("f32", 1.5f);
  w.set("bool_t", true);
  w.set("bool_f", false);
  w.set("str", std::string("hello"));
  w.set("str_empty", std::string());
  w.set("str_unicode", std::string("héllo wörld ✓ 🦙 中文"));
  w.set("str_nul", std::string("a\0b", 3));
  w.set("u64", uint64_t{18000000000000000000ull});
  w.set("i64", int64_t{-9000000000000000000ll});
  w.set("f64", 3.141592653589793);
  w.set("arr_i32", array_of(ValueType::INT32, {int32_t{1}, int32_t{-2}, int32_t{3}}));
  w.set("arr_empty", array_of(ValueType::FLOAT32, {}));
  w.set("arr_str", array_of(ValueType::STRING, {std::string("a"), std::string(""),
                                                std::string("ü")}));
  w.set("arr_nested",
        array_of(ValueType::ARRAY, {array_of(ValueType::UINT8, {uint8_t{1}, uint8_t{2}}),
                                    array_of(ValueType::STRING, {std::string("x")}),
                                    array_of(ValueType::ARRAY, {})}));
  w.set("arr_bool", array_of(ValueType::BOOL, {true, false, true}));
  w.set("arr_f64", array_of(ValueType::FLOAT64, {0.25, -1e300}));
  w.set("u8", uint8_t{251});  // replaces, keeps the first position

  auto path = (test_dir() / "values.gguf").string();
  ASSERT_TRUE(w.write(path).ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_TRUE(f->tensors().empty());
  ASSERT_EQ(f->metadata().size(), 22u);
  EXPECT_EQ(f->metadata()[0].first, "u8");

  EXPECT_EQ(std::get<uint8_t>(f->find("u8")->data), 251);
  EXPECT_EQ(std::get<int8_t>(f->find("i8")->data), -100);
  EXPECT_EQ(std::get<uint16_t>(f->find("u16")->data), 65000);
  EXPECT_EQ(std::get<int16_t>(f->find("i16")->data), -32000);
  EXPECT_EQ(std::get<uint32_t>(f->find("u32")->data), 4000000000u);
  EXPECT_EQ(std::get<int32_t>(f->find("i32")->data), -2000000000);
  EXPECT_EQ(std::get<float>(f->find("f32")->data), 1.5f);
  EXPECT_EQ(*f->get_bool("bool_t"), true);
  EXPECT_EQ(*f->get_bool("bool_f"), false);
  EXPECT_EQ(*f->get_string("str"), "hello");
  EXPECT_EQ(*f->get_string("str_empty"), "");
  EXPECT_EQ(*f->get_string("str_unicode"), "héllo wörld ✓ 🦙 中文");
  EXPECT_EQ(*f->get_string("str_nul"), std::string("a\0b", 3));
  EXPECT_EQ(std::get<uint64_t>(f->find("u64")->data), 18000000000000000000ull);
  EXPECT_EQ(*f->get_int("i64"), -9000000000000000000ll);
  EXPECT_EQ(*f->get_float("f64"), 3.141592653589793);

  const Array* a = f->find("arr_i32")->as_array();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type, ValueType::INT32);
  ASSERT_EQ(a->items.size(), 3u);
  EXPECT_EQ(*a->items[1].as_int(), -2);
  EXPECT_EQ(f->find("arr_empty")->as_array()->type, ValueType::FLOAT32);
  EXPECT_TRUE(f->find("arr_empty")->as_array()->items.empty());
  const Array* s = f->find("arr_str")->as_array();
  ASSERT_EQ(s->items.size(), 3u);
  EXPECT_EQ(*s->items[1].as_string(), "");
  EXPECT_EQ(*s->items[2].as_string(), "ü");
  const Array* n = f->find("arr_nested")->as_array();
  ASSERT_EQ(n->type, ValueType::ARRAY);
  ASSERT_EQ(n->items.size(), 3u);
  EXPECT_EQ(n->items[0].as_array()->type, ValueType::UINT8);
  EXPECT_EQ(*n->items[0].as_array()->items[1].as_int(), 2);
  EXPECT_EQ(*n->items[1].as_array()->items[0].as_string(), "x");
  EXPECT_EQ(n->items[2].as_array()->type, ValueType::ARRAY);
  EXPECT_TRUE(n->items[2].as_array()->items.empty());
  EXPECT_EQ(*f->find("arr_bool")->as_array()->items[2].as_bool(), true);
  EXPECT_EQ(*f->find("arr_f64")->as_array()->items[1].as_float(), -1e300);
}

TEST(GgufRoundTrip, TypedGetters) {
  Writer w;
  w.set("n", uint32_t{7});
  w.set("big", uint64_t{1} << 63);
  w.set("s", std::string("x"));
  auto path = (test_dir() / "getters.gguf").string();
  ASSERT_TRUE(w.write(path).ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(*f->get_int("n"), 7);
  EXPECT_EQ(*f->get_float("n"), 7.0);
  EXPECT_FALSE(f->get_int("big").ok());
  EXPECT_NE(f->get_int("big").error().message.find("'big'"), std::string::npos);
  auto missing = f->get_int("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, path + ": metadata 'nope': missing");
  EXPECT_FALSE(f->get_string("n").ok());
  EXPECT_FALSE(f->get_bool("s").ok());
  EXPECT_EQ(*f->get_int_or("nope", 42), 42);
  EXPECT_EQ(*f->get_string_or("nope", "d"), "d");
  EXPECT_EQ(*f->get_float_or("nope", 0.5), 0.5);
  EXPECT_EQ(*f->get_bool_or("nope", true), true);
  EXPECT_FALSE(f->get_int_or("s", 1).ok());  // present with a wrong type is still an error
}

TEST(GgufRoundTrip, EveryTensorType) {
  Writer w;
  std::vector<std::vector<uint8_t>> expected;
  std::vector<DType> types;
  for (uint32_t id = 0; id < 64; ++id) {
    auto info = dtype_info(id);
    if (!info) continue;
    types.push_back(info->type);
    // Two rows of two blocks; bytes follow a pattern that differs per type.
    std::vector<uint64_t> shape = {2ull * info->block_size, 2};
    std::vector<uint8_t> bytes(4ull * info->type_size);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31 + id);
    ASSERT_TRUE(w.add_tensor(fmt::format("t.{}", info->name), info->type, shape, bytes).ok());
    expected.push_back(std::move(bytes));
  }
  // A tensor produced by a callback at write time.
  ASSERT_TRUE(w.add_tensor("filled", DType::F32, {3, 1, 1, 2},
                           [](std::span<uint8_t> out) {
                             std::vector<float> v = {1, 2, 3, 4, 5, 6};
                             ASSERT_EQ(out.size(), v.size() * 4);
                             std::memcpy(out.data(), v.data(), out.size());
                           })
                  .ok());
  auto path = (test_dir() / "tensors.gguf").string();
  auto st = w.write(path);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->tensors().size(), types.size() + 1);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  for (size_t i = 0; i < types.size(); ++i) {
    const TensorInfo& t = f->tensors()[i];
    EXPECT_EQ(t.type, types[i]);
    EXPECT_EQ(t.name, fmt::format("t.{}", dtype_name(types[i])));
    EXPECT_EQ(t.offset % 32, 0u);
    ASSERT_EQ(t.n_bytes, expected[i].size());
    EXPECT_EQ(t.n_elements, 4ull * dtype_info(types[i]).block_size);
    EXPECT_EQ(std::memcmp(t.data, expected[i].data(), t.n_bytes), 0) << t.name;
  }
  const TensorInfo* filled = f->tensor("filled");
  ASSERT_NE(filled, nullptr);
  EXPECT_EQ(filled->shape, (std::vector<uint64_t>{3, 1, 1, 2}));
  EXPECT_EQ(filled->ne(3), 2u);
  EXPECT_EQ(filled->ne(7), 1u);
  const auto* v = reinterpret_cast<const float*>(filled->data);
  EXPECT_EQ(v[5], 6.0f);
  EXPECT_EQ(f->tensor("absent"), nullptr);
}

TEST(GgufRoundTrip, AlignmentOtherThan32) {
  for (uint64_t align : {1ull, 8ull, 64ull, 4096ull}) {
    Writer w;
    w.set_alignment(align);
    w.set("general.name", std::string("aligned"));
    std::vector<uint8_t> a(3 * 4, 1), b(5 * 2, 2);
    ASSERT_TRUE(w.add_tensor("a", DType::F32, {3}, a).ok());
    ASSERT_TRUE(w.add_tensor("b", DType::F16, {5}, b).ok());
    auto path = (test_dir() / "aligned.gguf").string();
    auto st = w.write(path);
    ASSERT_TRUE(st.ok()) << st.error().message;
    auto f = File::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->alignment(), align);
    EXPECT_EQ(f->data_offset() % align, 0u);
    EXPECT_EQ(f->file_size() % align, 0u);
    EXPECT_EQ(f->tensor("b")->offset % align, 0u);
    EXPECT_EQ(f->tensor("b")->data[9], 2);
    EXPECT_EQ(f->find("general.alignment") != nullptr, align != 32);
  }
}

TEST(GgufRoundTrip, WriterRejectsBadInput) {
  Writer w;
  std::vector<uint8_t> four(4);
  EXPECT_FALSE(w.add_tensor("", DType::F32, {1}, four).ok());
  EXPECT_FALSE(w.add_tensor(std::string(64, 'n'), DType::F32, {1}, four).ok());
  EXPECT_TRUE(w.add_tensor(std::string(63, 'n'), DType::F32, {1}, four).ok());
  EXPECT_FALSE(w.add_tensor("x", DType::F32, {2}, four).ok());          // wrong byte count
  EXPECT_FALSE(w.add_tensor("x", DType::F32, {0}, four).ok());          // zero dimension
  EXPECT_FALSE(w.add_tensor("x", DType::F32, {1, 1, 1, 1, 1}, four).ok());
  EXPECT_FALSE(w.add_tensor("x", DType::Q4_0, {16}, four).ok());        // not a whole block
  EXPECT_TRUE(w.add_tensor("x", DType::F32, {1}, four).ok());
  EXPECT_FALSE(w.add_tensor("x", DType::F32, {1}, four).ok());          // duplicate
  w.set("mixed", Value(Array{ValueType::INT32, {int32_t{1}, 2.0f}}));
  auto dir = test_dir();
  EXPECT_FALSE(w.write((dir / "mixed.gguf").string()).ok());
  w.set("mixed", int32_t{1});
  w.set_alignment(48);
  auto st = w.write((dir / "align.gguf").string());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("power of two"), std::string::npos);
  w.set_alignment(32);
  EXPECT_TRUE(w.write((dir / "ok.gguf").string()).ok());
  EXPECT_FALSE(w.write((dir / "no_such_dir" / "x.gguf").string()).ok());
}

// v2 has the same layout as v3 (u64 counts and lengths); written by hand here.
TEST(GgufRoundTrip, ReadsVersion2) {
  Bytes b;
  b.header(2, 1, 2).kv_str("general.architecture", "llama").kv_u32("llama.block_count", 5);
  b.tensor("w", {4, 2}, 0, 0).pad_to(32);
  for (int i = 0; i < 8; ++i) b.pod(static_cast<float>(i));
  auto f = File::parse(b.data, "v2.gguf");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_int("llama.block_count"), 5);
  ASSERT_EQ(f->tensors().size(), 1u);
  EXPECT_EQ(reinterpret_cast<const float*>(f->tensors()[0].data)[7], 7.0f);
  EXPECT_EQ(f->path(), "v2.gguf");
}

TEST(GgufRoundTrip, DisplayString) {
  EXPECT_EQ(Value(uint8_t{7}).to_display_string(), "7");
  EXPECT_EQ(Value(int8_t{-7}).to_display_string(), "-7");
  EXPECT_EQ(Value(true).to_display_string(), "true");
  EXPECT_EQ(Value(std::string("a\"b\n")).to_display_string(), "\"a\\\"b\\n\"");
  std::vector<Value> items;
  for (int32_t i = 0; i < 10; ++i) items.emplace_back(i);
  EXPECT_EQ(Value(Array{ValueType::INT32, items}).to_display_string(3),
            "[0, 1, 2, ... (10 i32 items)]");
  EXPECT_EQ(Value(Array{ValueType::INT32, {}}).to_display_string(), "[]");
}

const std::string kShared = AUTOGLM_SHARED_DIR;

TEST(GgufRealFiles, Stories260K) {
  auto f = File::open(kShared + "/models/stories260K.gguf");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_int("llama.block_count"), 5);
  const Array* tokens = f->find("tokenizer.ggml.tokens")->as_array();
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->type, ValueType::STRING);
  EXPECT_EQ(tokens->items.size(), 512u);
  EXPECT_FALSE(f->tensors().empty());
  uint64_t n_params = 0;
  for (const auto& t : f->tensors()) {
    EXPECT_NE(t.data, nullptr);
    n_params += t.n_elements;
  }
  // stories260K: ~260K parameters.
  EXPECT_GT(n_params, 200000u);
  EXPECT_LT(n_params, 300000u);
}

TEST(GgufRealFiles, VocabFiles) {
  for (const char* name : {"deepseek-coder", "gpt-2", "llama-spm", "qwen2"}) {
    auto path = fmt::format("{}/reference/tokenizer/ggml-vocab-{}.gguf", kShared, name);
    auto f = File::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_TRUE(f->get_string("tokenizer.ggml.model").ok()) << path;
    const Value* tokens = f->find("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr) << path;
    EXPECT_GT(tokens->as_array()->items.size(), 1000u) << path;
  }
}

}  // namespace
}  // namespace ag::gguf
