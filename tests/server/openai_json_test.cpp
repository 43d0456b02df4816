// JSON ⇄ typed requests: defaults, every field's type and range checks naming the field, and
// the response shapes.
#include "server/openai_json.h"

#include <gtest/gtest.h>

namespace ag::server {
namespace {

Limits limits() {
  Limits l;
  l.n_vocab = 512;
  l.priority_levels = 3;
  return l;
}

template <typename T>
const ApiError& err(const ApiResult<T>& r) {
  static const ApiError none{0, "no error", "", "", ""};
  const ApiError* e = std::get_if<ApiError>(&r);
  EXPECT_NE(e, nullptr) << "expected an error";
  return e ? *e : none;
}

TEST(OpenAiJson, CompletionDefaultsAndFields) {
  auto r = parse_completion_request(json::parse(R"({"prompt": "hi"})"), limits());
  const auto& c = std::get<CompletionRequest>(r);
  EXPECT_EQ(c.prompts.size(), 1u);
  EXPECT_EQ(*c.gen.max_tokens, 16);
  EXPECT_FLOAT_EQ(c.gen.sampling.temperature, 1.0f);
  EXPECT_EQ(c.logprobs, -1);
  EXPECT_FALSE(c.gen.seed.has_value());

  auto full = parse_completion_request(json::parse(R"({
    "prompt": [[1, 2], [3]], "suffix": null, "max_tokens": 7, "temperature": 0.5, "top_p": 0.9,
    "n": 2, "stop": ["a", "bb"], "seed": 7, "logprobs": 3, "echo": false, "presence_penalty": 1,
    "frequency_penalty": -1, "logit_bias": {"5": -100, "6": false}, "stream": true,
    "stream_options": {"include_usage": true}, "user": "u", "top_k": 40, "min_p": 0.05,
    "repeat_penalty": 1.1, "ignore_eos": true, "priority": 2, "timeout_ms": 1.5, "unknown": {}})"),
                                       limits());
  ASSERT_TRUE(std::holds_alternative<CompletionRequest>(full)) << err(full).message;
  const auto& f = std::get<CompletionRequest>(full);
  EXPECT_EQ(f.prompts.size(), 2u);
  EXPECT_TRUE(f.prompts[0].is_tokens);
  EXPECT_EQ(f.prompts[1].tokens, std::vector<int32_t>{3});
  EXPECT_EQ(*f.gen.max_tokens, 7);
  EXPECT_EQ(f.gen.n, 2);
  EXPECT_EQ(f.gen.stop, (std::vector<std::string>{"a", "bb"}));
  EXPECT_EQ(*f.gen.seed, 7u);
  EXPECT_EQ(f.logprobs, 3);
  EXPECT_TRUE(f.gen.stream);
  EXPECT_TRUE(f.gen.include_usage);
  EXPECT_EQ(f.gen.sampling.top_k, 40);
  EXPECT_TRUE(f.gen.ignore_eos);
  EXPECT_EQ(f.gen.priority, 2);
  EXPECT_EQ(*f.gen.timeout_us, 1500);
  ASSERT_EQ(f.gen.sampling.logit_bias.size(), 2u);
  EXPECT_EQ(f.gen.sampling.logit_bias[0], (std::pair<int32_t, float>{5, -100.0f}));
  EXPECT_TRUE(std::isinf(f.gen.sampling.logit_bias[1].second));
}

TEST(OpenAiJson, CompletionErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* param;
  } cases[] = {
      {R"({})", "prompt"},
      {R"({"prompt": 3})", "prompt"},
      {R"({"prompt": []})", "prompt"},
      {R"({"prompt": [1, "a"]})", "prompt"},
      {R"({"prompt": [1, 512]})", "prompt"},
      {R"({"prompt": [[1], []]})", "prompt"},
      {R"({"prompt": "x", "max_tokens": 0})", "max_tokens"},
      {R"({"prompt": "x", "max_tokens": 1.5})", "max_tokens"},
      {R"({"prompt": "x", "temperature": "hot"})", "temperature"},
      {R"({"prompt": "x", "temperature": -0.1})", "temperature"},
      {R"({"prompt": "x", "top_p": 1.5})", "top_p"},
      {R"({"prompt": "x", "n": 0})", "n"},
      {R"({"prompt": "x", "n": 17})", "n"},
      {R"({"prompt": "x", "stop": 5})", "stop"},
      {R"({"prompt": "x", "stop": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]})", "stop"},
      {R"({"prompt": "x", "logprobs": 21})", "logprobs"},
      {R"({"prompt": "x", "echo": "yes"})", "echo"},
      {R"({"prompt": "x", "logit_bias": {"600": 1}})", "logit_bias"},
      {R"({"prompt": "x", "logit_bias": {"5": 101}})", "logit_bias"},
      {R"({"prompt": "x", "logit_bias": []})", "logit_bias"},
      {R"({"prompt": "x", "priority": 4})", "priority"},
      {R"({"prompt": "x", "timeout_ms": 0})", "timeout_ms"},
      {R"({"prompt": "x", "stream_options": 1})", "stream_options"},
      {R"({"prompt": "x", "repeat_penalty": 0})", "repeat_penalty"},
      {R"({"prompt": "x", "suffix": 1})", "suffix"},
      {R"({"prompt": "x", "suffix": "s", "echo": true})", "echo"},
      {R"({"prompt": "x", "seed": "s"})", "seed"},
  };
  for (const auto& c : cases) {
    auto r = parse_completion_request(json::parse(c.body), limits());
    const ApiError& e = err(r);
    EXPECT_EQ(e.param, c.param) << c.body << " → " << e.message;
    EXPECT_EQ(e.status, 400);
    EXPECT_NE(e.message.find(c.param), std::string::npos) << e.message;
  }
  EXPECT_EQ(err(parse_completion_request(json::parse("[1]"), limits())).param, "");
}

