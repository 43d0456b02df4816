#include "server/serve_config.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "server/yaml_json.h"

namespace ag::server {

using json = nlohmann::ordered_json;

namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string normalize_key(std::string_view k) {
  std::string out(k);
  for (char& c : out)
    if (c == '-') c = '_';
  return out;
}

// Typed reads with errors naming the file and key.
struct Reader {
  std::string_view label;
  std::string key;

  Error bad(std::string_view what) const { return error("{}: '{}' {}", label, key, what); }

  Result<int64_t> integer(const json& v, int64_t lo, int64_t hi) const {
    if (!v.is_number_integer()) return bad("must be an integer");
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) return bad(fmt::format("must be between {} and {}, got {}", lo, hi, x));
    return x;
  }
  Result<double> number(const json& v, double lo, double hi) const {
    if (!v.is_number()) return bad("must be a number");
    const double x = v.get<double>();
    if (!(x >= lo && x <= hi)) return bad(fmt::format("must be between {} and {}, got {}", lo, hi, x));
    return x;
  }
  Result<bool> boolean(const json& v) const {
    if (!v.is_boolean()) return bad("must be true or false");
    return v.get<bool>();
  }
  Result<std::string> string(const json& v) const {
    if (!v.is_string()) return bad("must be a string");
    return v.get<std::string>();
  }
  Result<uint64_t> size(const json& v) const {
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
    if (v.is_string()) {
      auto s = parse_size(v.get<std::string>());
      if (!s.ok()) return bad(s.error().message);
      return *s;
    }
    return bad("must be a size in bytes or a string like \"2GiB\"");
  }
};

Status merge_policy(ServeSettings& s, const std::string& level, const json& fields, std::string_view label) {
  if (!fields.is_object()) return error("{}: queue_policy.{} must be an object of policy fields", label, level);
  json& patch = s.queue_policy[level];
  if (patch.is_null()) patch = json::object();
  for (const auto& [k, v] : fields.items()) patch[normalize_key(k)] = v;
  return {};
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  const std::string t = trim(text);
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  double value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + i, value);
  if (i == 0 || ec != std::errc() || end != t.data() + i)
    return error("'{}' is not a size (examples: 2GiB, 512MiB, 1000000)", text);
  std::string unit = trim(std::string_view(t).substr(i));
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kib" || unit == "kb")
    mult = 1024.0;
  else if (unit == "m" || unit == "mib" || unit == "mb")
    mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gib" || unit == "gb")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tib" || unit == "tb")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return error("'{}': unknown size unit '{}' (use KiB, MiB, GiB, TiB)", text, unit);
  const double bytes = value * mult;
  if (!std::isfinite(bytes) || bytes >= 1.8e19) return error("'{}' is too large", text);
  return static_cast<uint64_t>(bytes);
}

Result<std::vector<std::string>> read_api_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error("{}: cannot read the API key file", path);
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    const std::string k = trim(line);
    if (k.empty() || k[0] == '#') continue;
    keys.push_back(k);
  }
  if (keys.empty()) return error("{}: the API key file holds no key", path);
  return keys;
}

Status add_queue_policy_flag(std::string_view spec, ServeSettings& settings) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos)
    return error("--queue-policy '{}': expected LEVEL:key=value,... (LEVEL a number or 'default')", spec);
  const std::string level = trim(spec.substr(0, colon));
  json fields = json::object();
  std::stringstream parts{std::string(spec.substr(colon + 1))};
  std::string part;
  while (std::getline(parts, part, ',')) {
    if (trim(part).empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string::npos) return error("--queue-policy '{}': '{}' is not key=value", spec, part);
    const std::string key = normalize_key(trim(part.substr(0, eq)));
    const std::string value = trim(part.substr(eq + 1));
    // Numbers and booleans as such; anything else (REJECT / DELAY) as text.
    int64_t i = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), i);
    if (ec == std::errc() && end == value.data() + value.size())
      fields[key] = i;
    else if (value == "true" || value == "false")
      fields[key] = value == "true";
    else
      fields[key] = value;
  }
  return merge_policy(settings, level, fields, "--queue-policy");
}

