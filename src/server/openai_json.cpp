#include "server/openai_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace ag::server {

json error_json(const ApiError& e) {
  json err = json::object();
  err["message"] = e.message;
  err["type"] = e.type;
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  err["code"] = e.code.empty() ? json(nullptr) : json(e.code);
  return json{{"error", std::move(err)}};
}

ApiError invalid_field(std::string param, std::string message) {
  ApiError e;
  e.status = 400;
  e.message = std::move(message);
  e.param = std::move(param);
  e.code = "invalid_value";
  return e;
}

namespace {

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

bool integral(const json& v, int64_t& out) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      return false;
    out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      out = static_cast<int64_t>(d);
      return true;
    }
  }
  return false;
}

// Reads typed fields of one JSON object; the first problem is kept in `error`.
class Fields {
 public:
  explicit Fields(const json& obj) : obj_(obj) {}
  std::optional<ApiError> error;

  const json* get(const char* name) const {
    auto it = obj_.find(name);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  bool has(const char* name) const { return get(name) != nullptr; }

  void fail(std::string param, std::string message) {
    if (!error) error = invalid_field(std::move(param), std::move(message));
  }

  std::optional<int64_t> integer(const char* name, int64_t lo, int64_t hi) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    int64_t x = 0;
    if (!integral(*v, x)) {
      fail(name, fmt::format("'{}' must be an integer, got {}", name, type_name(*v)));
      return std::nullopt;
    }
    if (x < lo || x > hi) {
      fail(name, fmt::format("'{}' must be between {} and {}, got {}", name, lo, hi, x));
      return std::nullopt;
    }
    return x;
  }

  std::optional<double> number(const char* name, double lo, double hi) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    if (!v->is_number()) {
      fail(name, fmt::format("'{}' must be a number, got {}", name, type_name(*v)));
      return std::nullopt;
    }
    const double x = v->get<double>();
    if (!(x >= lo && x <= hi)) {
      fail(name, fmt::format("'{}' must be between {} and {}, got {}", name, lo, hi, x));
      return std::nullopt;
    }
    return x;
  }

  std::optional<bool> boolean(const char* name) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      fail(name, fmt::format("'{}' must be a boolean, got {}", name, type_name(*v)));
      return std::nullopt;
    }
    return v->get<bool>();
  }

  std::optional<std::string> string(const char* name) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      fail(name, fmt::format("'{}' must be a string, got {}", name, type_name(*v)));
      return std::nullopt;
    }
    return v->get<std::string>();
  }

 private:
  const json& obj_;
};

// A token id list, each in [0, n_vocab).
bool read_token_ids(Fields& f, const char* param, const json& arr, int32_t n_vocab,
                    std::vector<int32_t>& out) {
  for (size_t i = 0; i < arr.size(); ++i) {
    int64_t id = 0;
    if (!integral(arr[i], id)) {
      f.fail(param, fmt::format("'{}' must hold token ids (integers); item {} is {}", param, i,
                                type_name(arr[i])));
      return false;
    }
    if (id < 0 || id >= n_vocab) {
      f.fail(param, fmt::format("'{}': token id {} is out of range (the vocabulary has {} tokens)",
                                param, id, n_vocab));
      return false;
    }
    out.push_back(static_cast<int32_t>(id));
  }
  return true;
}

void read_stop(Fields& f, const Limits& limits, std::vector<std::string>& out) {
  const json* v = f.get("stop");
  if (!v) return;
  std::vector<std::string> stops;
  if (v->is_string()) {
    stops.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const auto& s : *v) {
      if (!s.is_string()) {
        f.fail("stop", fmt::format("'stop' must be a string or an array of strings; an item is {}",
                                   type_name(s)));
        return;
      }
      stops.push_back(s.get<std::string>());
    }
  } else {
    f.fail("stop", fmt::format("'stop' must be a string or an array of strings, got {}", type_name(*v)));
    return;
  }
  if (static_cast<int32_t>(stops.size()) > limits.max_stop) {
    f.fail("stop", fmt::format("'stop' may hold at most {} strings, got {}", limits.max_stop, stops.size()));
    return;
  }
  for (const auto& s : stops) {
    if (s.empty()) {
      f.fail("stop", "'stop' strings must not be empty");
      return;
    }
    if (static_cast<int32_t>(s.size()) > limits.max_stop_bytes) {
      f.fail("stop", fmt::format("'stop' strings may be at most {} bytes, one has {}",
                                 limits.max_stop_bytes, s.size()));
      return;
    }
  }
  out = std::move(stops);
}

