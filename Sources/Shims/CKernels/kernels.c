// Float32 micro-kernels for the native TFLite runtime (see CKernels.h). Each kernel exists twice, for AVX2+FMA
// (8-float registers, 16 of them) and for AVX-512 (16-float registers, 32 of them, masked loads and stores), compiled
// with per-function target attributes so one binary carries both; the caller picks by fk_cpu_level().
//
// Ideas (not code) from XNNPACK's public kernels: matrix products as register-tiled micro-kernels over weights packed
// once into 16-column panels, with bias, residual and activation applied before the single store; depthwise
// convolutions through an indirection row (one pointer per tap, padding taps pointing at a zero vector), weights of a
// channel tile held in registers while several output pixels accumulate independently.
#include "CKernels.h"
#include "targets.h"

int fk_cpu_level(void) {
#if FK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("fma")) return FK_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return FK_LEVEL_AVX2;
#endif
    return FK_LEVEL_NONE;
}

size_t fk_packed_gemm_b_count(int n, int k) { return (size_t)((n + 15) / 16) * (size_t)k * 16; }

void fk_pack_gemm_b(const float *b, int n, int k, float *packed) {
    for (int n0 = 0; n0 < n; n0 += 16) {
        float *panel = packed + (size_t)(n0 / 16) * (size_t)k * 16;
        for (int kk = 0; kk < k; kk++) {
            for (int j = 0; j < 16; j++) {
                panel[(size_t)kk * 16 + j] = n0 + j < n ? b[(size_t)(n0 + j) * k + kk] : 0.0f;
            }
        }
    }
}

#if FK_X86

// Columns of the tile [n0, n0 + nc) the residual covers (0...nc).
static inline int residual_columns(const fk_epilogue *e, int n, int n0, int nc) {
    const int rc = e->residual_channels > 0 && e->residual_channels < n ? e->residual_channels : n;
    const int left = rc - n0;
    return left < 0 ? 0 : (left > nc ? nc : left);
}

// MARK: matrix product, AVX-512. Two micro-tiles: 8 rows x 32 columns (two 16-column panels, 16 accumulators: each
// broadcast of an A value feeds two FMAs, and 8 row pointers stay in registers), and 12 rows x 16 columns (12
// accumulators) for a last, odd panel. Both sum in the same order (bias, residual, then k ascending), so a column's
// values do not depend on which tile computed it.

#define MR512 12
// One 16-column panel starting at column n0, every row.
T512 static void gemm512_panel(int m, int n, int k, const float *a, int lda, const float *pb, float *c, int ldc, const fk_epilogue *e,
                               int n0) {
    const int nc = n - n0 < 16 ? n - n0 : 16;
    const __mmask16 mask = nc == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
    const float *panel = pb + (size_t)(n0 / 16) * (size_t)k * 16;
    const __m512 init = e->bias ? _mm512_maskz_loadu_ps(mask, e->bias + n0) : _mm512_setzero_ps();
    const int rn = residual_columns(e, n, n0, nc);
    for (int m0 = 0; m0 < m; m0 += MR512) {
        const int mr = m - m0 < MR512 ? m - m0 : MR512;
        const float *ar[MR512];
        for (int i = 0; i < MR512; i++) ar[i] = a + (size_t)(m0 + (i < mr ? i : mr - 1)) * lda;
        __m512 acc[MR512];
#pragma clang loop unroll(full)
        for (int i = 0; i < MR512; i++) acc[i] = init;
        if (e->residual && rn == 16) {
            for (int i = 0; i < mr; i++) acc[i] = _mm512_add_ps(acc[i], _mm512_loadu_ps(e->residual + (size_t)(m0 + i) * e->ldr + n0));
        } else if (e->residual && rn > 0) {
            const __mmask16 rmask = (__mmask16)((1u << rn) - 1);
            for (int i = 0; i < mr; i++) {
                acc[i] = _mm512_add_ps(acc[i], _mm512_maskz_loadu_ps(rmask, e->residual + (size_t)(m0 + i) * e->ldr + n0));
            }
        }
        for (int kk = 0; kk < k; kk++) {
            const __m512 bv = _mm512_loadu_ps(panel + (size_t)kk * 16);
#pragma clang loop unroll(full)
            for (int i = 0; i < MR512; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(ar[i][kk]), bv, acc[i]);
        }
        const __m512 zero = _mm512_setzero_ps();
        if (e->alpha) {
            const __m512 al = _mm512_maskz_loadu_ps(mask, e->alpha + n0);
#pragma clang loop unroll(full)
            for (int i = 0; i < MR512; i++) acc[i] = _mm512_fmadd_ps(al, _mm512_min_ps(acc[i], zero), _mm512_max_ps(acc[i], zero));
        } else if (e->relu) {
#pragma clang loop unroll(full)
            for (int i = 0; i < MR512; i++) acc[i] = _mm512_max_ps(acc[i], zero);
        }
        if (nc == 16) {
            for (int i = 0; i < mr; i++) _mm512_storeu_ps(c + (size_t)(m0 + i) * ldc + n0, acc[i]);
        } else {
            for (int i = 0; i < mr; i++) _mm512_mask_storeu_ps(c + (size_t)(m0 + i) * ldc + n0, mask, acc[i]);
        }
    }
}

