#pragma once
// Settings of `autoglm serve`, from flags and from a config file (--config FILE, JSON or YAML).
// A config key is the flag's long name with '_' for '-' (max_batch_tokens ↔ --max-batch-tokens;
// api_keys ↔ --api-key); a flag given on the command line wins over the file.
//
// Queue policy per priority level, in a file:
//   queue_policy:
//     default: {max_queue_size: 64, timeout_action: REJECT}   # every level
//     2: {default_timeout_us: 5000000, timeout_action: DELAY, allow_timeout_override: true}
// and as flags: --queue-policy "2:default_timeout_us=5000000,timeout_action=DELAY" (repeatable;
// "default:" for every level). Fields of a level patch the default's.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "engine/queue_policy.h"
#include "server/server_options.h"

namespace ag::server {

struct ServeSettings {
  std::string model;  // GGUF path
  std::string alias;  // model id in the API; default: the file name without .gguf
  ServerOptions server;
  std::string api_key_file;  // one key per line; # comments
  engine::SchedulerConfig scheduler;
  int32_t ctx_size = 0;    // positions per request; 0: the model's training context, at most 4096
  int64_t ctx_total = 0;   // KV pool in tokens; 0: from kv_memory, else 4 x ctx_size
  uint64_t kv_memory = 0;  // KV pool in bytes; 0: from ctx_total
  int32_t kv_block_size = 16;
  std::string kv_type = "f16";
  int32_t threads = 0;  // forward-pass threads; 0: all cores
  bool pin_threads = false;  // bind forward-pass thread i to the i-th allowed CPU
  bool mlock = false;        // lock the model file's pages in RAM
  bool repack = true;        // repack Q4_0/Q5_0/Q8_0/Q4_K/Q5_K/Q6_K/F16/BF16 matrices at load where the CPU has the packed kernels
  std::string chat_template;       // built-in name (chatml, llama3, ...)
  std::string chat_template_file;  // Jinja file
  // Queue policy patches: "default" or a level number → object of QueuePolicy fields.
  std::map<std::string, nlohmann::ordered_json> queue_policy;
};

// Reads a JSON (.json) or YAML (anything else) config file into `settings`, skipping keys for
// which `given_as_flag(key)` is true. Errors name the file and the key.
Status apply_config_file(const std::string& path, ServeSettings& settings,
                         const std::function<bool(std::string_view key)>& given_as_flag);
// Same for an already parsed document (tests).
Status apply_config(const nlohmann::ordered_json& config, std::string_view label, ServeSettings& settings,
                    const std::function<bool(std::string_view key)>& given_as_flag);

// "LEVEL:key=value,key=value" (LEVEL a number or "default") merged into settings.queue_policy.
Status add_queue_policy_flag(std::string_view spec, ServeSettings& settings);

// The per-level policies (levels[p - 1]) from settings.queue_policy and priority_levels; checks
// every field and level number.
Status resolve_queue_policies(ServeSettings& settings);

// "2GiB", "512MiB", "1.5G", "1000000" (bytes) → bytes.
Result<uint64_t> parse_size(std::string_view text);

// API keys from a file: one per line, blank lines and # comments skipped.
Result<std::vector<std::string>> read_api_key_file(const std::string& path);

}  // namespace ag::server