void read_logit_bias(Fields& f, const Limits& limits, SamplingParams& sp) {
  const json* v = f.get("logit_bias");
  if (!v) return;
  if (!v->is_object()) {
    f.fail("logit_bias", fmt::format("'logit_bias' must be an object mapping token ids to biases, got {}",
                                     type_name(*v)));
    return;
  }
  for (const auto& [key, bias] : v->items()) {
    int64_t id = -1;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || id < 0 || id >= limits.n_vocab) {
      f.fail("logit_bias", fmt::format("'logit_bias' key '{}' is not a token id below {}", key,
                                       limits.n_vocab));
      return;
    }
    float b = 0;
    if (bias.is_boolean() && !bias.get<bool>()) {  // llama.cpp: false bans the token
      b = -std::numeric_limits<float>::infinity();
    } else if (bias.is_number() && bias.get<double>() >= -100 && bias.get<double>() <= 100) {
      b = bias.get<float>();
    } else {
      f.fail("logit_bias", fmt::format("'logit_bias' value for token {} must be a number between "
                                       "-100 and 100",
                                       key));
      return;
    }
    sp.logit_bias.emplace_back(static_cast<int32_t>(id), b);
  }
}

// Fields every generating endpoint shares.
void read_generation(Fields& f, const Limits& limits, GenerationParams& g) {
  const int64_t max_tokens_cap = limits.max_tokens > 0 ? limits.max_tokens : int64_t{1} << 30;
  if (auto x = f.integer("max_tokens", 1, max_tokens_cap)) g.max_tokens = static_cast<int32_t>(*x);
  if (auto x = f.integer("n", 1, limits.max_n)) g.n = static_cast<int32_t>(*x);
  read_stop(f, limits, g.stop);
  if (auto x = f.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()))
    if (*x != -1) g.seed = static_cast<uint64_t>(*x);  // -1: random, as llama.cpp
  SamplingParams& sp = g.sampling;
  if (auto x = f.number("temperature", 0, 2)) sp.temperature = static_cast<float>(*x);
  if (auto x = f.number("top_p", 0, 1)) sp.top_p = static_cast<float>(*x);
  if (auto x = f.integer("top_k", 0, 1 << 30)) sp.top_k = static_cast<int>(*x);
  if (auto x = f.number("min_p", 0, 1)) sp.min_p = static_cast<float>(*x);
  if (auto x = f.number("presence_penalty", -2, 2)) sp.presence_penalty = static_cast<float>(*x);
  if (auto x = f.number("frequency_penalty", -2, 2)) sp.frequency_penalty = static_cast<float>(*x);
  if (auto x = f.number("repeat_penalty", 0, 10)) {
    if (*x == 0)
      f.fail("repeat_penalty", "'repeat_penalty' must be > 0 (1 = off)");
    else
      sp.repeat_penalty = static_cast<float>(*x);
  }
  if (auto x = f.integer("repeat_last_n", -1, 1 << 20)) sp.repeat_last_n = static_cast<int>(*x);
  read_logit_bias(f, limits, sp);
  if (auto x = f.boolean("ignore_eos")) g.ignore_eos = *x;
  if (auto x = f.integer("priority", 0, limits.priority_levels)) g.priority = static_cast<int32_t>(*x);
  if (auto x = f.number("timeout_ms", 0, 1e9)) {
    if (*x <= 0)
      f.fail("timeout_ms", "'timeout_ms' must be > 0");
    else
      g.timeout_us = static_cast<int64_t>(*x * 1000.0);
  }
  if (auto x = f.boolean("stream")) g.stream = *x;
  if (const json* so = f.get("stream_options")) {
    if (!so->is_object()) {
      f.fail("stream_options", fmt::format("'stream_options' must be an object, got {}", type_name(*so)));
    } else if (so->contains("include_usage") && !(*so)["include_usage"].is_null()) {
      if (!(*so)["include_usage"].is_boolean())
        f.fail("stream_options.include_usage", "'stream_options.include_usage' must be a boolean");
      else
        g.include_usage = (*so)["include_usage"].get<bool>();
    }
  }
  if (auto x = f.string("user")) g.user = *x;
}