// Two panels starting at column n0 (the first full, the second 1-16 columns), rows [m0_begin, m) in tiles of MR rows
// (8, and 4 for a short last tile, which would otherwise compute rows it does not store).
#define DEFINE_GEMM512_PAIR(NAME, MR) \
T512 static void NAME(int m0_begin, int m, int n, int k, const float *a, int lda, const float *pb, float *c, int ldc, const fk_epilogue *e, int n0) {\
    const int nc1 = n - n0 - 16 < 16 ? n - n0 - 16 : 16;                                                                        \
    const __mmask16 full = (__mmask16)0xFFFF, mask1 = nc1 == 16 ? full : (__mmask16)((1u << nc1) - 1);                          \
    const float *p0 = pb + (size_t)(n0 / 16) * (size_t)k * 16, *p1 = p0 + (size_t)k * 16;                                       \
    const __m512 init0 = e->bias ? _mm512_loadu_ps(e->bias + n0) : _mm512_setzero_ps();                                         \
    const __m512 init1 = e->bias ? _mm512_maskz_loadu_ps(mask1, e->bias + n0 + 16) : _mm512_setzero_ps();                       \
    const int rn0 = residual_columns(e, n, n0, 16), rn1 = residual_columns(e, n, n0 + 16, nc1);                                 \
    const __mmask16 rmask0 = rn0 == 16 ? full : (__mmask16)((1u << rn0) - 1), rmask1 = rn1 == 16 ? full : (__mmask16)((1u << rn1) - 1);\
    for (int m0 = m0_begin; m0 < m; m0 += MR) {                                                                                 \
        const int mr = m - m0 < MR ? m - m0 : MR;                                                                               \
        const float *ar[MR];                                                                                                    \
        for (int i = 0; i < MR; i++) ar[i] = a + (size_t)(m0 + (i < mr ? i : mr - 1)) * lda;                                    \
        __m512 acc0[MR], acc1[MR];                                                                                              \
_Pragma("clang loop unroll(full)")                                                                                                 \
        for (int i = 0; i < MR; i++) { acc0[i] = init0; acc1[i] = init1; }                                                      \
        if (e->residual && (rn0 > 0 || rn1 > 0)) {                                                                              \
            for (int i = 0; i < mr; i++) {                                                                                      \
                const float *r = e->residual + (size_t)(m0 + i) * e->ldr + n0;                                                  \
                if (rn0 > 0) acc0[i] = _mm512_add_ps(acc0[i], _mm512_maskz_loadu_ps(rmask0, r));                                \
                if (rn1 > 0) acc1[i] = _mm512_add_ps(acc1[i], _mm512_maskz_loadu_ps(rmask1, r + 16));                           \
            }                                                                                                                   \
        }                                                                                                                       \
        for (int kk = 0; kk < k; kk++) {                                                                                        \
            const __m512 b0 = _mm512_loadu_ps(p0 + (size_t)kk * 16), b1 = _mm512_loadu_ps(p1 + (size_t)kk * 16);                \
_Pragma("clang loop unroll(full)")                                                                                                 \
            for (int i = 0; i < MR; i++) {                                                                                      \
                const __m512 av = _mm512_set1_ps(ar[i][kk]);                                                                    \
                acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);                                                                     \
                acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);                                                                     \
            }                                                                                                                   \
        }                                                                                                                       \
        const __m512 zero = _mm512_setzero_ps();                                                                                \
        if (e->alpha) {                                                                                                         \
            const __m512 al0 = _mm512_loadu_ps(e->alpha + n0), al1 = _mm512_maskz_loadu_ps(mask1, e->alpha + n0 + 16);          \
_Pragma("clang loop unroll(full)")                                                                                                 \
            for (int i = 0; i < MR; i++) {                                                                                      \
                acc0[i] = _mm512_fmadd_ps(al0, _mm512_min_ps(acc0[i], zero), _mm512_max_ps(acc0[i], zero));                     \
                acc1[i] = _mm512_fmadd_ps(al1, _mm512_min_ps(acc1[i], zero), _mm512_max_ps(acc1[i], zero));                     \
            }                                                                                                                   \
        } else if (e->relu) {                                                                                                   \
_Pragma("clang loop unroll(full)")                                                                                                 \
            for (int i = 0; i < MR; i++) { acc0[i] = _mm512_max_ps(acc0[i], zero); acc1[i] = _mm512_max_ps(acc1[i], zero); }    \
        }                                                                                                                       \
        for (int i = 0; i < mr; i++) {                                                                                          \
            float *row = c + (size_t)(m0 + i) * ldc + n0;                                                                       \
            _mm512_storeu_ps(row, acc0[i]);                                                                                     \
            _mm512_mask_storeu_ps(row + 16, mask1, acc1[i]);                                                                    \
        }                                                                                                                       \
    }                                                                                                                           \
}

