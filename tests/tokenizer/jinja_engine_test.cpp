// The Jinja engine's own guarantees beyond matching jinja2's output (jinja_golden_test.cpp):
// errors at load time with line and column, bounded renders for hostile templates, and
// thread-safe rendering of one parsed template.
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/jinja/template.h"

namespace {

using ag::jinja::RenderOptions;
using ag::jinja::Template;
using nlohmann::ordered_json;

std::string render(const std::string& source, const ordered_json& vars = ordered_json::object(),
                   const RenderOptions& o = {}) {
  auto t = Template::parse(source);
  if (!t.ok()) return "PARSE ERROR: " + t.error().message;
  auto out = t->render(vars, o);
  if (!out.ok()) return "RENDER ERROR: " + out.error().message;
  return out.value();
}

std::string parse_error(const std::string& source) {
  auto t = Template::parse(source);
  return t.ok() ? std::string() : t.error().message;
}

TEST(JinjaEngine, SyntaxErrorsHaveLineAndColumn) {
  EXPECT_NE(parse_error("ok\nok\n  {{ 1 + }}").find("line 3, column 10"), std::string::npos) << parse_error("ok\nok\n  {{ 1 + }}");
  EXPECT_NE(parse_error("{% for x in y %}\n{% endif %}").find("line 2"), std::string::npos);
  EXPECT_NE(parse_error("{% if x %}").find("'endif'"), std::string::npos) << parse_error("{% if x %}");
  EXPECT_NE(parse_error("{{ x | nope }}").find("no filter named 'nope'"), std::string::npos);
  EXPECT_NE(parse_error("{{ x is nope }}").find("no test named 'nope'"), std::string::npos);
  EXPECT_NE(parse_error("{% include 'x' %}").find("'include' tag is not supported"), std::string::npos);
  EXPECT_NE(parse_error("{% frob %}").find("unknown tag 'frob'"), std::string::npos);
  EXPECT_NE(parse_error("{{ 'abc }}").find("line 1, column 4"), std::string::npos) << parse_error("{{ 'abc }}");
  EXPECT_NE(parse_error("{% continue %}").find("outside of a loop"), std::string::npos);
  EXPECT_NE(parse_error("{{ \x01 }}").find("unexpected character '\\x01'"), std::string::npos) << parse_error("{{ \x01 }}");
}

TEST(JinjaEngine, RenderErrorsHaveLocation) {
  const std::string e = render("line one\n{{ 1 + 'a' }}");
  EXPECT_NE(e.find("RENDER ERROR: template error at line 2"), std::string::npos) << e;
  const std::string r = render("{{ raise_exception('Bad role: ' ~ 5) }}");
  EXPECT_NE(r.find("raised an exception at line 1"), std::string::npos) << r;
  EXPECT_NE(r.find("Bad role: 5"), std::string::npos) << r;
}

TEST(JinjaEngine, UndefinedSemantics) {
  EXPECT_EQ(render("[{{ nope }}][{{ nope|length }}][{{ nope is defined }}][{% for x in nope %}x{% endfor %}]"), "[][0][False][]");
  EXPECT_EQ(render("{{ d.missing is defined }}{{ d.missing.x is defined }}", {{"d", {{"a", 1}}}}),
            "RENDER ERROR: template error at line 1, column 39: 'missing' is undefined");
  EXPECT_EQ(render("{{ none.x is defined }}|{{ 'str'.x is defined }}"), "False|False");
}

TEST(JinjaEngine, RenderIsBounded) {
  RenderOptions small;
  small.max_steps = 100000;
  small.max_output_bytes = 1 << 20;
  // Nested loops: 10^15 iterations in principle, stopped by the step budget.
  const std::string loops = render("{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}x{% endfor %}{% endfor %}{% endfor %}",
                                   ordered_json::object(), small);
  EXPECT_NE(loops.find("steps of work"), std::string::npos) << loops.substr(0, 200);
  // Output growth: stopped by the size limit, in strings and in the output.
  const std::string big = render("{% set s = 'abcdefgh' * 100000 %}{{ s * 100 }}", ordered_json::object(), small);
  EXPECT_NE(big.find("exceeds"), std::string::npos) << big.substr(0, 200);
  const std::string doubling = render("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
                                      ordered_json::object(), small);
  EXPECT_NE(doubling.find("exceeds"), std::string::npos) << doubling.substr(0, 200);
  // Unbounded recursion: stopped by the depth limit.
  const std::string rec = render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_NE(rec.find("nested too deeply"), std::string::npos) << rec.substr(0, 200);
  // Self-referencing structures print and compare without recursing forever.
  const std::string cyc = render("{% set ns = namespace() %}{% set ns.self = ns %}{% set l = [1] %}{{ l.append(l) }}{{ l|length }}{{ l == l }}");
  EXPECT_EQ(cyc, "None2True");
  // Deep value nesting is refused.
  const std::string deep = render("{% set ns = namespace(v=[]) %}{% for i in range(1000) %}{% set ns.v = [ns.v] %}{% endfor %}done");
  EXPECT_NE(deep.find("nested deeper"), std::string::npos) << deep.substr(0, 200);
  EXPECT_NE(render("{{ range(100001)|length }}").find("range too big"), std::string::npos);
}

TEST(JinjaEngine, DeepSourceNestingIsAParseError) {
  EXPECT_NE(parse_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested too deeply"), std::string::npos);
  std::string chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  chain += " }}";
  EXPECT_NE(parse_error(chain).find("nested too deeply"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  EXPECT_FALSE(parse_error(ifs).empty());
  std::string nots = "{{ ";
  for (int i = 0; i < 5000; ++i) nots += "not ";
  nots += "x }}";
  EXPECT_FALSE(parse_error(nots).empty());
}

TEST(JinjaEngine, InvalidUtf8RoundTrips) {
  const std::string bad = std::string("a\xff\xfe") + "b\xc3";
  EXPECT_EQ(render(bad), bad);
  EXPECT_EQ(render("{{ s }}|{{ s|length }}|{{ s[1:3] == s[1:3] }}|{{ s|upper }}", {{"s", "x"}}), "x|1|True|X");
  auto t = Template::parse("{{ '" + bad + "'|length }}:{{ '" + bad + "'[::-1] }}");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->render(ordered_json::object()).value(), std::string("5:\xc3") + "b\xfe\xff" + "a");
}

TEST(JinjaEngine, ParseOnceRenderFromManyThreads) {
  auto t = Template::parse("{% for m in messages %}{{ loop.index }}:{{ m.content|upper }};{% endfor %}");
  ASSERT_TRUE(t.ok());
  const ordered_json vars = {{"messages", ordered_json::parse(R"([{"content": "a"}, {"content": "b"}])")}};
  std::vector<std::thread> threads;
  std::vector<std::string> outs(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) outs[static_cast<size_t>(i)] = t->render(vars).value();
    });
  for (auto& th : threads) th.join();
  for (const auto& o : outs) EXPECT_EQ(o, "1:A;2:B;");
}

TEST(JinjaEngine, VariablesMustBeAnObject) {
  auto t = Template::parse("x");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->render(ordered_json::array()).ok());
  ordered_json deep = 1;
  for (int i = 0; i < 1000; ++i) deep = ordered_json::array({deep});
  auto r = t->render({{"v", deep}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nested deeper"), std::string::npos);
}

}  // namespace
