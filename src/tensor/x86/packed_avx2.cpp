#include "tensor/x86/packed_avx2.h"

#if defined(AUTOGLM_HAVE_PACKED_AVX2)

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tensor/quant_blocks.h"
#include "tensor/x86/packed_passes.h"

// The ymm kernels of the packed layout (tensor/packed.h), for CPUs without AVX-512 (Zen 2/3,
// Intel client cores). A ymm register holds one half of a 64-byte chunk: bytes 0-31 are rows 0-7,
// bytes 32-63 rows 8-15, 4 columns per 32-bit row lane. So each packed block is two halves of
// 8 rows, each with its own float accumulator per activation row, and every int32 lane ends as
// the exact integer dot product of its row's 32 weights with the block's activations; the float
// operations after it are packed_matmul_ref's, so all kernels give the same bits.
//
// Two ways to the int32 lanes, same values:
// - AVX-VNNI: vpdpbusd on the unsigned stored values, the offset taken back in its start value,
//   as the AVX-512 kernel;
// - AVX2: vpmaddubsw (u8 x s8 -> pairs in int16) then vpmaddwd with ones (-> int32).
//   Q4_0: values 0..15, so a pair is at most 2 * 15 * 128 = 3840 in magnitude and the 8 pairs of a
//   block's 32 columns add up in int16 (30720 < 32767) before one vpmaddwd: 8 maddubs, 7 adds,
//   1 madd per 8 rows x 32 columns. Q5_0: values 0..31, a pair at most 2 * 31 * 128 = 7936, so
//   two int16 sums of 4 pairs (31744) and two madds. Q8_0: stored w + 128 would saturate a pair
//   (255 * 127 * 2), so the weight's sign moves onto the activation: maddubs(|w|, a * sign(w)),
//   a pair at most 2 * 128 * 127 = 32512 — exact for every weight (-128 included) as long as no
//   activation is -128, which the Q8_0 activation quantizers never produce (|q| <= 127); each
//   chunk then needs its own vpmaddwd.

#define AG_PACKED_AVX2 __attribute__((target("avx2,fma,f16c")))
#define AG_PACKED_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

namespace ag::packed_avx2 {

namespace {

using packed_passes::Kind;
using packed_passes::Layout;
using packed_passes::kQ4_0;
using packed_passes::kQ5_0;
using packed_passes::kQ8_0;

#define AG_PY_NS ymm_avx2
#define AG_PY_TARGET AG_PACKED_AVX2
#define AG_PY_VNNI 0
#include "tensor/x86/packed_ymm_body.h"
#undef AG_PY_NS
#undef AG_PY_TARGET
#undef AG_PY_VNNI

#define AG_PY_NS ymm_vnni
#define AG_PY_TARGET AG_PACKED_VNNI
#define AG_PY_VNNI 1
#include "tensor/x86/packed_ymm_body.h"
#undef AG_PY_NS
#undef AG_PY_TARGET
#undef AG_PY_VNNI

}  // namespace

bool has_kernel(DType type) { return type == DType::Q4_0 || type == DType::Q5_0 || type == DType::Q8_0; }

AG_PACKED_AVX2 void matmul(const PackedMatmulArgs& args) {
  switch (args.type) {
    case DType::Q4_0: return ymm_avx2::matmul_typed<kQ4_0>(args);
    case DType::Q5_0: return ymm_avx2::matmul_typed<kQ5_0>(args);
    default: return ymm_avx2::matmul_typed<kQ8_0>(args);
  }
}

AG_PACKED_VNNI void matmul_vnni(const PackedMatmulArgs& args) {
  switch (args.type) {
    case DType::Q4_0: return ymm_vnni::matmul_typed<kQ4_0>(args);
    case DType::Q5_0: return ymm_vnni::matmul_typed<kQ5_0>(args);
    default: return ymm_vnni::matmul_typed<kQ8_0>(args);
  }
}

}  // namespace ag::packed_avx2

#endif  // AUTOGLM_HAVE_PACKED_AVX2