DEFINE_GEMM512_PAIR(gemm512_pair8, 8)
DEFINE_GEMM512_PAIR(gemm512_pair4, 4)

T512 static void gemm512_pair(int m, int n, int k, const float *a, int lda, const float *pb, float *c, int ldc, const fk_epilogue *e, int n0) {
    const int whole = m / 8 * 8, tail = m - whole;
    if (tail > 4) { gemm512_pair8(0, m, n, k, a, lda, pb, c, ldc, e, n0); return; }
    if (whole > 0) gemm512_pair8(0, whole, n, k, a, lda, pb, c, ldc, e, n0);
    if (tail > 0) gemm512_pair4(whole, m, n, k, a, lda, pb, c, ldc, e, n0);
}

T512 static void gemm512(int m, int n, int k, const float *a, int lda, const float *pb, float *c, int ldc, const fk_epilogue *e) {
    const int panels = (n + 15) / 16;
    int p = 0;
    for (; p + 2 <= panels; p += 2) gemm512_pair(m, n, k, a, lda, pb, c, ldc, e, p * 16);
    if (p < panels) gemm512_panel(m, n, k, a, lda, pb, c, ldc, e, p * 16);
}

// MARK: matrix product, AVX2: 6 rows x 16 columns per micro-tile (12 accumulators).

#define MR256 6

