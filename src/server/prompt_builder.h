#pragma once
// From request fields to prompt token ids: chat messages through the chat template, and
// fill-in-the-middle layouts (/infill with its context files, /v1/completions with `suffix`).
#include <cstdint>
#include <string>
#include <vector>

#include "server/openai_json.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ag::server {

// Renders the conversation (add_generation_prompt on) and tokenizes it with the model's BOS and
// special tokens parsed. `text` receives the rendered prompt.
ApiResult<std::vector<int32_t>> chat_prompt(const tok::Tokenizer& tokenizer,
                                            const tok::ChatTemplate& chat_template,
                                            const ChatRequest& request, std::string* text);

// [BOS] <prefix> prefix <suffix> suffix <middle>, as build_infill_prompt lays it out (PSM).
ApiResult<std::vector<int32_t>> fim_prompt(const tok::Tokenizer& tokenizer, const std::string& prefix,
                                           const std::string& suffix, const char* param);

// llama.cpp's /infill layout: context files first (with the repo / file-separator tokens when the
// vocabulary has them, else plain-text separators), then the FIM prompt, then `prompt` as the
// start of the middle.
ApiResult<std::vector<int32_t>> infill_prompt(const tok::Tokenizer& tokenizer, const InfillRequest& request);

}  // namespace ag::server
