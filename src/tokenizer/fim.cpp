// Fill-in-the-middle prompts.
//
// PSM: [BOS] <pre> prefix <suf> suffix <mid>
// SPM: [BOS] <pre> <suf> suffix <mid> prefix   (variant 2 of Bavarian et al. 2022, "Efficient
//      Training of Language Models to Fill in the Middle": what StarCoder's Megatron FIM and
//      CodeLlama's `suffix_first` infilling were trained on)
//
// Spacing follows CodeLlama's reference code (llama/generation.py, infilling_prompt_tokens):
// the prefix is encoded like any text (a SentencePiece vocabulary adds its space prefix, giving
// "<PRE> prefix"), the suffix with encode_infilling, i.e. without that space ("<SUF>suffix").
// For byte-level BPE models (Qwen2.5-Coder, DeepSeek-Coder, StarCoder) the two are the same.
// Prefix and suffix are user code: special-token text inside them is not parsed.
#include "tokenizer/fim.h"

namespace ag::tok {

Result<std::vector<int32_t>> build_infill_prompt(const Tokenizer& tokenizer, std::string_view prefix,
                                                 std::string_view suffix, FimOrder order) {
  const SpecialIds& s = tokenizer.special();
  if (s.fim_pre < 0 || s.fim_suf < 0 || s.fim_mid < 0) {
    return ag::error(
        "the model has no fill-in-the-middle tokens (tokenizer.ggml.fim_pre/suf/mid_token_id, "
        "or tokens such as <|fim_prefix|>, <fim_prefix>, <｜fim▁begin｜>, ▁<PRE>)");
  }
  const std::vector<int32_t> pre = tokenizer.encode(prefix, false, false);
  const std::vector<int32_t> suf = tokenizer.encode_continuation(suffix);

  std::vector<int32_t> out;
  out.reserve(pre.size() + suf.size() + 4);
  if (tokenizer.add_bos() && s.bos >= 0) out.push_back(s.bos);
  out.push_back(s.fim_pre);
  if (order == FimOrder::psm) {
    out.insert(out.end(), pre.begin(), pre.end());
    out.push_back(s.fim_suf);
    out.insert(out.end(), suf.begin(), suf.end());
    out.push_back(s.fim_mid);
  } else {
    out.push_back(s.fim_suf);
    out.insert(out.end(), suf.begin(), suf.end());
    out.push_back(s.fim_mid);
    out.insert(out.end(), pre.begin(), pre.end());
  }
  return out;
}

}  // namespace ag::tok