T256 static void gemm256(int m, int n, int k, const float *a, int lda, const float *pb, float *c, int ldc, const fk_epilogue *e) {
    for (int m0 = 0; m0 < m; m0 += MR256) {
        const int mr = m - m0 < MR256 ? m - m0 : MR256;
        const float *ar[MR256];
        for (int i = 0; i < MR256; i++) ar[i] = a + (size_t)(m0 + (i < mr ? i : mr - 1)) * lda;
        for (int n0 = 0; n0 < n; n0 += 16) {
            const int nc = n - n0 < 16 ? n - n0 : 16;
            const __m256i lo = lanes_below(nc), hi = lanes_below(nc - 8);
            const float *panel = pb + (size_t)(n0 / 16) * (size_t)k * 16;
            __m256 init0 = _mm256_setzero_ps(), init1 = _mm256_setzero_ps();
            if (e->bias) { init0 = _mm256_maskload_ps(e->bias + n0, lo); init1 = _mm256_maskload_ps(e->bias + n0 + 8, hi); }
            __m256 acc0[MR256], acc1[MR256];
#pragma clang loop unroll(full)
            for (int i = 0; i < MR256; i++) { acc0[i] = init0; acc1[i] = init1; }
            const int rn = residual_columns(e, n, n0, nc);
            if (e->residual && rn > 0) {
                const __m256i rlo = lanes_below(rn), rhi = lanes_below(rn - 8);
                for (int i = 0; i < mr; i++) {
                    const float *r = e->residual + (size_t)(m0 + i) * e->ldr + n0;
                    acc0[i] = _mm256_add_ps(acc0[i], _mm256_maskload_ps(r, rlo));
                    acc1[i] = _mm256_add_ps(acc1[i], _mm256_maskload_ps(r + 8, rhi));
                }
            }
            for (int kk = 0; kk < k; kk++) {
                const __m256 b0 = _mm256_loadu_ps(panel + (size_t)kk * 16), b1 = _mm256_loadu_ps(panel + (size_t)kk * 16 + 8);
#pragma clang loop unroll(full)
                for (int i = 0; i < MR256; i++) {
                    const __m256 av = _mm256_broadcast_ss(ar[i] + kk);
                    acc0[i] = _mm256_fmadd_ps(av, b0, acc0[i]);
                    acc1[i] = _mm256_fmadd_ps(av, b1, acc1[i]);
                }
            }
            const __m256 zero = _mm256_setzero_ps();
            if (e->alpha) {
                const __m256 al0 = _mm256_maskload_ps(e->alpha + n0, lo), al1 = _mm256_maskload_ps(e->alpha + n0 + 8, hi);
#pragma clang loop unroll(full)
                for (int i = 0; i < MR256; i++) {
                    acc0[i] = _mm256_fmadd_ps(al0, _mm256_min_ps(acc0[i], zero), _mm256_max_ps(acc0[i], zero));
                    acc1[i] = _mm256_fmadd_ps(al1, _mm256_min_ps(acc1[i], zero), _mm256_max_ps(acc1[i], zero));
                }
            } else if (e->relu) {
#pragma clang loop unroll(full)
                for (int i = 0; i < MR256; i++) { acc0[i] = _mm256_max_ps(acc0[i], zero); acc1[i] = _mm256_max_ps(acc1[i], zero); }
            }
            for (int i = 0; i < mr; i++) {
                float *row = c + (size_t)(m0 + i) * ldc + n0;
                if (nc == 16) {
                    _mm256_storeu_ps(row, acc0[i]); _mm256_storeu_ps(row + 8, acc1[i]);
                } else {
                    _mm256_maskstore_ps(row, lo, acc0[i]); _mm256_maskstore_ps(row + 8, hi, acc1[i]);
                }
            }
        }
    }
}

// MARK: matrix product with at most 8 columns (AVX2 registers, 12 rows per micro-tile): a 16-wide tile would be half idle.

#define MRN8 12
T256 static void gemm256_n8(int m, int n, int k, const float *a, int lda, const float *pb, float *c, int ldc, const fk_epilogue *e) {
    const __m256i mask = lanes_below(n);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 init = e->bias ? _mm256_maskload_ps(e->bias, mask) : zero;
    const __m256 al = e->alpha ? _mm256_maskload_ps(e->alpha, mask) : zero;
    const int rn = residual_columns(e, n, 0, n);
    const __m256i rmask = lanes_below(rn);
    for (int m0 = 0; m0 < m; m0 += MRN8) {
        const int mr = m - m0 < MRN8 ? m - m0 : MRN8;
        const float *ar[MRN8];
        for (int i = 0; i < MRN8; i++) ar[i] = a + (size_t)(m0 + (i < mr ? i : mr - 1)) * lda;
        __m256 acc[MRN8];
#pragma clang loop unroll(full)
        for (int i = 0; i < MRN8; i++) acc[i] = init;
        if (e->residual && rn > 0) {
            for (int i = 0; i < mr; i++) acc[i] = _mm256_add_ps(acc[i], _mm256_maskload_ps(e->residual + (size_t)(m0 + i) * e->ldr, rmask));
        }
        for (int kk = 0; kk < k; kk++) {
            const __m256 bv = _mm256_loadu_ps(pb + (size_t)kk * 16);
#pragma clang loop unroll(full)
            for (int i = 0; i < MRN8; i++) acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(ar[i] + kk), bv, acc[i]);
        }
        if (e->alpha) {
#pragma clang loop unroll(full)
            for (int i = 0; i < MRN8; i++) acc[i] = _mm256_fmadd_ps(al, _mm256_min_ps(acc[i], zero), _mm256_max_ps(acc[i], zero));
        } else if (e->relu) {
#pragma clang loop unroll(full)
            for (int i = 0; i < MRN8; i++) acc[i] = _mm256_max_ps(acc[i], zero);
        }
        if (n == 8) {
            for (int i = 0; i < mr; i++) _mm256_storeu_ps(c + (size_t)(m0 + i) * ldc, acc[i]);
        } else {
            for (int i = 0; i < mr; i++) {
                float lanes[8];
                _mm256_storeu_ps(lanes, acc[i]);
                for (int j = 0; j < n; j++) c[(size_t)(m0 + i) * ldc + j] = lanes[j];
            }
        }
    }
}

