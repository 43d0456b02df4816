#pragma once
// Helpers for the tokenizer tests: load the shared reference vocabularies once, and build small
// GGUF vocabularies with the Writer.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace ag::tok::test {

inline std::string shared_path(const std::string& rel) {
  return std::string(AUTOGLM_SHARED_DIR) + "/" + rel;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline Result<Tokenizer> load_tokenizer(const std::string& path) {
  AG_TRY(auto file, gguf::File::open(path));
  return Tokenizer::from_gguf(file);
}

// A vocabulary under reference/tokenizer/ ("qwen2" -> ggml-vocab-qwen2.gguf), loaded once.
inline const Tokenizer& reference_vocab(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) {
    auto t = load_tokenizer(shared_path("reference/tokenizer/ggml-vocab-" + name + ".gguf"));
    if (!t.ok()) {
      ADD_FAILURE() << t.error().message;
      std::abort();
    }
    slot = std::make_unique<Tokenizer>(std::move(*t));
  }
  return *slot;
}

struct VocabSpec {
  std::string model = "llama";
  std::string pre;  // "" = key absent
  std::vector<std::string> tokens;
  std::vector<float> scores;                  // empty = key absent
  std::vector<int32_t> types;                 // empty = key absent
  std::vector<std::string> merges;            // gpt2 only
  std::vector<std::pair<std::string, gguf::Value>> extra;  // more metadata

  int32_t add(std::string text, float score = 0.0f, TokenType type = TokenType::normal) {
    tokens.push_back(std::move(text));
    scores.push_back(score);
    types.push_back(static_cast<int32_t>(type));
    return static_cast<int32_t>(tokens.size() - 1);
  }
  int32_t id(const std::string& text) const {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == text) return static_cast<int32_t>(i);
    }
    ADD_FAILURE() << "no token '" << text << "' in the test vocabulary";
    return -1;
  }
};

inline gguf::Value string_array(const std::vector<std::string>& v) {
  gguf::Array a;
  a.type = gguf::ValueType::STRING;
  for (const auto& s : v) a.items.emplace_back(s);
  return gguf::Value(std::move(a));
}

// Writes the spec as a vocabulary-only GGUF file and loads it.
inline Result<Tokenizer> build_tokenizer(const VocabSpec& spec) {
  static int counter = 0;
  const std::string path =
      ::testing::TempDir() + "tok_vocab_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".gguf";
  gguf::Writer w;
  w.set("general.architecture", std::string("llama"));
  w.set("tokenizer.ggml.model", spec.model);
  if (!spec.pre.empty()) w.set("tokenizer.ggml.pre", spec.pre);
  w.set("tokenizer.ggml.tokens", string_array(spec.tokens));
  if (!spec.scores.empty()) {
    gguf::Array a;
    a.type = gguf::ValueType::FLOAT32;
    for (float f : spec.scores) a.items.emplace_back(f);
    w.set("tokenizer.ggml.scores", gguf::Value(std::move(a)));
  }
  if (!spec.types.empty()) {
    gguf::Array a;
    a.type = gguf::ValueType::INT32;
    for (int32_t t : spec.types) a.items.emplace_back(t);
    w.set("tokenizer.ggml.token_type", gguf::Value(std::move(a)));
  }
  if (spec.model == "gpt2") w.set("tokenizer.ggml.merges", string_array(spec.merges));
  for (const auto& [k, v] : spec.extra) w.set(k, v);
  AG_TRY_STATUS(w.write(path));
  auto t = load_tokenizer(path);
  std::remove(path.c_str());
  return t;
}

// A SentencePiece-style base: <unk>, <s>, </s> and the 256 byte tokens <0x00>..<0xFF>.
inline VocabSpec spm_base() {
  VocabSpec s;
  s.model = "llama";
  s.add("<unk>", 0, TokenType::unknown);
  s.add("<s>", 0, TokenType::control);
  s.add("</s>", 0, TokenType::control);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    s.add(buf, 0, TokenType::byte);
  }
  return s;
}

// A byte-level BPE base: the 256 characters of the GPT-2 byte alphabet, ids 0..255 by byte.
std::string gpt2_char(uint8_t byte);
inline VocabSpec bpe_base(const std::string& pre) {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = pre;
  for (int b = 0; b < 256; ++b) s.add(gpt2_char(static_cast<uint8_t>(b)));
  return s;
}

// Adds the merge "a b" and the token "ab" (in the byte alphabet: write spaces as "Ġ").
inline int32_t add_merge(VocabSpec& s, const std::string& a, const std::string& b) {
  s.merges.push_back(a + " " + b);
  return s.add(a + b);
}

}  // namespace ag::tok::test
