// `autoglm inspect FILE [--json]`: what a GGUF file holds — metadata, tensors, totals (parameters,
// bits per weight) and a summary of the architecture read from its `<arch>.*` keys.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "model/packed_weights.h"
#include "tensor/packed.h"
#include "pull/model_path.h"

namespace ag::cli {
namespace {

using gguf::Array;
using gguf::File;
using gguf::Value;
using gguf::ValueType;
using nlohmann::json;

constexpr size_t kShownItems = 8;  // long arrays show their first items and the count

// One architecture field: a value when the file has it (or it can be derived), else nothing.
struct ArchField {
  std::string name;       // for people: "kv heads"
  std::string json_name;  // for --json: "n_head_kv"
  std::optional<Value> value;
  std::string note;  // "derived", "default", "per layer" ...
};

std::optional<int64_t> int_key(const File& f, const std::string& key) {
  const Value* v = f.find(key);
  return v != nullptr ? v->as_int() : std::nullopt;
}

// The summary every model loader needs first, from the `<arch>.*` keys of the GGUF convention.
std::vector<ArchField> architecture_summary(const File& f, const std::string& arch) {
  std::vector<ArchField> out;
  auto add_key = [&](const std::string& name, const std::string& json_name,
                     const std::string& key) -> const Value* {
    const Value* v = f.find(arch + "." + key);
    out.push_back({name, json_name, v != nullptr ? std::optional<Value>(*v) : std::nullopt,
                   v != nullptr && v->as_array() != nullptr ? "per layer" : ""});
    return v;
  };
  add_key("layers", "n_layer", "block_count");
  add_key("hidden size", "n_embd", "embedding_length");
  add_key("heads", "n_head", "attention.head_count");
  if (add_key("kv heads", "n_head_kv", "attention.head_count_kv") == nullptr) {
    // Absent means no grouped-query attention: as many KV heads as heads.
    if (auto heads = int_key(f, arch + ".attention.head_count"))
      out.back() = {"kv heads", "n_head_kv", Value(*heads), "= heads"};
  }
  if (add_key("head dim", "head_dim", "attention.key_length") == nullptr) {
    auto embd = int_key(f, arch + ".embedding_length");
    auto heads = int_key(f, arch + ".attention.head_count");
    if (embd && heads && *heads > 0) out.back() = {"head dim", "head_dim", Value(*embd / *heads), "derived"};
  }
  add_key("ffn size", "n_ff", "feed_forward_length");
  if (add_key("vocab size", "n_vocab", "vocab_size") == nullptr) {
    if (const Value* tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->as_array())
      out.back() = {"vocab size", "n_vocab", Value(static_cast<uint64_t>(tokens->as_array()->items.size())),
                    "tokenizer.ggml.tokens"};
    else if (const auto* embd = f.tensor("token_embd.weight"); embd && embd->shape.size() >= 2)
      out.back() = {"vocab size", "n_vocab", Value(embd->shape[1]), "token_embd.weight"};
  }
  add_key("context length", "n_ctx_train", "context_length");
  if (add_key("rope base", "rope_freq_base", "rope.freq_base") == nullptr)
    out.back() = {"rope base", "rope_freq_base", Value(10000.0f), "default"};
  return out;
}

// Metadata value as JSON; arrays longer than kShownItems keep their first items and their count.
json value_json(const Value& v) {
  return std::visit(
      [&](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Array>) {
          json items = json::array();
          for (size_t i = 0; i < x.items.size() && i < kShownItems; ++i)
            items.push_back(value_json(x.items[i]));
          return items;
        } else {
          return x;
        }
      },
      v.data);
}

json metadata_entry_json(const Value& v) {
  json j = {{"type", gguf::value_type_name(v.type())}, {"value", value_json(v)}};
  if (const Array* a = v.as_array()) {
    j["element_type"] = gguf::value_type_name(a->type);
    j["count"] = a->items.size();
    j["truncated"] = a->items.size() > kShownItems;
  }
  return j;
}

struct Totals {
  uint64_t n_params = 0;
  uint64_t tensor_bytes = 0;
  std::map<std::string, uint64_t> params_by_type;  // "q4_k" → parameters stored in that type
  double bits_per_weight() const {
    return n_params > 0 ? 8.0 * static_cast<double>(tensor_bytes) / static_cast<double>(n_params)
                        : 0.0;
  }
};

Totals totals_of(const File& f) {
  Totals t;
  for (const auto& info : f.tensors()) {
    t.n_params += info.n_elements;
    t.tensor_bytes += info.n_bytes;
    t.params_by_type[std::string(dtype_name(info.type))] += info.n_elements;
  }
  return t;
}

std::string shape_string(const gguf::TensorInfo& t) {
  std::string s;
  for (size_t i = 0; i < t.shape.size(); ++i) s += fmt::format("{}{}", i ? " x " : "", t.shape[i]);
  return s;
}

std::string human_count(uint64_t n) {
  if (n >= 1000000000) return fmt::format("{:.2f}B", static_cast<double>(n) / 1e9);
  if (n >= 1000000) return fmt::format("{:.2f}M", static_cast<double>(n) / 1e6);
  if (n >= 1000) return fmt::format("{:.1f}K", static_cast<double>(n) / 1e3);
  return fmt::format("{}", n);
}

std::string human_bytes(uint64_t n) {
  const double d = static_cast<double>(n);
  if (n >= (1ull << 30)) return fmt::format("{:.2f} GiB", d / (1ull << 30));
  if (n >= (1ull << 20)) return fmt::format("{:.2f} MiB", d / (1ull << 20));
  if (n >= (1ull << 10)) return fmt::format("{:.1f} KiB", d / (1ull << 10));
  return fmt::format("{} B", n);
}

// What Model::load does to this file's matrices on this CPU (model/packed_weights.h).
struct Repacking {
  int n_tensors = 0;
  uint64_t bytes = 0;
  std::string kernels;  // the kernels the packed matrices run on, or why none are packed
};

Repacking repacking_of(const File& f) {
  Repacking r;
  bool packable_type = false;  // a tensor of a type with a packed layout, repacked or not
  std::vector<std::string> isas;  // the kernels of the repacked types, each once
  for (const auto& t : f.tensors()) {
    packable_type = packable_type || has_packed_layout(t.type);
    if (!repacked_at_load(f, t)) continue;
    r.n_tensors++;
    r.bytes += t.n_bytes;
    const std::string isa = packed_isa_name(*best_packed_isa(t.type));
    if (std::find(isas.begin(), isas.end(), isa) == isas.end()) isas.push_back(isa);
  }
  if (r.n_tensors > 0) {
    for (const std::string& isa : isas) r.kernels += (r.kernels.empty() ? "" : " and ") + isa;
  } else if (packable_type) {
    r.kernels = "none: this CPU has no packed kernel (they need AVX2 + FMA + F16C; or AUTOGLM_FORCE_SCALAR=1)";
  } else {
    r.kernels = "none: no q4_0, q5_0, q8_0, q4_k, q5_k, q6_k, f16 or bf16 matrices";
  }
  return r;
}

void print_json(const File& f, const std::string& arch) {
  Totals totals = totals_of(f);
  json j;
  j["file"] = f.path();
  j["file_size"] = f.file_size();
  j["version"] = f.version();
  j["alignment"] = f.alignment();
  j["data_offset"] = f.data_offset();
  json arch_json = json::object();
  if (!arch.empty()) {
    arch_json["name"] = arch;
    for (const auto& field : architecture_summary(f, arch))
      arch_json[field.json_name] = field.value ? value_json(*field.value) : json(nullptr);
  }
  j["architecture"] = arch_json;
  json meta = json::object();
  for (const auto& [key, value] : f.metadata()) meta[key] = metadata_entry_json(value);
  j["metadata"] = meta;
  json tensors = json::array();
  for (const auto& t : f.tensors())
    tensors.push_back({{"name", t.name},
                       {"type", dtype_name(t.type)},
                       {"shape", t.shape},
                       {"offset", f.data_offset() + t.offset},
                       {"bytes", t.n_bytes},
                       {"repacked_at_load", repacked_at_load(f, t) ? json(packed_layout_name(t.type)) : json(nullptr)}});
  j["tensors"] = tensors;
  const Repacking rp = repacking_of(f);
  j["repacked_at_load"] = {{"n_tensors", rp.n_tensors}, {"bytes", rp.bytes}, {"kernels", rp.kernels}};
  j["n_tensors"] = f.tensors().size();
  j["n_parameters"] = totals.n_params;
  j["tensor_bytes"] = totals.tensor_bytes;
  j["bits_per_weight"] = totals.bits_per_weight();
  j["parameters_by_type"] = totals.params_by_type;
  // Strings in GGUF files need not be valid UTF-8 (byte tokens): replace bad bytes, don't throw.
  std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

void print_text(const File& f, const std::string& arch) {
  Totals totals = totals_of(f);
  std::printf("file:        %s\n", f.path().c_str());
  std::printf("size:        %s (%llu bytes), GGUF v%u, alignment %llu, data at offset %llu\n",
              human_bytes(f.file_size()).c_str(), static_cast<unsigned long long>(f.file_size()),
              f.version(), static_cast<unsigned long long>(f.alignment()),
              static_cast<unsigned long long>(f.data_offset()));
  if (!arch.empty()) {
    std::printf("\narchitecture: %s\n", arch.c_str());
    for (const auto& field : architecture_summary(f, arch)) {
      std::string value = field.value ? field.value->to_display_string(kShownItems) : "-";
      std::string note = field.note.empty() ? "" : fmt::format("  ({})", field.note);
      std::printf("  %-16s %s%s\n", field.name.c_str(), value.c_str(), note.c_str());
    }
  }
  std::printf("\nmetadata (%zu keys):\n", f.metadata().size());
  for (const auto& [key, value] : f.metadata()) {
    std::string type(gguf::value_type_name(value.type()));
    if (const Array* a = value.as_array())
      type = fmt::format("{}[{}]", gguf::value_type_name(a->type), a->items.size());
    std::printf("  %-40s %-12s %s\n", key.c_str(), type.c_str(),
                value.to_display_string(kShownItems).c_str());
  }
  std::printf("\ntensors (%zu):\n", f.tensors().size());
  size_t name_width = 4;
  for (const auto& t : f.tensors()) name_width = std::max(name_width, t.name.size());
  std::printf("  %-*s  %-8s %-24s %12s  %s\n", static_cast<int>(name_width), "name", "type", "shape",
              "bytes", "at load");
  for (const auto& t : f.tensors())
    std::printf("  %-*s  %-8s %-24s %12llu  %s\n", static_cast<int>(name_width), t.name.c_str(),
                std::string(dtype_name(t.type)).c_str(), shape_string(t).c_str(),
                static_cast<unsigned long long>(t.n_bytes),
                repacked_at_load(f, t) ? ("repacked " + packed_layout_name(t.type)).c_str() : "in place");
  std::printf("\ntotals:\n");
  std::printf("  parameters:      %s (%llu)\n", human_count(totals.n_params).c_str(),
              static_cast<unsigned long long>(totals.n_params));
  for (const auto& [type, n] : totals.params_by_type)
    std::printf("    %-8s %llu\n", type.c_str(), static_cast<unsigned long long>(n));
  std::printf("  tensor bytes:    %s (%llu)\n", human_bytes(totals.tensor_bytes).c_str(),
              static_cast<unsigned long long>(totals.tensor_bytes));
  std::printf("  file size:       %s (%llu)\n", human_bytes(f.file_size()).c_str(),
              static_cast<unsigned long long>(f.file_size()));
  std::printf("  bits per weight: %.2f\n", totals.bits_per_weight());
  const Repacking rp = repacking_of(f);
  if (rp.n_tensors > 0)
    std::printf("  repacked at load: %d matrices, %s, into 16-row interleaved blocks for the %s kernels\n"
                "                    (on this CPU; `--no-repack` keeps the file's layout)\n",
                rp.n_tensors, human_bytes(rp.bytes).c_str(), rp.kernels.c_str());
  else
    std::printf("  repacked at load: %s\n", rp.kernels.c_str());
}

int run_inspect(int argc, char** argv) {
  CLI::App app{"Show the metadata, tensors and architecture of a GGUF file", "inspect"};
  std::string path;
  bool as_json = false;
  app.add_option("file", path, "GGUF file or hf://REPO/FILE (default: the built-in model)");
  app.add_flag("--json", as_json, "print one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto resolved = ag::resolve_model_arg(path);  // "" -> models/default.gguf
  if (!resolved.ok()) {
    std::fprintf(stderr, "autoglm: %s\n", resolved.error().message.c_str());
    return 1;
  }
  auto file = File::open(*resolved);
  if (!file.ok()) {
    std::fprintf(stderr, "autoglm: %s\n", file.error().message.c_str());
    return 1;
  }
  std::string arch;
  if (const Value* a = file->find("general.architecture"); a != nullptr && a->as_string())
    arch = *a->as_string();
  if (as_json)
    print_json(*file, arch);
  else
    print_text(*file, arch);
  return 0;
}

const CommandRegistration kRegistration{
    {"inspect", "show a GGUF file's metadata, tensors and architecture", run_inspect}};

}  // namespace
}  // namespace ag::cli