// MARK: window unfolding (im2col): each window row inside the image is one run of kw·c floats.

T512 static void copy512(float *dst, const float *src, int count) {
    for (int i = 0; i < count; i += 16) {
        const int left = count - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
}

T512 static void zero512(float *dst, int count) {
    for (int i = 0; i < count; i += 16) {
        const int left = count - i;
        _mm512_mask_storeu_ps(dst + i, left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1), _mm512_setzero_ps());
    }
}

static void copy_any(float *dst, const float *src, int count) { for (int i = 0; i < count; i++) dst[i] = src[i]; }
static void zero_any(float *dst, int count) { for (int i = 0; i < count; i++) dst[i] = 0; }

// MARK: depthwise convolution

// Padding taps read zeros from here: a whole padded input row (in_w * c floats) must fit.
#define FK_ZERO_COUNT 16384
static const float fk_zeros[FK_ZERO_COUNT + 16] __attribute__((aligned(64)));

// One output row. Each tap t = (ky, kx) reads, for output column ox, the input pixel at column ox·stride − pad + kx·dil
// of input row ky (the zero row when that row is in the padding): `tap[t] + (ox·stride − pad_left)·c`. Columns whose
// taps all land inside the row ("interior") take that address directly, four output pixels at a time with the
// channel tile's weights in registers; the few border columns go through `border` pointers (zeros outside).
typedef struct {
    const float *tap[64];    // per tap: row base + kx·dil·c
    int lo, hi;              // interior columns [lo, hi)
} fk_dw_row;

static void dw_row_setup(const fk_depthwise *p, int oy, fk_dw_row *r) {
    for (int ky = 0; ky < p->kh; ky++) {
        const int iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
        const float *row = iy >= 0 && iy < p->in_h ? p->input + (size_t)iy * p->in_w * p->c : fk_zeros;
        for (int kx = 0; kx < p->kw; kx++) r->tap[ky * p->kw + kx] = row + (ptrdiff_t)kx * p->dilation_w * p->c;
    }
    // Interior: ox·s − pad ≥ 0 and ox·s − pad + (kw−1)·dil ≤ in_w − 1.
    int lo = p->pad_left > 0 ? (p->pad_left + p->stride_w - 1) / p->stride_w : 0;
    const int last = p->in_w - 1 + p->pad_left - (p->kw - 1) * p->dilation_w;
    int hi = last >= 0 ? last / p->stride_w + 1 : 0;
    if (hi > p->out_w) hi = p->out_w;
    if (lo > hi) lo = hi;
    r->lo = lo; r->hi = hi;
}

// Pointers of the taps of border column ox (zeros where a tap leaves the row).
static void dw_border(const fk_depthwise *p, const fk_dw_row *r, int ox, const float **ind) {
    const int taps = p->kh * p->kw;
    for (int t = 0; t < taps; t++) {
        const int kx = t % p->kw;
        const int ix = ox * p->stride_w - p->pad_left + kx * p->dilation_w;
        ind[t] = ix >= 0 && ix < p->in_w ? r->tap[t] - (ptrdiff_t)kx * p->dilation_w * p->c + (ptrdiff_t)ix * p->c : fk_zeros;
    }
}