TEST(OpenAiJson, ChatFields) {
  auto r = parse_chat_request(json::parse(R"({"messages": [{"role": "user", "content": "hi"}],
      "max_tokens": 5, "max_completion_tokens": 9, "logprobs": true, "top_logprobs": 2,
      "tools": [], "chat_template_kwargs": {"enable_thinking": false}})"),
                              limits());
  ASSERT_TRUE(std::holds_alternative<ChatRequest>(r)) << err(r).message;
  const auto& c = std::get<ChatRequest>(r);
  EXPECT_EQ(*c.gen.max_tokens, 9);  // max_completion_tokens wins
  EXPECT_TRUE(c.logprobs);
  EXPECT_EQ(c.top_logprobs, 2);
  EXPECT_TRUE(c.tools.is_null());  // an empty list is no tools
  EXPECT_FALSE(c.gen.max_tokens == std::nullopt);
  auto none = std::get<ChatRequest>(parse_chat_request(json::parse(R"({"messages": [{"role": "user"}]})"), limits()));
  EXPECT_FALSE(none.gen.max_tokens.has_value());  // chat: until the end of the turn or context

  EXPECT_EQ(err(parse_chat_request(json::parse(R"({"messages": "hi"})"), limits())).param, "messages");
  EXPECT_EQ(err(parse_chat_request(json::parse(R"({"messages": [1]})"), limits())).param, "messages[0]");
  EXPECT_EQ(err(parse_chat_request(json::parse(R"({"messages": [{"role": 1}]})"), limits())).param, "messages[0].role");
  EXPECT_EQ(err(parse_chat_request(json::parse(R"({"messages": [{"role": "user", "content": 5}]})"), limits())).param,
            "messages[0].content");
  EXPECT_EQ(err(parse_chat_request(json::parse(R"({"messages": [{"role": "user"}], "top_logprobs": 2})"), limits())).param,
            "top_logprobs");
  EXPECT_EQ(err(parse_chat_request(json::parse(R"({"messages": [{"role": "user"}], "tools": {}})"), limits())).param,
            "tools");
}

TEST(OpenAiJson, InfillTokenizeDetokenize) {
  auto r = parse_infill_request(json::parse(R"({"input_prefix": "a", "input_suffix": "b", "prompt": "c",
      "input_extra": [{"filename": "f.py", "text": "x"}], "n_predict": 8, "n_probs": 2})"),
                                limits());
  ASSERT_TRUE(std::holds_alternative<InfillRequest>(r)) << err(r).message;
  const auto& i = std::get<InfillRequest>(r);
  EXPECT_EQ(i.input_extra.size(), 1u);
  EXPECT_EQ(i.input_extra[0].first, "f.py");
  EXPECT_EQ(*i.gen.max_tokens, 8);
  EXPECT_EQ(i.n_probs, 2);
  EXPECT_EQ(err(parse_infill_request(json::parse(R"({"input_extra": [{"filename": "f"}]})"), limits())).param,
            "input_extra");
  EXPECT_EQ(err(parse_infill_request(json::parse(R"({"n_predict": 0})"), limits())).param, "n_predict");
  EXPECT_EQ(err(parse_tokenize_request(json::parse(R"({})"))).param, "content");
  EXPECT_EQ(err(parse_tokenize_request(json::parse(R"({"content": "x", "add_special": 1})"))).param, "add_special");
  EXPECT_EQ(err(parse_detokenize_request(json::parse(R"({"tokens": [1, -1]})"), limits())).param, "tokens");
}

TEST(OpenAiJson, ResponseShapes) {
  ResponseMeta meta{"cmpl-1", 123, "m"};
  engine::TokenOutput t;
  t.id = 5;
  t.piece = "ab";
  t.logprob = -0.5f;
  t.top = {{5, -0.5f, "ab"}, {6, -1.5f, "c"}};
  ChoiceOutput c{0, "ab", {t}, engine::FinishReason::Length};
  const json lp = completion_logprobs_json({t, t}, 3);
  EXPECT_EQ(lp["text_offset"], json({3, 5}));
  EXPECT_EQ(lp["top_logprobs"][0]["c"], -1.5f);
  json body = completion_response(meta, {c}, {lp}, UsageTotals{4, 1, 2});
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["total_tokens"], 5);
  EXPECT_EQ(body["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
  body = chat_response(meta, {c}, true, UsageTotals{});
  EXPECT_EQ(body["choices"][0]["message"]["content"], "ab");
  EXPECT_EQ(body["choices"][0]["logprobs"]["content"][0]["bytes"], json({97, 98}));
  EXPECT_EQ(body["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1]["token"], "c");
  json chunk = chat_chunk(meta, 1, true, "", nullptr, std::nullopt);
  EXPECT_EQ(chunk["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  chunk = chat_chunk(meta, 1, false, "", nullptr, engine::FinishReason::Stop);
  EXPECT_TRUE(chunk["choices"][0]["delta"].empty());
  EXPECT_EQ(chunk["choices"][0]["finish_reason"], "stop");
  // Invalid UTF-8 from a partial token never breaks the JSON.
  EXPECT_EQ(dump(json("a\xff")), "\"a\xef\xbf\xbd\"");
  EXPECT_EQ(error_json(invalid_field("n", "bad"))["error"]["param"], "n");
  EXPECT_TRUE(error_json(ApiError{500, "x", "server_error", "", ""})["error"]["param"].is_null());
}

}  // namespace
}  // namespace ag::server
