#include "model/weights.h"

#include <cstdint>
#include <string>

#include "tensor/type_traits.h"

namespace ag {

namespace {

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

class Binder {
 public:
  Binder(const gguf::File& file, ModelWeights& weights) : file_(file), weights_(weights) {}

  // A matrix of n_out rows of n_in elements, any type with dot-product kernels.
  Result<kernels::WeightView> matrix(const std::string& name, int64_t n_in, int64_t n_out) {
    AG_TRY(const gguf::TensorInfo* t, find(name));
    if (t->shape.size() != 2 || t->ne(0) != static_cast<uint64_t>(n_in) ||
        t->ne(1) != static_cast<uint64_t>(n_out))
      return error("{}: tensor '{}' has shape {}, expected [{}, {}]", file_.path(), name,
                   shape_string(t->shape), n_in, n_out);
    const DTypeInfo& info = dtype_info(t->type);
    if (n_in % info.block_size != 0)
      return error("{}: tensor '{}' rows of {} elements are not whole {} blocks", file_.path(),
                   name, n_in, info.name);
    if (!info.computable || !has_type_traits(t->type) ||
        !has_type_traits(type_traits(t->type).vec_dot_type))
      return error("{}: tensor '{}' has type {}, which this build cannot compute", file_.path(),
                   name, info.name);
    kernels::WeightView w;
    w.data = t->data;
    w.type = t->type;
    w.n_in = n_in;
    w.n_out = n_out;
    w.row_bytes = row_bytes(t->type, static_cast<uint64_t>(n_in));
    return w;
  }

  // A vector of n floats (norm weights, biases), used in place when F32, else converted.
  Result<const float*> vector(const std::string& name, int64_t n) {
    AG_TRY(const gguf::TensorInfo* t, find(name));
    if (t->shape.size() != 1 || t->ne(0) != static_cast<uint64_t>(n))
      return error("{}: tensor '{}' has shape {}, expected [{}]", file_.path(), name,
                   shape_string(t->shape), n);
    // In place when F32 and aligned (GGUF aligns tensor data to general.alignment, normally 32).
    if (t->type == DType::F32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0)
      return reinterpret_cast<const float*>(t->data);
    if (t->type != DType::F32 && t->type != DType::F16 && t->type != DType::BF16)
      return error("{}: tensor '{}' has type {}, expected f32, f16 or bf16", file_.path(), name,
                   dtype_name(t->type));
    if (!has_type_traits(t->type))
      return error("{}: tensor '{}' has type {}, which this build cannot convert", file_.path(),
                   name, dtype_name(t->type));
    auto buf = std::make_unique<float[]>(static_cast<size_t>(n));
    type_traits(t->type).to_float(t->data, buf.get(), n);
    weights_.converted.push_back(std::move(buf));
    return static_cast<const float*>(weights_.converted.back().get());
  }

  bool has(const std::string& name) const { return file_.tensor(name) != nullptr; }

 private:
  Result<const gguf::TensorInfo*> find(const std::string& name) {
    const gguf::TensorInfo* t = file_.tensor(name);
    if (t == nullptr) return error("{}: tensor '{}' is missing", file_.path(), name);
    if (t->data == nullptr) return error("{}: tensor '{}' has no data", file_.path(), name);
    return t;
  }

  const gguf::File& file_;
  ModelWeights& weights_;
};

}  // namespace

std::vector<kernels::WeightView*> multiplied_matrices(ModelWeights& w) {
  std::vector<kernels::WeightView*> views;
  for (auto& l : w.layers)
    for (kernels::WeightView* v : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      views.push_back(v);
  views.push_back(&w.output);
  return views;
}

Result<ModelWeights> bind_weights(const gguf::File& file, const HParams& hp) {
  ModelWeights w;
  Binder b(file, w);
  const int64_t n_embd = hp.n_embd, n_q = hp.n_embd_q(), n_kv = hp.n_embd_kv(), n_ff = hp.n_ff;
  const int64_t n_vocab = hp.n_vocab;

  AG_TRY(w.token_embd, b.matrix("token_embd.weight", n_embd, n_vocab));
  AG_TRY(w.output_norm, b.vector("output_norm.weight", n_embd));
  if (hp.tied_output) {
    w.output = w.token_embd;
  } else {
    AG_TRY(w.output, b.matrix("output.weight", n_embd, n_vocab));
  }
  if (hp.has_rope_freqs) {
    AG_TRY(w.rope_freqs, b.vector("rope_freqs.weight", hp.n_rot / 2));
  }

  w.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int il = 0; il < hp.n_layer; ++il) {
    LayerWeights& l = w.layers[static_cast<size_t>(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    AG_TRY(l.attn_norm, b.vector(p + "attn_norm.weight", n_embd));
    AG_TRY(l.wq, b.matrix(p + "attn_q.weight", n_embd, n_q));
    AG_TRY(l.wk, b.matrix(p + "attn_k.weight", n_embd, n_kv));
    AG_TRY(l.wv, b.matrix(p + "attn_v.weight", n_embd, n_kv));
    AG_TRY(l.wo, b.matrix(p + "attn_output.weight", n_q, n_embd));
    if (hp.qkv_bias) {
      AG_TRY(l.bq, b.vector(p + "attn_q.bias", n_q));
      AG_TRY(l.bk, b.vector(p + "attn_k.bias", n_kv));
      AG_TRY(l.bv, b.vector(p + "attn_v.bias", n_kv));
    }
    if (hp.qk_norm) {
      AG_TRY(l.q_norm, b.vector(p + "attn_q_norm.weight", hp.head_dim));
      AG_TRY(l.k_norm, b.vector(p + "attn_k_norm.weight", hp.head_dim));
    }
    AG_TRY(l.ffn_norm, b.vector(p + "ffn_norm.weight", n_embd));
    AG_TRY(l.w_gate, b.matrix(p + "ffn_gate.weight", n_embd, n_ff));
    AG_TRY(l.w_up, b.matrix(p + "ffn_up.weight", n_embd, n_ff));
    AG_TRY(l.w_down, b.matrix(p + "ffn_down.weight", n_ff, n_embd));
  }
  return w;
}

}  // namespace ag