#define DW512_BODY(TAPS)                                                                                             \
    const int C = p->c, step = p->stride_w * C;                                                                      \
    for (int ch = 0; ch < C; ch += 16) {                                                                             \
        const int cc = C - ch;                                                                                       \
        const __mmask16 mask = cc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cc) - 1);                           \
        __m512 wv[TAPS];                                                                                             \
        for (int t = 0; t < (TAPS); t++) wv[t] = _mm512_maskz_loadu_ps(mask, p->filter + (size_t)t * C + ch);       \
        const __m512 bv = p->bias ? _mm512_maskz_loadu_ps(mask, p->bias + ch) : _mm512_setzero_ps();                 \
        const float *ind[TAPS];                                                                                      \
        for (int ox = 0; ox < r->lo; ox++) {                                                                         \
            dw_border(p, r, ox, ind);                                                                                \
            __m512 a0 = bv;                                                                                          \
            for (int t = 0; t < (TAPS); t++) a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, ind[t] + ch), wv[t], a0); \
            _mm512_mask_storeu_ps(out + (size_t)ox * C + ch, mask, a0);                                              \
        }                                                                                                            \
        int ox = r->lo;                                                                                              \
        if (cc >= 16) {                                                                                              \
            for (; ox + 4 <= r->hi; ox += 4) {                                                                       \
                const ptrdiff_t base = (ptrdiff_t)(ox * p->stride_w - p->pad_left) * C + ch;                         \
                __m512 a0 = bv, a1 = bv, a2 = bv, a3 = bv;                                                           \
                for (int t = 0; t < (TAPS); t++) {                                                                   \
                    const float *x = r->tap[t] + base;                                                               \
                    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x), wv[t], a0);                                             \
                    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + step), wv[t], a1);                                      \
                    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 2 * step), wv[t], a2);                                  \
                    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 3 * step), wv[t], a3);                                  \
                }                                                                                                    \
                float *y = out + (size_t)ox * C + ch;                                                                \
                _mm512_storeu_ps(y, a0); _mm512_storeu_ps(y + C, a1);                                                \
                _mm512_storeu_ps(y + 2 * C, a2); _mm512_storeu_ps(y + 3 * C, a3);                                    \
            }                                                                                                        \
        }                                                                                                            \
        for (; ox < r->hi; ox++) {                                                                                   \
            const ptrdiff_t base = (ptrdiff_t)(ox * p->stride_w - p->pad_left) * C + ch;                             \
            __m512 a0 = bv;                                                                                          \
            for (int t = 0; t < (TAPS); t++) a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, r->tap[t] + base), wv[t], a0); \
            _mm512_mask_storeu_ps(out + (size_t)ox * C + ch, mask, a0);                                              \
        }                                                                                                            \
        for (ox = r->hi > r->lo ? r->hi : r->lo; ox < p->out_w; ox++) {                                              \
            dw_border(p, r, ox, ind);                                                                                \
            __m512 a0 = bv;                                                                                          \
            for (int t = 0; t < (TAPS); t++) a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, ind[t] + ch), wv[t], a0); \
            _mm512_mask_storeu_ps(out + (size_t)ox * C + ch, mask, a0);                                              \
        }                                                                                                            \
    }