ApiError not_an_object(const json& body) {
  return invalid_field("", fmt::format("the request body must be a JSON object, got {}", type_name(body)));
}

}  // namespace

ApiResult<CompletionRequest> parse_completion_request(const json& body, const Limits& limits) {
  if (!body.is_object()) return not_an_object(body);
  Fields f(body);
  CompletionRequest r;
  r.gen.sampling.temperature = 1.0f;  // OpenAI's default
  r.gen.max_tokens = 16;              // OpenAI's default for completions
  read_generation(f, limits, r.gen);
  const json* p = f.get("prompt");
  if (!p) {
    f.fail("prompt", "'prompt' is required");
  } else if (p->is_string()) {
    r.prompts.push_back({false, p->get<std::string>(), {}});
  } else if (p->is_array()) {
    if (p->empty()) f.fail("prompt", "'prompt' must not be an empty array");
    const bool all_ints = std::all_of(p->begin(), p->end(), [](const json& x) { return x.is_number(); });
    const bool all_strings = std::all_of(p->begin(), p->end(), [](const json& x) { return x.is_string(); });
    const bool all_arrays = std::all_of(p->begin(), p->end(), [](const json& x) { return x.is_array(); });
    if (!p->empty() && all_ints) {
      PromptInput in{true, {}, {}};
      if (read_token_ids(f, "prompt", *p, limits.n_vocab, in.tokens)) r.prompts.push_back(std::move(in));
    } else if (!p->empty() && all_strings) {
      for (const auto& s : *p) r.prompts.push_back({false, s.get<std::string>(), {}});
    } else if (!p->empty() && all_arrays) {
      for (const auto& a : *p) {
        PromptInput in{true, {}, {}};
        if (a.empty()) f.fail("prompt", "'prompt' token arrays must not be empty");
        if (!read_token_ids(f, "prompt", a, limits.n_vocab, in.tokens)) break;
        r.prompts.push_back(std::move(in));
      }
    } else if (!p->empty()) {
      f.fail("prompt", "'prompt' must be a string, an array of strings, an array of token ids or "
                       "an array of token-id arrays");
    }
  } else {
    f.fail("prompt", fmt::format("'prompt' must be a string or an array, got {}", type_name(*p)));
  }
  if (static_cast<int32_t>(r.prompts.size()) > limits.max_prompts)
    f.fail("prompt", fmt::format("'prompt' may hold at most {} prompts, got {}", limits.max_prompts,
                                 r.prompts.size()));
  if (auto x = f.string("suffix")) r.suffix = *x;
  if (auto x = f.integer("logprobs", 0, limits.max_logprobs)) r.logprobs = static_cast<int32_t>(*x);
  if (auto x = f.boolean("echo")) r.echo = *x;
  if (r.echo && r.suffix) f.fail("echo", "'echo' cannot be combined with 'suffix'");
  if (f.error) return *f.error;
  return r;
}

ApiResult<ChatRequest> parse_chat_request(const json& body, const Limits& limits) {
  if (!body.is_object()) return not_an_object(body);
  Fields f(body);
  ChatRequest r;
  r.gen.sampling.temperature = 1.0f;
  read_generation(f, limits, r.gen);
  const int64_t max_tokens_cap = limits.max_tokens > 0 ? limits.max_tokens : int64_t{1} << 30;
  if (auto x = f.integer("max_completion_tokens", 1, max_tokens_cap)) r.gen.max_tokens = static_cast<int32_t>(*x);
  const json* m = f.get("messages");
  if (!m) {
    f.fail("messages", "'messages' is required");
  } else if (!m->is_array() || m->empty()) {
    f.fail("messages", "'messages' must be a non-empty array of messages");
  } else {
    for (size_t i = 0; i < m->size(); ++i) {
      const json& msg = (*m)[i];
      const std::string param = fmt::format("messages[{}]", i);
      if (!msg.is_object()) {
        f.fail(param, fmt::format("'{}' must be an object, got {}", param, type_name(msg)));
        break;
      }
      auto role = msg.find("role");
      if (role == msg.end() || !role->is_string()) {
        f.fail(param + ".role", fmt::format("'{}.role' must be a string", param));
        break;
      }
      auto content = msg.find("content");
      if (content != msg.end() && !content->is_null() && !content->is_string() && !content->is_array()) {
        f.fail(param + ".content", fmt::format("'{}.content' must be a string, an array of parts or null", param));
        break;
      }
    }
    r.messages = *m;
  }
  if (auto x = f.boolean("logprobs")) r.logprobs = *x;
  if (auto x = f.integer("top_logprobs", 0, limits.max_logprobs)) {
    r.top_logprobs = static_cast<int32_t>(*x);
    if (!r.logprobs) f.fail("top_logprobs", "'top_logprobs' requires 'logprobs': true");
  }
  if (const json* t = f.get("tools")) {
    if (!t->is_array())
      f.fail("tools", fmt::format("'tools' must be an array, got {}", type_name(*t)));
    else if (!t->empty())
      r.tools = *t;
  }
  if (const json* k = f.get("chat_template_kwargs")) {
    if (!k->is_object())
      f.fail("chat_template_kwargs", "'chat_template_kwargs' must be an object");
    else
      r.chat_template_kwargs = *k;
  }
  if (f.error) return *f.error;
  return r;
}

