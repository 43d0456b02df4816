#include "reference_forward.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

namespace ag::test {

namespace {

int meta_int(const gguf::File& f, const std::string& key, int fallback) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return fallback;
  return static_cast<int>(v->as_int().value_or(fallback));
}

double meta_float(const gguf::File& f, const std::string& key, double fallback) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return fallback;
  return v->as_float().value_or(fallback);
}

}  // namespace

ReferenceModel::ReferenceModel(const gguf::File& f) {
  arch_ = *f.find("general.architecture")->as_string();
  const std::string a = arch_ + ".";
  n_layer_ = meta_int(f, a + "block_count", 0);
  n_embd_ = meta_int(f, a + "embedding_length", 0);
  n_head_ = meta_int(f, a + "attention.head_count", 0);
  n_head_kv_ = meta_int(f, a + "attention.head_count_kv", n_head_);
  head_dim_ = meta_int(f, a + "attention.key_length", n_embd_ / n_head_);
  n_rot_ = meta_int(f, a + "rope.dimension_count", head_dim_);
  n_ff_ = meta_int(f, a + "feed_forward_length", 0);
  eps_ = meta_float(f, a + "attention.layer_norm_rms_epsilon", 0);
  base_ = meta_float(f, a + "rope.freq_base", 10000);
  const gguf::Value* scaling = f.find(a + "rope.scaling.type");
  const double factor = meta_float(f, a + "rope.scaling.factor", 1);
  if (scaling != nullptr && *scaling->as_string() == "linear") linear_scale_ = 1.0 / factor;
  if (scaling != nullptr && *scaling->as_string() == "yarn") {
    yarn_ = true;
    yarn_factor_ = factor;
    n_ctx_orig_ = meta_int(f, a + "rope.scaling.original_context_length",
                           meta_int(f, a + "context_length", 0));
  }
  for (const auto& t : f.tensors()) {
    if (t.type != DType::F32) {
      ADD_FAILURE() << "reference model reads F32 only: " << t.name;
      return;
    }
    Vec v(t.n_elements);
    for (size_t i = 0; i < v.size(); ++i) {
      float x;
      std::memcpy(&x, t.data + 4 * i, 4);
      v[i] = x;
    }
    weights_[t.name] = std::move(v);
  }
  n_vocab_ = static_cast<int>(w("token_embd.weight").size() / static_cast<size_t>(n_embd_));
}

const ReferenceModel::Vec& ReferenceModel::w(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end()) {
    // tied output
    if (name == "output.weight") return w("token_embd.weight");
    ADD_FAILURE() << "missing " << name;
    static const Vec empty;
    return empty;
  }
  return it->second;
}

ReferenceModel::Vec ReferenceModel::matvec(const Vec& m, const Vec& x, int n_out) {
  Vec y(static_cast<size_t>(n_out), 0.0);
  const size_t n_in = x.size();
  for (size_t o = 0; o < y.size(); ++o)
    for (size_t i = 0; i < n_in; ++i) y[o] += m[o * n_in + i] * x[i];
  return y;
}

ReferenceModel::Vec ReferenceModel::rms_norm(const Vec& x, const Vec& weight) const {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double scale = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps_);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * scale * weight[i];
  return y;
}

// Rotates one head. llama pairs adjacent dimensions (2i, 2i+1); qwen pairs i with i + n_rot/2.
void ReferenceModel::rope(double* v, int pos) const {
  const bool neox = arch_ != "llama";
  const Vec* freqs = weights_.count("rope_freqs.weight") ? &w("rope_freqs.weight") : nullptr;
  const int half = n_rot_ / 2;
  double mscale = 1.0;
  double low = 0, high = 0;
  if (yarn_) {
    // YaRN: dimensions whose wavelength fits many times in the original context keep their
    // frequency (extrapolate), long-wavelength ones are interpolated by the factor, with a linear
    // ramp between the dimension indices where 32 and 1 rotations fit.
    auto dim_for_rotations = [&](double rotations) {
      return n_rot_ * std::log(n_ctx_orig_ / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base_));
    };
    low = std::max(0.0, std::floor(dim_for_rotations(32)));
    high = std::min(n_rot_ - 1.0, std::ceil(dim_for_rotations(1)));
    mscale = 1.0 + 0.1 * std::log(yarn_factor_);
  }
  for (int i = 0; i < half; ++i) {
    double freq = std::pow(base_, -2.0 * i / n_rot_);
    if (freqs != nullptr) freq /= (*freqs)[static_cast<size_t>(i)];
    double theta = pos * freq * linear_scale_;
    if (yarn_) {
      const double extrap = pos * freq;
      const double interp = extrap / yarn_factor_;
      const double t = (i - low) / std::max(0.001, high - low);
      const double mix = 1.0 - std::clamp(t, 0.0, 1.0);  // 1: extrapolate
      theta = interp * (1 - mix) + extrap * mix;
    }
    const double c = std::cos(theta) * mscale, s = std::sin(theta) * mscale;
    const int ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
    const double x0 = v[ia], x1 = v[ib];
    v[ia] = x0 * c - x1 * s;
    v[ib] = x0 * s + x1 * c;
  }
}