#define DW256_BODY(TAPS)                                                                                             \
    const int C = p->c, step = p->stride_w * C;                                                                      \
    for (int ch = 0; ch < C; ch += 8) {                                                                              \
        const int cc = C - ch;                                                                                       \
        const __m256i mask = lanes_below(cc);                                                                        \
        __m256 wv[TAPS];                                                                                             \
        for (int t = 0; t < (TAPS); t++) wv[t] = _mm256_maskload_ps(p->filter + (size_t)t * C + ch, mask);          \
        const __m256 bv = p->bias ? _mm256_maskload_ps(p->bias + ch, mask) : _mm256_setzero_ps();                    \
        const float *ind[TAPS];                                                                                      \
        for (int ox = 0; ox < r->lo; ox++) {                                                                         \
            dw_border(p, r, ox, ind);                                                                                \
            __m256 a0 = bv;                                                                                          \
            for (int t = 0; t < (TAPS); t++) a0 = _mm256_fmadd_ps(_mm256_maskload_ps(ind[t] + ch, mask), wv[t], a0); \
            _mm256_maskstore_ps(out + (size_t)ox * C + ch, mask, a0);                                                \
        }                                                                                                            \
        int ox = r->lo;                                                                                              \
        if (cc >= 8) {                                                                                               \
            for (; ox + 4 <= r->hi; ox += 4) {                                                                       \
                const ptrdiff_t base = (ptrdiff_t)(ox * p->stride_w - p->pad_left) * C + ch;                         \
                __m256 a0 = bv, a1 = bv, a2 = bv, a3 = bv;                                                           \
                for (int t = 0; t < (TAPS); t++) {                                                                   \
                    const float *x = r->tap[t] + base;                                                               \
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x), wv[t], a0);                                             \
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + step), wv[t], a1);                                      \
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 2 * step), wv[t], a2);                                  \
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 3 * step), wv[t], a3);                                  \
                }                                                                                                    \
                float *y = out + (size_t)ox * C + ch;                                                                \
                _mm256_storeu_ps(y, a0); _mm256_storeu_ps(y + C, a1);                                                \
                _mm256_storeu_ps(y + 2 * C, a2); _mm256_storeu_ps(y + 3 * C, a3);                                    \
            }                                                                                                        \
            for (; ox < r->hi; ox++) {                                                                               \
                const ptrdiff_t base = (ptrdiff_t)(ox * p->stride_w - p->pad_left) * C + ch;                         \
                __m256 a0 = bv;                                                                                      \
                for (int t = 0; t < (TAPS); t++) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r->tap[t] + base), wv[t], a0); \
                _mm256_storeu_ps(out + (size_t)ox * C + ch, a0);                                                     \
            }                                                                                                        \
        }                                                                                                            \
        for (; ox < r->hi; ox++) {                                                                                   \
            const ptrdiff_t base = (ptrdiff_t)(ox * p->stride_w - p->pad_left) * C + ch;                             \
            __m256 a0 = bv;                                                                                          \
            for (int t = 0; t < (TAPS); t++) a0 = _mm256_fmadd_ps(_mm256_maskload_ps(r->tap[t] + base, mask), wv[t], a0); \
            _mm256_maskstore_ps(out + (size_t)ox * C + ch, mask, a0);                                                \
        }                                                                                                            \
        for (ox = r->hi > r->lo ? r->hi : r->lo; ox < p->out_w; ox++) {                                              \
            dw_border(p, r, ox, ind);                                                                                \
            __m256 a0 = bv;                                                                                          \
            for (int t = 0; t < (TAPS); t++) a0 = _mm256_fmadd_ps(_mm256_maskload_ps(ind[t] + ch, mask), wv[t], a0); \
            _mm256_maskstore_ps(out + (size_t)ox * C + ch, mask, a0);                                                \
        }                                                                                                            \
    }

T512 static void dw512_3x3(const fk_depthwise *p, const fk_dw_row *r, float *out) { DW512_BODY(9) }
T512 static void dw512_5x5(const fk_depthwise *p, const fk_dw_row *r, float *out) { DW512_BODY(25) }
T256 static void dw256_3x3(const fk_depthwise *p, const fk_dw_row *r, float *out) { DW256_BODY(9) }
T256 static void dw256_5x5(const fk_depthwise *p, const fk_dw_row *r, float *out) { DW256_BODY(25) }

// Any other window: taps from memory, one output pixel at a time (masked loads throughout).
T256 static void dw256_any(const fk_depthwise *p, const fk_dw_row *r, float *out) {
    const int C = p->c, taps = p->kh * p->kw;
    const float *ind[64];
    for (int ox = 0; ox < p->out_w; ox++) {
        dw_border(p, r, ox, ind);
        for (int ch = 0; ch < C; ch += 8) {
            const __m256i mask = lanes_below(C - ch);
            __m256 a0 = p->bias ? _mm256_maskload_ps(p->bias + ch, mask) : _mm256_setzero_ps();
            for (int t = 0; t < taps; t++) {
                a0 = _mm256_fmadd_ps(_mm256_maskload_ps(ind[t] + ch, mask), _mm256_maskload_ps(p->filter + (size_t)t * C + ch, mask), a0);
            }
            _mm256_maskstore_ps(out + (size_t)ox * C + ch, mask, a0);
        }
    }
}