ApiResult<InfillRequest> parse_infill_request(const json& body, const Limits& limits) {
  if (!body.is_object()) return not_an_object(body);
  Fields f(body);
  InfillRequest r;
  r.gen.sampling.temperature = 0.8f;  // llama.cpp's default for its native endpoints
  read_generation(f, limits, r.gen);
  const int64_t max_tokens_cap = limits.max_tokens > 0 ? limits.max_tokens : int64_t{1} << 30;
  if (auto x = f.integer("n_predict", -1, max_tokens_cap)) {
    if (*x == 0)
      f.fail("n_predict", "'n_predict' must be -1 (until the context is full) or >= 1");
    else if (*x > 0)
      r.gen.max_tokens = static_cast<int32_t>(*x);
  }
  if (auto x = f.string("input_prefix")) r.input_prefix = *x;
  if (auto x = f.string("input_suffix")) r.input_suffix = *x;
  if (auto x = f.string("prompt")) r.prompt = *x;
  if (const json* e = f.get("input_extra")) {
    if (!e->is_array()) {
      f.fail("input_extra", "'input_extra' must be an array of {\"filename\", \"text\"} objects");
    } else {
      for (size_t i = 0; i < e->size(); ++i) {
        const json& c = (*e)[i];
        auto text = c.is_object() ? c.find("text") : c.end();
        if (!c.is_object() || text == c.end() || !text->is_string()) {
          f.fail("input_extra", fmt::format("'input_extra[{}]' must be an object with a string 'text'", i));
          break;
        }
        auto name = c.find("filename");
        std::string filename;
        if (name != c.end() && !name->is_null()) {
          if (!name->is_string()) {
            f.fail("input_extra", fmt::format("'input_extra[{}].filename' must be a string", i));
            break;
          }
          filename = name->get<std::string>();
        }
        r.input_extra.emplace_back(std::move(filename), text->get<std::string>());
      }
    }
  }
  if (auto x = f.integer("n_probs", 0, limits.max_logprobs)) r.n_probs = static_cast<int32_t>(*x);
  if (f.error) return *f.error;
  return r;
}

ApiResult<TokenizeRequest> parse_tokenize_request(const json& body) {
  if (!body.is_object()) return not_an_object(body);
  Fields f(body);
  TokenizeRequest r;
  if (auto x = f.string("content"))
    r.content = *x;
  else if (!f.error)
    f.fail("content", "'content' is required");
  if (auto x = f.boolean("add_special")) r.add_special = *x;
  if (auto x = f.boolean("parse_special")) r.parse_special = *x;
  if (auto x = f.boolean("with_pieces")) r.with_pieces = *x;
  if (f.error) return *f.error;
  return r;
}

ApiResult<DetokenizeRequest> parse_detokenize_request(const json& body, const Limits& limits) {
  if (!body.is_object()) return not_an_object(body);
  Fields f(body);
  DetokenizeRequest r;
  const json* t = f.get("tokens");
  if (!t)
    f.fail("tokens", "'tokens' is required");
  else if (!t->is_array())
    f.fail("tokens", fmt::format("'tokens' must be an array of token ids, got {}", type_name(*t)));
  else
    read_token_ids(f, "tokens", *t, limits.n_vocab, r.tokens);
  if (f.error) return *f.error;
  return r;
}

