#include "server/yaml_json.h"

#include <yaml.h>

#include <charconv>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace ag::server {

using json = nlohmann::ordered_json;

namespace {

json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  int64_t i = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && end == s.data() + s.size()) return i;
  double d = 0;
  auto [dend, dec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (dec == std::errc() && dend == s.data() + s.size() && std::isfinite(d)) return d;
  return s;
}

struct Parser {
  yaml_parser_t parser;
  std::string label;
  std::string error;

  bool next(yaml_event_t& e) {
    if (!yaml_parser_parse(&parser, &e)) {
      error = fmt::format("{}: line {}, column {}: {}", label, parser.problem_mark.line + 1,
                          parser.problem_mark.column + 1, parser.problem ? parser.problem : "syntax error");
      return false;
    }
    return true;
  }

  // Parses the node whose first event is `e` (already read; deleted here).
  bool node(yaml_event_t& e, json& out, int depth) {
    if (depth > 64) {
      error = label + ": nesting deeper than 64 levels";
      yaml_event_delete(&e);
      return false;
    }
    const auto mark = e.start_mark;
    switch (e.type) {
      case YAML_SCALAR_EVENT: {
        std::string value(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
        const bool plain = e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        const bool tagged = e.data.scalar.tag != nullptr;
        const bool anchored = e.data.scalar.anchor != nullptr;
        yaml_event_delete(&e);
        if (tagged || anchored) return fail_at(mark, "tags and anchors are not supported");
        out = plain ? plain_scalar(value) : json(value);
        return true;
      }
      case YAML_SEQUENCE_START_EVENT: {
        const bool anchored = e.data.sequence_start.anchor != nullptr;
        yaml_event_delete(&e);
        if (anchored) return fail_at(mark, "anchors are not supported");
        out = json::array();
        for (;;) {
          yaml_event_t item;
          if (!next(item)) return false;
          if (item.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&item);
            return true;
          }
          json v;
          if (!node(item, v, depth + 1)) return false;
          out.push_back(std::move(v));
        }
      }
      case YAML_MAPPING_START_EVENT: {
        const bool anchored = e.data.mapping_start.anchor != nullptr;
        yaml_event_delete(&e);
        if (anchored) return fail_at(mark, "anchors are not supported");
        out = json::object();
        for (;;) {
          yaml_event_t key;
          if (!next(key)) return false;
          if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            return true;
          }
          if (key.type != YAML_SCALAR_EVENT) {
            const auto kmark = key.start_mark;
            yaml_event_delete(&key);
            return fail_at(kmark, "mapping keys must be plain text");
          }
          std::string k(reinterpret_cast<const char*>(key.data.scalar.value), key.data.scalar.length);
          const auto kmark = key.start_mark;
          yaml_event_delete(&key);
          if (out.contains(k)) return fail_at(kmark, "duplicate key '" + k + "'");
          yaml_event_t value;
          if (!next(value)) return false;
          json v;
          if (!node(value, v, depth + 1)) return false;
          out[k] = std::move(v);
        }
      }
      case YAML_ALIAS_EVENT:
        yaml_event_delete(&e);
        return fail_at(mark, "aliases are not supported");
      default:
        yaml_event_delete(&e);
        return fail_at(mark, "unexpected YAML event");
    }
  }

  bool fail_at(const yaml_mark_t& mark, const std::string& what) {
    error = fmt::format("{}: line {}, column {}: {}", label, mark.line + 1, mark.column + 1, what);
    return false;
  }
};

}  // namespace

Result<json> yaml_to_json(std::string_view text, std::string_view label) {
  Parser p;
  p.label = std::string(label);
  if (!yaml_parser_initialize(&p.parser)) return error("{}: cannot initialise the YAML parser", label);
  std::unique_ptr<yaml_parser_t, void (*)(yaml_parser_t*)> guard(&p.parser, yaml_parser_delete);
  yaml_parser_set_input_string(&p.parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  json result = nullptr;
  int n_documents = 0;
  for (;;) {
    yaml_event_t e;
    if (!p.next(e)) return Error{p.error};
    const auto type = e.type;
    if (type == YAML_STREAM_END_EVENT) {
      yaml_event_delete(&e);
      break;
    }
    if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_END_EVENT) {
      yaml_event_delete(&e);
      continue;
    }
    if (type == YAML_DOCUMENT_START_EVENT) {
      yaml_event_delete(&e);
      if (++n_documents > 1) return error("{}: more than one YAML document", label);
      continue;
    }
    if (!p.node(e, result, 0)) return Error{p.error};
  }
  return result;
}

}  // namespace ag::server
