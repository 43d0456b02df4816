// Corrupt and hostile GGUF files: each must give one error line naming the file, the field and the
// problem — never a crash, a huge allocation or a hang.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf_bytes.h"

namespace ag::gguf {
namespace {

using testing::Bytes;
using testing::test_dir;

// Parses `b` and expects an error containing `needle`; the error is one line prefixed by the label.
void expect_error(const Bytes& b, const std::string& needle) {
  auto f = File::parse(b.data, "bad.gguf");
  ASSERT_FALSE(f.ok()) << "expected an error containing: " << needle;
  const std::string& msg = f.error().message;
  EXPECT_EQ(msg.rfind("bad.gguf: ", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nexpected: " << needle;
}

// A valid file with one tensor (F32 [8] = 32 bytes at offset 0) and one key; callers edit copies.
Bytes one_tensor_file(uint64_t offset = 0, std::vector<uint64_t> dims = {8}, uint32_t type = 0) {
  Bytes b;
  b.header(3, 1, 1).kv_str("general.architecture", "llama");
  b.tensor("w", std::move(dims), type, offset).pad_to(32);
  return b.zeros(32);
}

TEST(GgufCorrupt, ValidBaselineParses) {
  auto f = File::parse(one_tensor_file().data, "ok.gguf");
  ASSERT_TRUE(f.ok()) << f.error().message;
}

// Every prefix of a valid file is rejected with one line. The file's last tensor ends exactly at
// the end of the file, so no prefix is itself a valid file.
TEST(GgufCorrupt, TruncatedAtEveryLength) {
  Writer w;
  w.set("general.architecture", std::string("llama"));
  w.set("u8", uint8_t{1});
  w.set("i16", int16_t{-2});
  w.set("f64", 2.5);
  w.set("b", true);
  w.set("arr", Value(Array{ValueType::STRING, {std::string("ab"), std::string("")}}));
  w.set("nested", Value(Array{ValueType::ARRAY, {Value(Array{ValueType::UINT64, {uint64_t{9}}})}}));
  std::vector<uint8_t> q(18 * 2, 7), last(32, 1);
  ASSERT_TRUE(w.add_tensor("q", DType::Q4_0, {32, 2}, q).ok());
  ASSERT_TRUE(w.add_tensor("last", DType::F32, {4, 2}, last).ok());
  auto path = (test_dir() / "full.gguf").string();
  ASSERT_TRUE(w.write(path).ok());
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> full((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(File::parse(full, "full.gguf").ok());
  for (size_t len = 0; len < full.size(); ++len) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    auto f = File::parse(cut, "cut.gguf");
    ASSERT_FALSE(f.ok()) << "prefix of " << len << " bytes parsed";
    const std::string& msg = f.error().message;
    ASSERT_EQ(msg.rfind("cut.gguf: ", 0), 0u) << msg;
    ASSERT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(GgufCorrupt, Header) {
  expect_error(Bytes{}, "too small");
  Bytes magic;
  magic.u32(0x46554746).u32(3).u64(0).u64(0);
  expect_error(magic, "bad magic 'FGUF'");
  Bytes v1;
  v1.header(1, 0, 0);
  expect_error(v1, "header: unsupported version 1");
  Bytes v99;
  v99.header(99, 0, 0);
  expect_error(v99, "unsupported version 99");
  Bytes big_endian;
  big_endian.header(0x03000000, 0, 0);
  expect_error(big_endian, "big-endian");
  Bytes short_counts;
  short_counts.u32(0x46554747).u32(3).u64(0);
  expect_error(short_counts, "metadata count");
}

TEST(GgufCorrupt, AbsurdCounts) {
  Bytes n_tensors;
  n_tensors.header(3, uint64_t{1} << 60, 0);
  expect_error(n_tensors, "tensor count 1152921504606846976 is more than the file");
  Bytes n_kv;
  n_kv.header(3, 0, uint64_t{1} << 60);
  expect_error(n_kv, "metadata count 1152921504606846976 is more than the file");
  Bytes all_ones;
  all_ones.header(3, ~uint64_t{0}, ~uint64_t{0});
  expect_error(all_ones, "is more than the file");
  Bytes key_len;
  key_len.header(3, 0, 1).u64(uint64_t{1} << 63).zeros(16);
  expect_error(key_len, "metadata key #0: key length 9223372036854775808");
  Bytes str_len;
  str_len.header(3, 0, 1).str("k").u32(8).u64(~uint64_t{0});
  expect_error(str_len, "metadata 'k': string length 18446744073709551615");
  Bytes arr_len;
  arr_len.header(3, 0, 1).str("k").u32(9).u32(0).u64(uint64_t{1} << 60);
  expect_error(arr_len, "array length 1152921504606846976 of u8");
  Bytes arr_of_arr;
  arr_of_arr.header(3, 0, 1).str("k").u32(9).u32(9).u64(1000).u32(0).u64(0);
  expect_error(arr_of_arr, "array length 1000 of array");
  Bytes name_len;
  name_len.header(3, 1, 0).u64(uint64_t{1} << 40).zeros(40);
  expect_error(name_len, "tensor info #0: name length 1099511627776");
}

TEST(GgufCorrupt, BadValues) {
  Bytes unknown;
  unknown.header(3, 0, 1).str("k").u32(13).u32(0);
  expect_error(unknown, "metadata 'k': unknown value type 13");
  Bytes bad_elem;
  bad_elem.header(3, 0, 1).str("k").u32(9).u32(77).u64(0);
  expect_error(bad_elem, "unknown value type 77");
  Bytes bad_bool;
  bad_bool.header(3, 0, 1).str("k").u32(7).pod<uint8_t>(2);
  expect_error(bad_bool, "bool value 2");
  Bytes dup;
  dup.header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2);
  expect_error(dup, "metadata 'k': duplicate key");
  Bytes newline_key;  // names from the file are escaped so the error stays on one line
  newline_key.header(3, 0, 2).kv_u32("a\nb", 1).kv_u32("a\nb", 2);
  expect_error(newline_key, "metadata 'a\\x0ab': duplicate key");
  Bytes empty_key;
  empty_key.header(3, 0, 1).kv_u32("", 1);
  expect_error(empty_key, "empty key");
  // Arrays nested deeper than the limit (each level: type ARRAY, count 1).
  Bytes deep;
  deep.header(3, 0, 1).str("k").u32(9);
  for (int i = 0; i < 100; ++i) deep.u32(9).u64(1);
  deep.u32(0).u64(0);
  expect_error(deep, "nested more than");
}

TEST(GgufCorrupt, BadAlignment) {
  for (uint32_t a : {0u, 3u, 48u}) {
    Bytes b;
    b.header(3, 0, 1).kv_u32("general.alignment", a);
    expect_error(b, fmt::format("metadata 'general.alignment': alignment {} is not a power of two", a));
  }
  Bytes wrong_type;
  wrong_type.header(3, 0, 1).kv_str("general.alignment", "32");
  expect_error(wrong_type, "general.alignment': type string (expected u32)");
}

TEST(GgufCorrupt, TensorInfos) {
  expect_error(one_tensor_file(0, {8, 1, 1, 1, 1}), "tensor 'w': n_dims 5 is not between 1 and 4");
  expect_error(one_tensor_file(0, {}), "n_dims 0");
  expect_error(one_tensor_file(0, {8, 0}), "tensor 'w': dimension 1 is zero");
  expect_error(one_tensor_file(0, {8}, 99), "tensor 'w': unknown tensor type 99");
  expect_error(one_tensor_file(0, {8}, 4), "unknown tensor type 4");  // Q4_2: removed from GGML
  expect_error(one_tensor_file(0, {16}, 2), "row size 16 is not a multiple of the q4_0 block size 32");
  expect_error(one_tensor_file(0, {uint64_t{1} << 32, uint64_t{1} << 32}), "element count overflows");
  expect_error(one_tensor_file(0, {uint64_t{1} << 62, 2}), "element count overflows");

  Bytes dup;
  dup.header(3, 2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad_to(32).zeros(64);
  expect_error(dup, "tensor 'w': duplicate tensor name");
  Bytes empty_name;
  empty_name.header(3, 1, 0).tensor("", {4}, 0, 0).pad_to(32).zeros(32);
  expect_error(empty_name, "empty tensor name");
}

TEST(GgufCorrupt, TensorData) {
  // The one-tensor file is 160 bytes: data section at 128, the tensor's 32 bytes at [128, 160).
  ASSERT_EQ(one_tensor_file().data.size(), 160u);
  expect_error(one_tensor_file(32),
               "bad.gguf: tensor 'w': data [offset 160, 32 bytes) runs past the end of the file (160 bytes)");
  expect_error(one_tensor_file(~uint64_t{0} - 31), "is past the end of the file");
  expect_error(one_tensor_file(0, {16}), "tensor 'w': data [offset 128, 64 bytes) runs past");
  expect_error(one_tensor_file(4), "tensor 'w': data offset 4 is not a multiple of the alignment 32");

  Bytes overlap;
  overlap.header(3, 2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad_to(32).zeros(64);
  expect_error(overlap, "tensor 'b': data at offset 32 overlaps tensor 'a' [offset 0, 64 bytes)");
  Bytes same;
  same.header(3, 2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 0).pad_to(32).zeros(32);
  expect_error(same, "overlaps");

  // The data section itself starts past the end of the file (padding cut off).
  Bytes no_data;
  no_data.header(3, 1, 0).tensor("w", {8}, 0, 0);
  expect_error(no_data, "data section: starts at offset 64, past the end of the file");
}

TEST(GgufCorrupt, OpenErrors) {
  auto missing = File::open("/nonexistent/model.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/model.gguf"), std::string::npos);
  auto dir = File::open(test_dir().string());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("not a regular file"), std::string::npos);
  auto empty_path = test_dir() / "empty.gguf";
  std::ofstream(empty_path).close();
  auto empty = File::open(empty_path.string());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message,
            empty_path.string() + ": header: file is 0 bytes, too small for a GGUF header");
}

}  // namespace
}  // namespace ag::gguf
