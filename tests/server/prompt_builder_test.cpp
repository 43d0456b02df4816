// Prompt layouts: /infill with context files (Qwen2.5-Coder's repo / file-separator tokens, and
// plain-text separators for a vocabulary without them), completions with `suffix`, chat through
// a template.
#include "server/prompt_builder.h"

#include <gtest/gtest.h>

#include "gguf/gguf.h"

namespace ag::server {
namespace {

tok::Tokenizer load(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file.ok()) throw std::runtime_error(file.error().message);
  auto t = tok::Tokenizer::from_gguf(*file);
  if (!t.ok()) throw std::runtime_error(t.error().message);
  return std::move(*t);
}

std::vector<int32_t> concat(std::initializer_list<std::vector<int32_t>> parts) {
  std::vector<int32_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(PromptBuilder, InfillWithRepoContextQwen) {
  const tok::Tokenizer t = load(std::string(AUTOGLM_SHARED_DIR) + "/reference/tokenizer/ggml-vocab-qwen2.gguf");
  const auto& sp = t.special();
  ASSERT_GE(sp.fim_pre, 0);
  ASSERT_GE(sp.fim_rep, 0);
  ASSERT_GE(sp.fim_sep, 0);
  InfillRequest r;
  r.input_prefix = "def add(a, b):\n    ";
  r.input_suffix = "\n\nprint(add(1, 2))\n";
  r.prompt = "return";
  r.input_extra = {{"util.py", "def sub(a, b):\n    return a - b\n"}};
  auto ids = std::get<std::vector<int32_t>>(infill_prompt(t, r));
  auto fim = std::get<std::vector<int32_t>>(fim_prompt(t, r.input_prefix, r.input_suffix, "input_prefix"));
  const auto expected = concat({{sp.fim_rep}, t.encode_continuation("myproject\n"), {sp.fim_sep},
                                t.encode_continuation("util.py\n"), t.encode_continuation(r.input_extra[0].second),
                                {sp.fim_sep}, t.encode_continuation("filename\n"), fim,
                                t.encode_continuation("return")});
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(fim.front(), sp.fim_pre);  // Qwen adds no BOS
  EXPECT_EQ(fim.back(), sp.fim_mid);
}

TEST(PromptBuilder, InfillWithoutRepoTokensUsesTextSeparators) {
  const tok::Tokenizer t = load(std::string(AUTOGLM_SHARED_DIR) + "/reference/tokenizer/ggml-vocab-deepseek-coder.gguf");
  const auto& sp = t.special();
  ASSERT_GE(sp.fim_pre, 0);
  InfillRequest r;
  r.input_prefix = "int main() {";
  r.input_suffix = "}";
  r.input_extra = {{"a.h", "int f();"}};
  auto ids = std::get<std::vector<int32_t>>(infill_prompt(t, r));
  auto fim = std::get<std::vector<int32_t>>(fim_prompt(t, r.input_prefix, r.input_suffix, "input_prefix"));
  std::vector<int32_t> extra = concat({sp.fim_rep >= 0 ? std::vector<int32_t>{sp.fim_rep} : std::vector<int32_t>{},
                                       sp.fim_rep >= 0 ? t.encode_continuation("myproject\n") : std::vector<int32_t>{},
                                       t.encode_continuation("\n\n--- snippet ---\n\n"),
                                       t.encode_continuation("int f();")});
  ASSERT_LT(sp.fim_sep, 0);
  // BOS (when the model adds one) stays first; the context follows it.
  std::vector<int32_t> expected = fim;
  const size_t at = (!fim.empty() && sp.bos >= 0 && fim[0] == sp.bos) ? 1 : 0;
  expected.insert(expected.begin() + static_cast<ptrdiff_t>(at), extra.begin(), extra.end());
  EXPECT_EQ(ids, expected);
}

TEST(PromptBuilder, NoFimTokensIsAnError) {
  const tok::Tokenizer t = load(std::string(AUTOGLM_SHARED_DIR) + "/models/stories260K.gguf");
  auto r = fim_prompt(t, "a", "b", "suffix");
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  EXPECT_EQ(std::get<ApiError>(r).param, "suffix");
}

TEST(PromptBuilder, ChatThroughTemplate) {
  const tok::Tokenizer t = load(std::string(AUTOGLM_SHARED_DIR) + "/models/stories260K.gguf");
  auto tmpl = tok::ChatTemplate::builtin("chatml");
  ASSERT_TRUE(tmpl.ok());
  ChatRequest r;
  r.messages = json::array({{{"role", "user"}, {"content", "Hi"}}});
  std::string text;
  auto ids = std::get<std::vector<int32_t>>(chat_prompt(t, *tmpl, r, &text));
  EXPECT_EQ(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ids, t.encode(text, true, true));
  EXPECT_EQ(ids.front(), t.special().bos);
  // A template that raises is a 400 on 'messages', with the template's own message.
  auto raising = tok::ChatTemplate::from_source("{{ raise_exception('roles must alternate') }}");
  ASSERT_TRUE(raising.ok());
  auto bad = chat_prompt(t, *raising, r, nullptr);
  ASSERT_TRUE(std::holds_alternative<ApiError>(bad));
  EXPECT_EQ(std::get<ApiError>(bad).param, "messages");
  EXPECT_NE(std::get<ApiError>(bad).message.find("roles must alternate"), std::string::npos);
}

}  // namespace
}  // namespace ag::server
