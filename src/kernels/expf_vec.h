#pragma once
// The C library's expf, 8 or 16 lanes at a time, bit for bit: SiLU·mul runs one expf per FFN
// activation (4,864-5,632 per layer in decode) and glibc's scalar call was 5% of a 0.5B-shaped
// decode step.
//
// Same bits, not just close: the model matches llama.cpp's logprobs only with the C library's expf
// in SiLU (elementwise.cpp), so this reproduces glibc's algorithm (since 2.28, from Arm's
// optimized-routines) operation by operation as its x86-64 FMA build (__expf_fma, the one glibc
// picks on every CPU with AVX2 and FMA, i.e. wherever these kernels run) computes it:
//   z = x · 32/ln2 in double; k = round(z) via the 1.5·2^52 shift, taken from the same FMA;
//   r = fma(32/ln2, x, -k); s = 2^(k/32) from a 32-entry table plus k's high bits in the exponent;
//   y = s · (fma(fma(C0, r, C1), r², fma(C2, r, 1))); result = (float) y.
// Inputs with |x| >= 88 or NaN (overflow, underflow, special values) take the scalar std::exp.
// The tests compare against std::exp bit for bit over a dense sample of all floats, per ISA.
namespace ag::kernels {

enum class ExpfIsa {
  kAvx2,    // AVX2 + FMA: 4 doubles per register, the table read by a gather
  kAvx512,  // AVX-512 F: 8 doubles per register, the table held in 4 registers
};

// Whether this CPU runs `isa`'s functions (AUTOGLM_FORCE_SCALAR=1 / AUTOGLM_MAX_ISA cap them).
bool expf_isa_available(ExpfIsa isa);
// Whether any vector version runs here, and the widest one.
bool expf_vec_available();
ExpfIsa best_expf_isa();

// y[i] = std::exp(x[i]) (the same bits), n elements. isa must be available.
void expf_vec(ExpfIsa isa, const float* x, float* y, int n);

// gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i] with the float operations of silu_mul
// (elementwise.cpp) in its order: the same bits. isa must be available.
void silu_mul_vec(ExpfIsa isa, float* gate, const float* up, int n);

}  // namespace ag::kernels