#endif  // FK_X86

void fk_gemm(int level, int m, int n, int k, const float *a, int lda, const float *packed_b, float *c, int ldc,
             const fk_epilogue *epilogue) {
    if (m <= 0 || n <= 0) return;
#if FK_X86
    if (n <= 8) { gemm256_n8(m, n, k, a, lda, packed_b, c, ldc, epilogue); return; }
    // Short products (k < 16) are bound by the residual loads and the stores, where the 6-row AVX2 tile does better.
    if (level >= FK_LEVEL_AVX512 && (k >= 16 || n >= 32)) { gemm512(m, n, k, a, lda, packed_b, c, ldc, epilogue); return; }
    gemm256(m, n, k, a, lda, packed_b, c, ldc, epilogue);
#else
    (void)level; (void)k; (void)a; (void)lda; (void)packed_b; (void)c; (void)ldc; (void)epilogue;
#endif
}

// Output row oy goes to p->output + (oy - output_row0) rows.
static int depthwise_rows(int level, const fk_depthwise *p, int row_begin, int row_end, int output_row0) {
    const int taps = p->kh * p->kw;
    if (taps < 1 || taps > 64 || p->c < 1 || (size_t)p->in_w * p->c > FK_ZERO_COUNT || level < FK_LEVEL_AVX2) return 0;
#if FK_X86
    const int k3 = p->kh == 3 && p->kw == 3, k5 = p->kh == 5 && p->kw == 5;
    // 16-float registers only pay when the channels fill them (8 channels would leave half of each idle).
    const int wide = level >= FK_LEVEL_AVX512 && p->c % 16 != 8 && p->c > 8;
    fk_dw_row r;
    for (int oy = row_begin; oy < row_end; oy++) {
        dw_row_setup(p, oy, &r);
        float *out = p->output + (size_t)(oy - output_row0) * p->out_w * p->c;
        if (k3) { if (wide) dw512_3x3(p, &r, out); else dw256_3x3(p, &r, out); }
        else if (k5) { if (wide) dw512_5x5(p, &r, out); else dw256_5x5(p, &r, out); }
        else dw256_any(p, &r, out);
    }
    return 1;
#else
    (void)row_begin; (void)row_end; (void)taps;
    return 0;
#endif
}

int fk_depthwise_rows(int level, const fk_depthwise *p, int row_begin, int row_end) {
    return depthwise_rows(level, p, row_begin, row_end, 0);
}

int fk_depthwise_block(int level, const fk_depthwise *p, int row_begin, int row_end) {
    return depthwise_rows(level, p, row_begin, row_end, row_begin);
}

void fk_im2col(int level, const fk_depthwise *p, int pos_begin, int pos_end, float *cols) {
#if FK_X86
    void (*copy)(float *, const float *, int) = level >= FK_LEVEL_AVX512 ? copy512 : copy_any;
    void (*zero)(float *, int) = level >= FK_LEVEL_AVX512 ? zero512 : zero_any;
#else
    void (*copy)(float *, const float *, int) = copy_any;
    void (*zero)(float *, int) = zero_any;
    (void)level;
#endif
    const int c = p->c, run = p->kw * c;
    for (int pos = pos_begin; pos < pos_end; pos++) {
        const int oy = pos / p->out_w, ox = pos % p->out_w;
        const int x0 = ox * p->stride_w - p->pad_left;
        const int inside_x = x0 >= 0 && x0 + (p->kw - 1) * p->dilation_w < p->in_w;
        for (int ky = 0; ky < p->kh; ky++) {
            const int iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
            if (iy < 0 || iy >= p->in_h) {
                zero(cols, run);
            } else if (inside_x && p->dilation_w == 1) {
                copy(cols, p->input + ((size_t)iy * p->in_w + x0) * c, run);
            } else {
                for (int kx = 0; kx < p->kw; kx++) {
                    const int ix = x0 + kx * p->dilation_w;
                    if (ix < 0 || ix >= p->in_w) zero(cols + kx * c, c);
                    else copy(cols + kx * c, p->input + ((size_t)iy * p->in_w + ix) * c, c);
                }
            }
            cols += run;
        }
    }
}