std::vector<std::vector<double>> ReferenceModel::run(const std::vector<int32_t>& tokens) const {
  const int n_q = n_head_ * head_dim_, n_kv = n_head_kv_ * head_dim_;
  // caches [layer][pos][n_kv]
  std::vector<std::vector<Vec>> kcache(static_cast<size_t>(n_layer_)), vcache(kcache);
  std::vector<std::vector<double>> out;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    const Vec& emb = w("token_embd.weight");
    Vec x(emb.begin() + static_cast<std::ptrdiff_t>(tokens[pos]) * n_embd_,
          emb.begin() + static_cast<std::ptrdiff_t>(tokens[pos] + 1) * n_embd_);
    for (int il = 0; il < n_layer_; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      Vec h = rms_norm(x, w(p + "attn_norm.weight"));
      Vec q = matvec(w(p + "attn_q.weight"), h, n_q);
      Vec k = matvec(w(p + "attn_k.weight"), h, n_kv);
      Vec v = matvec(w(p + "attn_v.weight"), h, n_kv);
      if (arch_ == "qwen2") {
        for (int i = 0; i < n_q; ++i) q[i] += w(p + "attn_q.bias")[i];
        for (int i = 0; i < n_kv; ++i) k[i] += w(p + "attn_k.bias")[i];
        for (int i = 0; i < n_kv; ++i) v[i] += w(p + "attn_v.bias")[i];
      }
      for (int hh = 0; hh < n_head_; ++hh) {
        double* head = q.data() + hh * head_dim_;
        if (arch_ == "qwen3") {
          Vec one(head, head + head_dim_);
          one = rms_norm(one, w(p + "attn_q_norm.weight"));
          std::copy(one.begin(), one.end(), head);
        }
        rope(head, static_cast<int>(pos));
      }
      for (int hh = 0; hh < n_head_kv_; ++hh) {
        double* head = k.data() + hh * head_dim_;
        if (arch_ == "qwen3") {
          Vec one(head, head + head_dim_);
          one = rms_norm(one, w(p + "attn_k_norm.weight"));
          std::copy(one.begin(), one.end(), head);
        }
        rope(head, static_cast<int>(pos));
      }
      kcache[static_cast<size_t>(il)].push_back(k);
      vcache[static_cast<size_t>(il)].push_back(v);

      Vec attn(static_cast<size_t>(n_q), 0.0);
      const int group = n_head_ / n_head_kv_;
      for (int hh = 0; hh < n_head_; ++hh) {
        const int kvh = hh / group;
        std::vector<double> score(pos + 1);
        double mx = -1e300;
        for (size_t t = 0; t <= pos; ++t) {
          double d = 0;
          for (int i = 0; i < head_dim_; ++i)
            d += q[static_cast<size_t>(hh * head_dim_ + i)] *
                 kcache[static_cast<size_t>(il)][t][static_cast<size_t>(kvh * head_dim_ + i)];
          score[t] = d / std::sqrt(static_cast<double>(head_dim_));
          mx = std::max(mx, score[t]);
        }
        double sum = 0;
        for (double& s : score) sum += (s = std::exp(s - mx));
        for (size_t t = 0; t <= pos; ++t)
          for (int i = 0; i < head_dim_; ++i)
            attn[static_cast<size_t>(hh * head_dim_ + i)] +=
                score[t] / sum *
                vcache[static_cast<size_t>(il)][t][static_cast<size_t>(kvh * head_dim_ + i)];
      }
      Vec o = matvec(w(p + "attn_output.weight"), attn, n_embd_);
      for (int i = 0; i < n_embd_; ++i) x[static_cast<size_t>(i)] += o[static_cast<size_t>(i)];

      h = rms_norm(x, w(p + "ffn_norm.weight"));
      Vec g = matvec(w(p + "ffn_gate.weight"), h, n_ff_);
      Vec u = matvec(w(p + "ffn_up.weight"), h, n_ff_);
      for (int i = 0; i < n_ff_; ++i) {
        const double gi = g[static_cast<size_t>(i)];
        g[static_cast<size_t>(i)] = gi / (1.0 + std::exp(-gi)) * u[static_cast<size_t>(i)];
      }
      Vec d = matvec(w(p + "ffn_down.weight"), g, n_embd_);
      for (int i = 0; i < n_embd_; ++i) x[static_cast<size_t>(i)] += d[static_cast<size_t>(i)];
    }
    Vec h = rms_norm(x, w("output_norm.weight"));
    out.push_back(matvec(w("output.weight"), h, n_vocab_));
  }
  return out;
}

}  // namespace ag::test
