// Fuzzes the GGUF reader: arbitrary bytes either parse into a File whose every value and tensor is
// safe to touch, or give one error line. ASan/UBSan catch out-of-bounds reads and UB; the checks
// below catch a parse that "succeeds" with inconsistent results.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "gguf/gguf.h"

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

// Reads every value (recursively) so a value with a broken representation is hit.
uint64_t touch(const ag::gguf::Value& v) {
  uint64_t h = static_cast<uint64_t>(v.type());
  if (auto i = v.as_int()) h += static_cast<uint64_t>(*i);
  if (auto d = v.as_float()) h += *d != *d ? 1 : 0;
  if (const std::string* s = v.as_string()) h += s->size();
  if (const ag::gguf::Array* a = v.as_array()) {
    for (const auto& item : a->items) {
      if (item.type() != a->type) fail("array item type differs from the array's element type");
      h += touch(item);
    }
  }
  h += v.to_display_string(4).size();
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto file = ag::gguf::File::parse(bytes, "fuzz.gguf");
  if (!file.ok()) {
    const std::string& msg = file.error().message;
    if (msg.find('\n') != std::string::npos) fail("error message spans several lines");
    if (msg.rfind("fuzz.gguf: ", 0) != 0) fail("error message does not start with the file label");
    return 0;
  }
  volatile uint64_t sink = 0;
  for (const auto& [key, value] : file->metadata()) {
    sink = sink + key.size() + touch(value);
    if (file->find(key) == nullptr) fail("find() misses a key that metadata() lists");
    (void)file->get_int(key);
    (void)file->get_float(key);
    (void)file->get_string(key);
    (void)file->get_bool(key);
  }
  if (file->data_offset() % file->alignment() != 0) fail("data section is not aligned");
  for (const auto& t : file->tensors()) {
    if (t.data == nullptr) fail("tensor without data");
    if (t.data < data || t.data + t.n_bytes > data + size) fail("tensor data outside the input");
    if (t.offset % file->alignment() != 0) fail("tensor offset is not aligned");
    if (t.shape.empty() || t.shape.size() > 4) fail("tensor with 0 or more than 4 dims");
    uint64_t n = 1;
    for (uint64_t d : t.shape) n *= d;
    if (n != t.n_elements) fail("n_elements is not the product of the shape");
    if (t.n_bytes != ag::row_bytes(t.type, t.n_elements)) fail("n_bytes disagrees with the type");
    // Touch the first and last byte: ASan reports any read past the input.
    sink = sink + t.data[0] + t.data[t.n_bytes - 1];
    if (file->tensor(t.name) != &t) fail("tensor() does not find a listed tensor");
  }
  (void)sink;
  return 0;
}
