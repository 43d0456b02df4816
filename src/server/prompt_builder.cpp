#include "server/prompt_builder.h"

#include "tokenizer/fim.h"

namespace ag::server {

ApiResult<std::vector<int32_t>> chat_prompt(const tok::Tokenizer& tokenizer,
                                            const tok::ChatTemplate& chat_template,
                                            const ChatRequest& request, std::string* text) {
  tok::ChatRenderOptions options;
  options.add_generation_prompt = true;
  const auto& sp = tokenizer.special();
  if (sp.bos >= 0) options.bos_token = std::string(tokenizer.token_text(sp.bos));
  if (sp.eos >= 0) options.eos_token = std::string(tokenizer.token_text(sp.eos));
  if (!request.tools.is_null()) options.tools = request.tools;
  if (!request.chat_template_kwargs.is_null()) options.extra_context = request.chat_template_kwargs;
  auto rendered = chat_template.render(request.messages, options);
  if (!rendered.ok()) return invalid_field("messages", "chat template: " + rendered.error().message);
  std::vector<int32_t> ids = tokenizer.encode(*rendered, /*add_special=*/true, /*parse_special=*/true);
  if (text) *text = std::move(*rendered);
  return ids;
}

ApiResult<std::vector<int32_t>> fim_prompt(const tok::Tokenizer& tokenizer, const std::string& prefix,
                                           const std::string& suffix, const char* param) {
  auto ids = tok::build_infill_prompt(tokenizer, prefix, suffix, tok::FimOrder::psm);
  if (!ids.ok()) return invalid_field(param, "fill-in-the-middle: " + ids.error().message);
  return std::move(*ids);
}

ApiResult<std::vector<int32_t>> infill_prompt(const tok::Tokenizer& tokenizer, const InfillRequest& request) {
  auto fim = fim_prompt(tokenizer, request.input_prefix, request.input_suffix, "input_prefix");
  if (auto* e = std::get_if<ApiError>(&fim)) return *e;
  std::vector<int32_t> ids = std::move(std::get<std::vector<int32_t>>(fim));

  const auto& sp = tokenizer.special();
  std::vector<int32_t> extra;
  auto append_text = [&](const std::string& t) {
    const auto toks = tokenizer.encode_continuation(t);
    extra.insert(extra.end(), toks.begin(), toks.end());
  };
  if (!request.input_extra.empty()) {
    if (sp.fim_rep >= 0) {
      extra.push_back(sp.fim_rep);
      append_text("myproject\n");
    }
    for (const auto& [filename, text] : request.input_extra) {
      if (sp.fim_sep >= 0) {
        extra.push_back(sp.fim_sep);
        append_text(filename + "\n");
      } else {
        append_text("\n\n--- snippet ---\n\n");
      }
      append_text(text);
    }
    if (sp.fim_sep >= 0) {
      extra.push_back(sp.fim_sep);
      append_text("filename\n");
    }
  }
  // The context goes after BOS, before the FIM prefix token.
  const size_t at = (!ids.empty() && sp.bos >= 0 && ids[0] == sp.bos) ? 1 : 0;
  ids.insert(ids.begin() + static_cast<ptrdiff_t>(at), extra.begin(), extra.end());
  if (!request.prompt.empty()) {
    const auto toks = tokenizer.encode_continuation(request.prompt);
    ids.insert(ids.end(), toks.begin(), toks.end());
  }
  return ids;
}

}  // namespace ag::server
