#include "planner/quant_mixture.h"

#include <algorithm>
#include <string>

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
    {FileType::Q2_K, "Q2_K", DType::Q2_K},        {FileType::Q2_K_S, "Q2_K_S", DType::Q2_K},
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

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third in between.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// A row length the type's block does not divide: the type llama.cpp falls back to.
DType fallback(DType type, uint64_t n_cols) {
  if (n_cols % dtype_info(type).block_size == 0) return type;
  DType next = DType::F16;
  switch (type) {
    case DType::Q2_K:
    case DType::Q3_K: next = DType::Q4_0; break;  // b4747 used IQ4_NL, which we do not have
    case DType::Q4_K: next = DType::Q5_0; break;
    case DType::Q5_K: next = DType::Q5_1; break;
    case DType::Q6_K: next = DType::Q8_0; break;
    default: next = DType::F16; break;
  }
  if (n_cols % dtype_info(next).block_size != 0) next = DType::F16;
  return next;
}

// The mixture rules for one quantized matrix (llama_tensor_get_type, for the dense llama-family
// architectures this project runs: no experts, no Falcon, no IQ types).
DType mixture_type(const HParams& hp, const TensorSpec& t, FileType ft, DType base, bool tied,
                   int n_layer) {
  using F = FileType;
  const bool is_70b = n_layer == 80 && (hp.arch == "llama" || hp.arch == "qwen2");
  const int n_gqa = hp.n_head_kv > 0 ? hp.n_head / hp.n_head_kv : 1;
  const int il = std::max(0, t.layer);
  DType type = base;
  const bool output_like =
      t.role == TensorRole::Output || (tied && t.role == TensorRole::TokenEmbd);
  if (output_like) {
    if (t.shape[0] % dtype_info(base).block_size != 0) return DType::Q8_0;
    return base == DType::Q8_0 ? DType::Q8_0 : DType::Q6_K;
  }
  switch (t.role) {
    case TensorRole::AttnV:
      if (ft == F::Q2_K) type = n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
      else if (ft == F::Q2_K_S && n_gqa >= 4) type = DType::Q4_K;
      else if (ft == F::Q3_K_M) type = il < 2 ? DType::Q5_K : DType::Q4_K;
      else if (ft == F::Q3_K_L) type = DType::Q5_K;
      else if ((ft == F::Q4_K_M || ft == F::Q5_K_M) && use_more_bits(il, n_layer)) type = DType::Q6_K;
      else if (ft == F::Q4_K_S && il < 4) type = DType::Q5_K;
      // 70B models share each V head among 8 query heads: attn_v is small, give it more bits.
      if (is_70b && (type == DType::Q3_K || type == DType::Q4_K)) type = DType::Q5_K;
      break;
    case TensorRole::FfnDown:
      if (ft == F::Q2_K) type = DType::Q3_K;
      else if (ft == F::Q2_K_S) { if (il < n_layer / 8) type = DType::Q4_K; }
      else if (ft == F::Q3_K_M) type = il < n_layer / 16 ? DType::Q5_K : DType::Q4_K;
      else if (ft == F::Q3_K_L) type = DType::Q5_K;
      else if (ft == F::Q4_K_M) { if (use_more_bits(il, n_layer)) type = DType::Q6_K; }
      else if (ft == F::Q5_K_M && use_more_bits(il, n_layer)) type = DType::Q6_K;
      else if (ft == F::Q4_K_S && il < n_layer / 8) type = DType::Q5_K;
      break;
    case TensorRole::AttnOutput:
      if (ft == F::Q2_K) type = DType::Q3_K;
      else if (ft == F::Q3_K_M) type = DType::Q4_K;
      else if (ft == F::Q3_K_L) type = DType::Q5_K;
      break;
    default: break;
  }
  return type;
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
  const DType base = file_type_base(ftype);
  const bool quantized = base != DType::F32 && base != DType::F16 && base != DType::BF16;
  bool has_output = false;
  int n_attn_v = 0;
  for (const auto& t : tensors) {
    if (t.role == TensorRole::Output) has_output = true;
    if (t.role == TensorRole::AttnV) ++n_attn_v;
  }
  const int n_layer = std::max(hp.n_layer, n_attn_v);
  std::vector<DType> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) {
    if (!t.is_matrix()) {
      out.push_back(DType::F32);
      continue;
    }
    if (!quantized) {
      out.push_back(base);
      continue;
    }
    DType type = mixture_type(hp, t, ftype, base, !has_output, n_layer);
    out.push_back(fallback(type, t.shape[0]));
  }
  return out;
}

}  // namespace ag::planner
