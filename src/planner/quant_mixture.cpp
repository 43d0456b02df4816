#include "planner/quant_mixture.h"

#include <string>

#include "core/check.h"
#include "tensor/kquant_mixture.h"

namespace ag::planner {

namespace {

struct FileTypeEntry {
  FileType ftype;
  std::string_view name;
  DType base;
};

constexpr FileTypeEntry kFileTypes[] = {
    {FileType::F32, "F32", DType::F32},           {FileType::F16, "F16", DType::F16},
    {FileType::BF16, "BF16", DType::BF16},        {FileType::Q4_0, "Q4_0", DType::Q4_0},
    {FileType::Q4_1, "Q4_1", DType::Q4_1},        {FileType::Q5_0, "Q5_0", DType::Q5_0},
    {FileType::Q5_1, "Q5_1", DType::Q5_1},        {FileType::Q8_0, "Q8_0", DType::Q8_0},
    {FileType::Q2_K, "Q2_K", DType::Q2_K},
    {FileType::Q3_K_S, "Q3_K_S", DType::Q3_K},    {FileType::Q3_K_M, "Q3_K_M", DType::Q3_K},
    {FileType::Q3_K_L, "Q3_K_L", DType::Q3_K},    {FileType::Q4_K_S, "Q4_K_S", DType::Q4_K},
    {FileType::Q4_K_M, "Q4_K_M", DType::Q4_K},    {FileType::Q5_K_S, "Q5_K_S", DType::Q5_K},
    {FileType::Q5_K_M, "Q5_K_M", DType::Q5_K},    {FileType::Q6_K, "Q6_K", DType::Q6_K},
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

const FileTypeEntry& entry(FileType ftype) {
  for (const auto& e : kFileTypes)
    if (e.ftype == ftype) return e;
  return kFileTypes[0];  // unreachable for a valid enum value
}

}  // namespace

Result<FileType> file_type_from_name(std::string_view name) {
  std::string u = upper(name);
  if (u == "Q3_K") u = "Q3_K_M";
  if (u == "Q4_K") u = "Q4_K_M";
  if (u == "Q5_K") u = "Q5_K_M";
  if (u == "FP16") u = "F16";
  if (u == "FP32") u = "F32";
  for (const auto& e : kFileTypes)
    if (e.name == u) return e.ftype;
  std::string known;
  for (const auto& e : kFileTypes) {
    if (!known.empty()) known += ", ";
    known += e.name;
  }
  return error("unknown model type '{}' (known: {}; Q3_K/Q4_K/Q5_K mean the _M mixtures)", name,
               known);
}

std::string_view file_type_name(FileType ftype) { return entry(ftype).name; }

std::optional<FileType> file_type_from_id(uint32_t id) {
  for (const auto& e : kFileTypes)
    if (static_cast<uint32_t>(e.ftype) == id) return e.ftype;
  return std::nullopt;
}

DType file_type_base(FileType ftype) { return entry(ftype).base; }

std::vector<std::string_view> file_type_names() {
  std::vector<std::string_view> out;
  for (const auto& e : kFileTypes) out.push_back(e.name);
  return out;
}

std::vector<DType> assign_types(const HParams& hp, const std::vector<TensorSpec>& tensors,
                                FileType ftype) {
  // The rules themselves live with the quantizer (tensor/kquant_mixture.h), so a planned or
  // synthesized file and a file from `autoglm quantize` always agree.
  const std::optional<quant::Scheme> scheme = quant::find_scheme(file_type_name(ftype));
  AG_CHECK(scheme.has_value(), "no quantization scheme for file type %u", static_cast<unsigned>(ftype));
  quant::ModelFacts facts;
  facts.arch = hp.arch;
  facts.n_layer = hp.n_layer;
  facts.n_head = hp.n_head;
  facts.n_head_kv = hp.n_head_kv;
  std::vector<quant::TensorSpec> specs;
  specs.reserve(tensors.size());
  for (const auto& t : tensors) specs.push_back({t.name, t.shape, DType::F32});  // F32 source
  auto choices = quant::choose_tensor_types(specs, facts, *scheme, false);
  AG_CHECK(choices.ok(), "%s", choices.ok() ? "" : choices.error().message.c_str());
  std::vector<DType> out;
  out.reserve(tensors.size());
  for (const auto& c : *choices) out.push_back(c.type);
  return out;
}

}  // namespace ag::planner