Status resolve_queue_policies(ServeSettings& settings) {
  const int32_t n = settings.scheduler.priority_levels;
  if (n < 1 || n > 1000) return error("priority_levels must be in 1..1000, got {}", n);
  for (const auto& [level, patch] : settings.queue_policy) {
    if (level == "default") continue;
    int32_t p = 0;
    auto [end, ec] = std::from_chars(level.data(), level.data() + level.size(), p);
    if (ec != std::errc() || end != level.data() + level.size() || p < 1 || p > n)
      return error("queue policy for level '{}': levels are 1..{} (priority_levels) or 'default'", level, n);
  }
  auto apply = [](const json& patch, const std::string& level, engine::QueuePolicy& q) -> Status {
    for (const auto& [k, v] : patch.items()) {
      Reader r{"queue policy", fmt::format("{}.{}", level, k)};
      if (k == "max_queue_size") {
        AG_TRY(auto x, r.integer(v, 0, 1 << 30));
        q.max_queue_size = static_cast<int32_t>(x);
      } else if (k == "default_timeout_us") {
        AG_TRY(auto x, r.integer(v, 0, int64_t{1} << 50));
        q.default_timeout_us = x;
      } else if (k == "timeout_action") {
        AG_TRY(auto x, r.string(v));
        auto action = engine::parse_timeout_action(x);
        if (!action.ok()) return r.bad(action.error().message);
        q.timeout_action = *action;
      } else if (k == "allow_timeout_override") {
        if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) {
          q.allow_timeout_override = v.get<int64_t>() == 1;
        } else {
          AG_TRY(auto x, r.boolean(v));
          q.allow_timeout_override = x;
        }
      } else {
        return r.bad("is not a queue policy field (max_queue_size, default_timeout_us, timeout_action, "
                     "allow_timeout_override)");
      }
    }
    return {};
  };
  engine::QueuePolicy base;
  if (auto it = settings.queue_policy.find("default"); it != settings.queue_policy.end())
    AG_TRY_STATUS(apply(it->second, "default", base));
  settings.scheduler.levels.assign(static_cast<size_t>(n), base);
  for (int32_t p = 1; p <= n; ++p)
    if (auto it = settings.queue_policy.find(std::to_string(p)); it != settings.queue_policy.end())
      AG_TRY_STATUS(apply(it->second, it->first, settings.scheduler.levels[static_cast<size_t>(p - 1)]));
  return {};
}

