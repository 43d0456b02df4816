// The Jinja engine against Python's jinja2 (configured as transformers renders chat templates):
// every expected string in jinja_golden.json was produced by jinja2 itself, see
// jinja_golden_gen.py. Snippets cover one construct each; templates are real model templates.
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/jinja/template.h"

namespace {

using nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const ordered_json& golden() {
  static const ordered_json doc = [] {
    // The generator ran with TZ=UTC; strftime_now formats local time.
    setenv("TZ", "UTC", 1);
    tzset();
    return ordered_json::parse(read_file(std::string(AUTOGLM_SOURCE_DIR) + "/tests/tokenizer/jinja_golden.json"));
  }();
  return doc;
}

ag::jinja::RenderOptions fixed_time() {
  ag::jinja::RenderOptions o;
  o.now = std::chrono::system_clock::from_time_t(golden()["now_epoch"].get<std::time_t>());
  return o;
}

// Renders and compares one case; a case with "error" must fail at parse or render time.
void check(const std::string& name, const std::string& source, const ordered_json& ctx, const ordered_json& c) {
  SCOPED_TRACE(name);
  auto tmpl = ag::jinja::Template::parse(source);
  if (c.contains("error")) {
    if (!tmpl.ok()) return;
    auto out = tmpl->render(ctx, fixed_time());
    EXPECT_FALSE(out.ok()) << "jinja2 fails with: " << c["error"].get<std::string>() << "\nbut we rendered: " << out.value();
    return;
  }
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
  auto out = tmpl->render(ctx, fixed_time());
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out.value(), c["expected"].get<std::string>()) << "template: " << source;
}

TEST(JinjaGolden, Snippets) {
  const auto& doc = golden();
  ASSERT_GE(doc["snippets"].size(), 100u);
  for (const auto& c : doc["snippets"]) {
    ordered_json ctx = doc["default_context"];
    if (c.contains("context"))
      for (const auto& [k, v] : c["context"].items()) ctx[k] = v;
    check(c["name"].get<std::string>(), c["template"].get<std::string>(), ctx, c);
  }
}

TEST(JinjaGolden, RealTemplates) {
  const auto& doc = golden();
  ASSERT_GE(doc["templates"].size(), 50u);
  for (const auto& c : doc["templates"]) {
    const std::string source =
        read_file(std::string(AUTOGLM_SOURCE_DIR) + "/tests/tokenizer/chat_templates/" + c["file"].get<std::string>());
    ASSERT_FALSE(source.empty()) << c["file"];
    check(c["name"].get<std::string>(), source, c["context"], c);
  }
}

}  // namespace
