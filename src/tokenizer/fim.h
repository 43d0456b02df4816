#pragma once
// Fill-in-the-middle prompts built from a model's FIM token ids (tokenizer.ggml.fim_*_token_id,
// or found by text at load time: <|fim_prefix|>, <fim_prefix>, <｜fim▁begin｜>, <PRE>, ...).
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tokenizer/tokenizer.h"

namespace ag::tok {

// psm: [BOS] <prefix-token> prefix <suffix-token> suffix <middle-token>   (every family)
// spm: [BOS] <prefix-token> <suffix-token> suffix <middle-token> prefix   (FIM paper variant 2,
//      trained by StarCoder and CodeLlama; note llama.cpp's --spm-infill uses a different layout)
// The suffix is encoded without the SentencePiece space prefix (CodeLlama's encode_infilling).
enum class FimOrder { psm, spm };

// Token ids of the infill prompt (BOS first when the model adds one). The model generates the
// middle after the last id. Error when the vocabulary lacks the prefix/suffix/middle tokens.
Result<std::vector<int32_t>> build_infill_prompt(const Tokenizer& tokenizer, std::string_view prefix,
                                                 std::string_view suffix, FimOrder order);

}  // namespace ag::tok
