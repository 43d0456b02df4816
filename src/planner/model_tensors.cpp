#include "planner/model_tensors.h"

#include <charconv>
#include <string_view>

#include <fmt/format.h>

namespace ag::planner {

namespace {

struct RoleName {
  TensorRole role;
  std::string_view suffix;  // after "blk.N." for block tensors
};

constexpr RoleName kBlockRoles[] = {
    {TensorRole::AttnNorm, "attn_norm.weight"},     {TensorRole::AttnQ, "attn_q.weight"},
    {TensorRole::AttnQBias, "attn_q.bias"},         {TensorRole::AttnK, "attn_k.weight"},
    {TensorRole::AttnKBias, "attn_k.bias"},         {TensorRole::AttnV, "attn_v.weight"},
    {TensorRole::AttnVBias, "attn_v.bias"},         {TensorRole::AttnQNorm, "attn_q_norm.weight"},
    {TensorRole::AttnKNorm, "attn_k_norm.weight"},  {TensorRole::AttnOutput, "attn_output.weight"},
    {TensorRole::FfnNorm, "ffn_norm.weight"},       {TensorRole::FfnGate, "ffn_gate.weight"},
    {TensorRole::FfnUp, "ffn_up.weight"},           {TensorRole::FfnDown, "ffn_down.weight"},
};

}  // namespace

bool TensorSpec::is_matrix() const {
  if (shape.size() < 2) return false;
  std::string_view n = name;
  if (!n.ends_with(".weight")) return false;
  return n.find("_norm.weight") == std::string_view::npos;
}

TensorRole tensor_role(std::string_view name, int* layer) {
  if (layer != nullptr) *layer = -1;
  if (name == "token_embd.weight") return TensorRole::TokenEmbd;
  if (name == "output.weight") return TensorRole::Output;
  if (name == "output_norm.weight") return TensorRole::OutputNorm;
  if (name == "rope_freqs.weight") return TensorRole::RopeFreqs;
  if (!name.starts_with("blk.")) return TensorRole::Other;
  std::string_view rest = name.substr(4);
  int index = -1;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
  if (ec != std::errc() || end == rest.data() || end == rest.data() + rest.size() || *end != '.')
    return TensorRole::Other;
  std::string_view suffix(end + 1, static_cast<size_t>(rest.data() + rest.size() - (end + 1)));
  for (const auto& r : kBlockRoles) {
    if (suffix == r.suffix) {
      if (layer != nullptr) *layer = index;
      return r.role;
    }
  }
  return TensorRole::Other;
}

std::vector<TensorSpec> model_tensors(const HParams& hp) {
  const auto e = static_cast<uint64_t>(hp.n_embd);
  const auto q = static_cast<uint64_t>(hp.n_embd_q());
  const auto kv = static_cast<uint64_t>(hp.n_embd_kv());
  const auto ff = static_cast<uint64_t>(hp.n_ff);
  const auto vocab = static_cast<uint64_t>(hp.n_vocab);
  const auto hd = static_cast<uint64_t>(hp.head_dim);

  std::vector<TensorSpec> out;
  out.push_back({"token_embd.weight", TensorRole::TokenEmbd, -1, {e, vocab}});
  if (hp.has_rope_freqs)
    out.push_back({"rope_freqs.weight", TensorRole::RopeFreqs, -1,
                   {static_cast<uint64_t>(hp.n_rot / 2)}});
  out.push_back({"output_norm.weight", TensorRole::OutputNorm, -1, {e}});
  if (!hp.tied_output) out.push_back({"output.weight", TensorRole::Output, -1, {e, vocab}});
  for (int il = 0; il < hp.n_layer; ++il) {
    auto add = [&](TensorRole role, std::string_view suffix, std::vector<uint64_t> shape) {
      out.push_back({fmt::format("blk.{}.{}", il, suffix), role, il, std::move(shape)});
    };
    add(TensorRole::AttnNorm, "attn_norm.weight", {e});
    add(TensorRole::AttnQ, "attn_q.weight", {e, q});
    if (hp.qkv_bias) add(TensorRole::AttnQBias, "attn_q.bias", {q});
    add(TensorRole::AttnK, "attn_k.weight", {e, kv});
    if (hp.qkv_bias) add(TensorRole::AttnKBias, "attn_k.bias", {kv});
    add(TensorRole::AttnV, "attn_v.weight", {e, kv});
    if (hp.qkv_bias) add(TensorRole::AttnVBias, "attn_v.bias", {kv});
    if (hp.qk_norm) {
      add(TensorRole::AttnQNorm, "attn_q_norm.weight", {hd});
      add(TensorRole::AttnKNorm, "attn_k_norm.weight", {hd});
    }
    add(TensorRole::AttnOutput, "attn_output.weight", {q, e});
    add(TensorRole::FfnNorm, "ffn_norm.weight", {e});
    add(TensorRole::FfnGate, "ffn_gate.weight", {e, ff});
    add(TensorRole::FfnUp, "ffn_up.weight", {e, ff});
    add(TensorRole::FfnDown, "ffn_down.weight", {ff, e});
  }
  return out;
}

uint64_t count_parameters(const std::vector<TensorSpec>& tensors) {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.n_elements();
  return n;
}

}  // namespace ag::planner
