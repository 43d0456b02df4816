// Config files (JSON and YAML), sizes, API key files and queue policy flags.
#include "server/serve_config.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "server/yaml_json.h"

namespace ag::server {
namespace {

auto no_flags = [](std::string_view) { return false; };

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = std::string(AUTOGLM_BINARY_DIR) + "/server_test_" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Yaml, ScalarsMappingsSequences) {
  auto j = yaml_to_json(R"(
# comment
port: 8081
host: "0.0.0.0"
ratio: 0.5
on: true
none: ~
list: [1, two, "3"]
nested:
  - a: 1
  - b: [x]
)",
                        "t.yaml");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ((*j)["port"], 8081);
  EXPECT_EQ((*j)["host"], "0.0.0.0");
  EXPECT_EQ((*j)["ratio"], 0.5);
  EXPECT_EQ((*j)["on"], true);
  EXPECT_TRUE((*j)["none"].is_null());
  EXPECT_EQ((*j)["list"], nlohmann::ordered_json({1, "two", "3"}));
  EXPECT_EQ((*j)["nested"][1]["b"][0], "x");
}

TEST(Yaml, ErrorsNameLineAndColumn) {
  auto j = yaml_to_json("a: 1\nb: [1, 2\n", "bad.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.error().message.find("bad.yaml: line"), std::string::npos) << j.error().message;
  EXPECT_FALSE(yaml_to_json("a: &x 1\nb: *x\n", "t").ok());
  EXPECT_FALSE(yaml_to_json("a: 1\na: 2\n", "t").ok());
  EXPECT_FALSE(yaml_to_json("a: 1\n---\nb: 2\n", "t").ok());
}

TEST(ServeConfig, YamlFileWithQueuePolicy) {
  const std::string path = write_temp("config.yaml", R"(
model: m.gguf
host: 0.0.0.0
port: 9000
api_keys: [a, b]
max-batch-tokens: 256
max_running: 8
priority_levels: 3
default_priority: 2
max_queue_delay_us: 2000
prefix_cache: false
kv_memory: 1GiB
shutdown_timeout: 2.5
max_body_bytes: 1MiB
queue_policy:
  default: {max_queue_size: 10}
  2: {default_timeout_us: 5000, timeout_action: DELAY, allow_timeout_override: true}
)");
  ServeSettings s;
  ASSERT_TRUE(apply_config_file(path, s, no_flags).ok());
  ASSERT_TRUE(add_queue_policy_flag("3:max_queue_size=1,timeout_action=reject", s).ok());
  ASSERT_TRUE(resolve_queue_policies(s).ok());
  EXPECT_EQ(s.model, "m.gguf");
  EXPECT_EQ(s.server.host, "0.0.0.0");
  EXPECT_EQ(s.server.port, 9000);
  EXPECT_EQ(s.server.api_keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.scheduler.max_batch_tokens, 256);
  EXPECT_EQ(s.scheduler.max_running, 8);
  EXPECT_EQ(s.scheduler.default_priority, 2);
  EXPECT_EQ(s.scheduler.max_queue_delay_us, 2000);
  EXPECT_FALSE(s.scheduler.prefix_cache);
  EXPECT_EQ(s.kv_memory, 1ull << 30);
  EXPECT_EQ(s.server.shutdown_timeout.count(), 2500);
  EXPECT_EQ(s.server.max_body_bytes, 1u << 20);
  ASSERT_EQ(s.scheduler.levels.size(), 3u);
  EXPECT_EQ(s.scheduler.levels[0].max_queue_size, 10);
  EXPECT_EQ(s.scheduler.levels[1].max_queue_size, 10);  // default, patched
  EXPECT_EQ(s.scheduler.levels[1].default_timeout_us, 5000);
  EXPECT_EQ(s.scheduler.levels[1].timeout_action, engine::TimeoutAction::Delay);
  EXPECT_TRUE(s.scheduler.levels[1].allow_timeout_override);
  EXPECT_EQ(s.scheduler.levels[2].max_queue_size, 1);
  EXPECT_TRUE(s.scheduler.validate().ok());
}

TEST(ServeConfig, FlagsWinAndErrorsNameTheKey) {
  ServeSettings s;
  s.server.port = 7000;
  nlohmann::ordered_json cfg = {{"port", 9000}, {"max_running", 3}};
  ASSERT_TRUE(apply_config(cfg, "c.json", s, [](std::string_view k) { return k == "port"; }).ok());
  EXPECT_EQ(s.server.port, 7000);
  EXPECT_EQ(s.scheduler.max_running, 3);

  auto st = apply_config({{"max_running", "many"}}, "c.json", s, no_flags);
  EXPECT_NE(st.error().message.find("c.json: 'max_running'"), std::string::npos) << st.error().message;
  st = apply_config({{"colour", 1}}, "c.json", s, no_flags);
  EXPECT_NE(st.error().message.find("unknown setting 'colour'"), std::string::npos);
  st = apply_config({{"port", 70000}}, "c.json", s, no_flags);
  EXPECT_FALSE(st.ok());
  ServeSettings q;
  ASSERT_TRUE(add_queue_policy_flag("5:max_queue_size=1", q).ok());
  EXPECT_NE(resolve_queue_policies(q).error().message.find("level '5'"), std::string::npos);
  ServeSettings w;
  ASSERT_TRUE(add_queue_policy_flag("default:colour=red", w).ok());
  EXPECT_FALSE(resolve_queue_policies(w).ok());
  EXPECT_FALSE(add_queue_policy_flag("1-max_queue_size=1", w).ok());
  ServeSettings a;
  ASSERT_TRUE(add_queue_policy_flag("1:timeout_action=sometimes", a).ok());
  EXPECT_NE(resolve_queue_policies(a).error().message.find("timeout_action"), std::string::npos);

  const std::string bad = write_temp("bad.json", "{\"port\": ");
  EXPECT_NE(apply_config_file(bad, s, no_flags).error().message.find("bad.json"), std::string::npos);
  EXPECT_FALSE(apply_config_file("/nonexistent/x.yaml", s, no_flags).ok());
}

TEST(ServeConfig, SizesAndKeyFiles) {
  EXPECT_EQ(*parse_size("2GiB"), 2ull << 30);
  EXPECT_EQ(*parse_size("512 MiB"), 512ull << 20);
  EXPECT_EQ(*parse_size("1.5k"), 1536u);
  EXPECT_EQ(*parse_size("100"), 100u);
  EXPECT_FALSE(parse_size("lots").ok());
  EXPECT_FALSE(parse_size("3 parsecs").ok());
  const std::string keys = write_temp("keys.txt", "# team keys\nk1\n\n  k2  \n");
  auto k = read_api_key_file(keys);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_FALSE(read_api_key_file(write_temp("empty.txt", "# none\n")).ok());
}

}  // namespace
}  // namespace ag::server