// ---- Responses -----------------------------------------------------------------------------

const char* finish_reason_json(engine::FinishReason reason) {
  return reason == engine::FinishReason::Length ? "length" : "stop";
}

json usage_json(const UsageTotals& u) {
  return json{{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens},
              {"prompt_tokens_details", json{{"cached_tokens", u.cached_tokens}}}};
}

json completion_logprobs_json(const std::vector<engine::TokenOutput>& tokens, size_t offset_base) {
  json toks = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  size_t offset = offset_base;
  for (const auto& t : tokens) {
    toks.push_back(t.piece);
    lps.push_back(t.logprob);
    json top = json::object();
    for (const auto& tl : t.top) top[tl.piece] = tl.logprob;
    tops.push_back(std::move(top));
    offsets.push_back(offset);
    offset += t.piece.size();
  }
  return json{{"tokens", std::move(toks)},
              {"token_logprobs", std::move(lps)},
              {"top_logprobs", std::move(tops)},
              {"text_offset", std::move(offsets)}};
}

json completion_response(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices,
                         const std::vector<json>& logprobs, const UsageTotals& usage) {
  json out_choices = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const auto& c = choices[i];
    out_choices.push_back(json{{"text", c.text},
                               {"index", c.index},
                               {"logprobs", i < logprobs.size() ? logprobs[i] : json(nullptr)},
                               {"finish_reason", c.finish ? json(finish_reason_json(*c.finish)) : json(nullptr)}});
  }
  return json{{"id", meta.id},
              {"object", "text_completion"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", std::move(out_choices)},
              {"usage", usage_json(usage)}};
}

json completion_chunk(const ResponseMeta& meta, int32_t index, const std::string& text,
                      const json& logprobs, std::optional<engine::FinishReason> finish) {
  json choice{{"text", text},
              {"index", index},
              {"logprobs", logprobs},
              {"finish_reason", finish ? json(finish_reason_json(*finish)) : json(nullptr)}};
  return json{{"id", meta.id},
              {"object", "text_completion"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", json::array({std::move(choice)})}};
}

namespace {
json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}
}  // namespace

json chat_logprobs_json(const std::vector<engine::TokenOutput>& tokens) {
  json content = json::array();
  for (const auto& t : tokens) {
    json top = json::array();
    for (const auto& tl : t.top)
      top.push_back(json{{"token", tl.piece}, {"logprob", tl.logprob}, {"bytes", bytes_of(tl.piece)}});
    content.push_back(json{{"token", t.piece},
                           {"logprob", t.logprob},
                           {"bytes", bytes_of(t.piece)},
                           {"top_logprobs", std::move(top)}});
  }
  return json{{"content", std::move(content)}, {"refusal", nullptr}};
}

json chat_response(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices,
                   bool with_logprobs, const UsageTotals& usage) {
  json out_choices = json::array();
  for (const auto& c : choices) {
    out_choices.push_back(json{{"index", c.index},
                               {"message", json{{"role", "assistant"}, {"content", c.text}}},
                               {"logprobs", with_logprobs ? chat_logprobs_json(c.tokens) : json(nullptr)},
                               {"finish_reason", c.finish ? json(finish_reason_json(*c.finish)) : json(nullptr)}});
  }
  return json{{"id", meta.id},
              {"object", "chat.completion"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", std::move(out_choices)},
              {"usage", usage_json(usage)}};
}

json chat_chunk(const ResponseMeta& meta, int32_t index, bool role, const std::string& text,
                const json& logprobs, std::optional<engine::FinishReason> finish) {
  json delta = json::object();
  if (role) delta["role"] = "assistant";
  if (role || !text.empty()) delta["content"] = text;
  json choice{{"index", index},
              {"delta", std::move(delta)},
              {"logprobs", logprobs},
              {"finish_reason", finish ? json(finish_reason_json(*finish)) : json(nullptr)}};
  return json{{"id", meta.id},
              {"object", "chat.completion.chunk"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", json::array({std::move(choice)})}};
}

json usage_chunk(const ResponseMeta& meta, const char* object, const UsageTotals& usage) {
  return json{{"id", meta.id},
              {"object", object},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", json::array()},
              {"usage", usage_json(usage)}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace ag::server