Status apply_config(const json& config, std::string_view label, ServeSettings& s,
                    const std::function<bool(std::string_view key)>& given_as_flag) {
  if (!config.is_object()) return error("{}: the config must be a mapping of settings", label);
  for (const auto& [raw_key, v] : config.items()) {
    const std::string key = normalize_key(raw_key);
    if (given_as_flag(key)) continue;
    Reader r{label, key};
    if (v.is_null()) continue;
    auto& sc = s.scheduler;
    auto& lim = s.server.limits;
    if (key == "model") {
      AG_TRY(s.model, r.string(v));
    } else if (key == "alias") {
      AG_TRY(s.alias, r.string(v));
    } else if (key == "host") {
      AG_TRY(s.server.host, r.string(v));
    } else if (key == "port") {
      AG_TRY(auto x, r.integer(v, 0, 65535));
      s.server.port = static_cast<int>(x);
    } else if (key == "api_keys" || key == "api_key") {
      s.server.api_keys.clear();
      if (v.is_string()) {
        s.server.api_keys.push_back(v.get<std::string>());
      } else if (v.is_array()) {
        for (const auto& k : v) {
          if (!k.is_string() || k.get<std::string>().empty()) return r.bad("must hold non-empty strings");
          s.server.api_keys.push_back(k.get<std::string>());
        }
      } else {
        return r.bad("must be a string or a list of strings");
      }
    } else if (key == "api_key_file") {
      AG_TRY(s.api_key_file, r.string(v));
    } else if (key == "ctx_size") {
      AG_TRY(auto x, r.integer(v, 0, 1 << 24));
      s.ctx_size = static_cast<int32_t>(x);
    } else if (key == "ctx_total") {
      AG_TRY(s.ctx_total, r.integer(v, 0, int64_t{1} << 32));
    } else if (key == "kv_memory") {
      AG_TRY(s.kv_memory, r.size(v));
    } else if (key == "kv_block_size") {
      AG_TRY(auto x, r.integer(v, 1, 4096));
      s.kv_block_size = static_cast<int32_t>(x);
    } else if (key == "kv_type") {
      AG_TRY(s.kv_type, r.string(v));
    } else if (key == "threads") {
      AG_TRY(auto x, r.integer(v, 0, 1024));
      s.threads = static_cast<int32_t>(x);
    } else if (key == "pin_threads") {
      AG_TRY(s.pin_threads, r.boolean(v));
    } else if (key == "mlock") {
      AG_TRY(s.mlock, r.boolean(v));
    } else if (key == "repack") {
      AG_TRY(s.repack, r.boolean(v));
    } else if (key == "max_batch_tokens") {
      AG_TRY(auto x, r.integer(v, 1, 1 << 20));
      sc.max_batch_tokens = static_cast<int32_t>(x);
    } else if (key == "background_batch_tokens") {
      AG_TRY(auto x, r.integer(v, 0, 1 << 20));
      sc.background_batch_tokens = static_cast<int32_t>(x);
    } else if (key == "max_running") {
      AG_TRY(auto x, r.integer(v, 1, 1 << 16));
      sc.max_running = static_cast<int32_t>(x);
    } else if (key == "priority_levels") {
      AG_TRY(auto x, r.integer(v, 1, 1000));
      sc.priority_levels = static_cast<int32_t>(x);
    } else if (key == "default_priority") {
      AG_TRY(auto x, r.integer(v, 1, 1000));
      sc.default_priority = static_cast<int32_t>(x);
    } else if (key == "max_queue_delay_us") {
      AG_TRY(sc.max_queue_delay_us, r.integer(v, 0, int64_t{1} << 40));
    } else if (key == "prefix_cache") {
      AG_TRY(sc.prefix_cache, r.boolean(v));
    } else if (key == "queue_policy") {
      if (!v.is_object()) return r.bad("must map 'default' or level numbers to policy fields");
      for (const auto& [level, fields] : v.items())
        AG_TRY_STATUS(merge_policy(s, level, fields, label));
    } else if (key == "shutdown_timeout") {
      AG_TRY(auto x, r.number(v, 0, 86400));
      s.server.shutdown_timeout = std::chrono::milliseconds(static_cast<int64_t>(x * 1000));
    } else if (key == "max_body_bytes") {
      AG_TRY(auto x, r.size(v));
      s.server.max_body_bytes = x;
    } else if (key == "max_tokens") {
      AG_TRY(auto x, r.integer(v, 0, 1 << 24));
      lim.max_tokens = static_cast<int32_t>(x);
    } else if (key == "max_n") {
      AG_TRY(auto x, r.integer(v, 1, 1024));
      lim.max_n = static_cast<int32_t>(x);
    } else if (key == "max_prompts") {
      AG_TRY(auto x, r.integer(v, 1, 1024));
      lim.max_prompts = static_cast<int32_t>(x);
    } else if (key == "max_stop") {
      AG_TRY(auto x, r.integer(v, 0, 1024));
      lim.max_stop = static_cast<int32_t>(x);
    } else if (key == "max_logprobs") {
      AG_TRY(auto x, r.integer(v, 0, 1 << 16));
      lim.max_logprobs = static_cast<int32_t>(x);
    } else if (key == "chat_template") {
      AG_TRY(s.chat_template, r.string(v));
    } else if (key == "chat_template_file") {
      AG_TRY(s.chat_template_file, r.string(v));
    } else if (key == "log_prompts") {
      AG_TRY(s.server.log_prompts, r.boolean(v));
    } else if (key == "http_threads") {
      AG_TRY(auto x, r.integer(v, 1, 4096));
      s.server.http_threads = static_cast<int>(x);
    } else {
      return error("{}: unknown setting '{}'", label, raw_key);
    }
  }
  return {};
}

Status apply_config_file(const std::string& path, ServeSettings& settings,
                         const std::function<bool(std::string_view key)>& given_as_flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("{}: cannot read the config file", path);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  json config;
  const bool is_json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (is_json) {
    try {
      config = json::parse(text);
    } catch (const json::parse_error& e) {
      return error("{}: invalid JSON: {}", path, e.what());
    }
  } else {
    AG_TRY(config, yaml_to_json(text, path));
  }
  return apply_config(config, path, settings, given_as_flag);
}

}  // namespace ag::server
