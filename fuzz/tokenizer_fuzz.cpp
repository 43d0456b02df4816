// Fuzzes tokenize -> detokenize on arbitrary bytes (invalid UTF-8 included) with two real
// vocabularies, SentencePiece (llama-spm) and byte-level BPE (qwen2), loaded once from
// $AUTOGLM_SHARED_DIR/reference/tokenizer (default: the shared/ folder beside the repository).
// Input byte 0 picks the vocabulary and flags; the rest is the text. Checks beyond ASan/UBSan:
// ids stay inside the vocabulary, streamed text is valid UTF-8 and equals the pieces, SentencePiece
// detokenization gives the bytes back when no space touches a broken sequence, FIM prompts build.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "gguf/gguf.h"
#include "tokenizer/fim.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "tokenizer_fuzz: %s\n", what);
  std::abort();
}

std::unique_ptr<ag::tok::Tokenizer> load(const char* name) {
  const char* env = std::getenv("AUTOGLM_SHARED_DIR");
  const std::string dir = env != nullptr ? env : AUTOGLM_SHARED_DIR;
  const std::string path = dir + "/reference/tokenizer/ggml-vocab-" + name + ".gguf";
  auto file = ag::gguf::File::open(path);
  if (!file) {
    std::fprintf(stderr, "tokenizer_fuzz: %s (set AUTOGLM_SHARED_DIR)\n", file.error().message.c_str());
    std::exit(1);
  }
  auto t = ag::tok::Tokenizer::from_gguf(*file);
  if (!t) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", t.error().message.c_str());
    std::exit(1);
  }
  return std::make_unique<ag::tok::Tokenizer>(std::move(*t));
}

const ag::tok::Tokenizer& vocab(int which) {
  static const auto spm = load("llama-spm");
  static const auto bpe = load("qwen2");
  return which == 0 ? *spm : *bpe;
}

}  // namespace

// Loads both vocabularies before fuzzing starts: the one-time load (the qwen2 vocabulary has
// 151k tokens and merges) is then not charged to the first input's -timeout, which a loaded
// machine under ASan can exceed.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  vocab(0);
  vocab(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const ag::tok::Tokenizer& t = vocab(mode & 1);
  const bool add_special = (mode & 2) != 0;
  const bool parse_special = (mode & 4) != 0;
  const bool render_special = (mode & 8) != 0;

  const auto ids = t.encode(text, add_special, parse_special);
  for (const int32_t id : ids) {
    if (id < 0 || id >= t.n_tokens()) fail("encode produced an id outside the vocabulary");
  }
  if (!text.empty() && ids.empty()) fail("non-empty text produced no tokens");

  ag::tok::StreamDecoder stream(t, render_special);
  std::string streamed, pieces;
  for (const int32_t id : ids) {
    const std::string delta = stream.push(id);
    if (!ag::tok::is_valid_utf8(delta)) fail("stream decoder emitted invalid UTF-8");
    streamed += delta;
    pieces += t.token_to_piece(id, render_special);
  }
  const std::string rest = stream.flush();
  if (!ag::tok::is_valid_utf8(rest)) fail("stream decoder flushed invalid UTF-8");
  streamed += rest;
  if (ag::tok::is_valid_utf8(pieces) && streamed != pieces) fail("streamed text differs from the pieces");

  const std::string decoded = t.decode(ids, render_special);
  if ((mode & 1) == 0 && !add_special && !parse_special && text.find(' ') == std::string_view::npos &&
      text.find('<') == std::string_view::npos && decoded != text) {
    fail("SentencePiece decode(encode(text)) lost bytes");
  }

  // Arbitrary ids (two bytes each) decode without trouble.
  std::vector<int32_t> raw;
  for (size_t i = 1; i + 1 < size; i += 2) raw.push_back(int32_t(data[i]) << 8 | data[i + 1]);
  (void)t.decode(raw, render_special);

  const size_t cut = text.size() / 2;
  auto fim = ag::tok::build_infill_prompt(t, text.substr(0, cut), text.substr(cut),
                                          (mode & 16) ? ag::tok::FimOrder::spm : ag::tok::FimOrder::psm);
  if ((mode & 1) == 1 && !fim) fail("qwen2 has FIM tokens but the prompt failed");
  return 0;
}
