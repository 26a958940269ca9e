// Direct convolution for layers whose window is small (kh*kw*cin <= 128 taps) and whose output is narrow (cout <= 32):
// the first layer of every face network (3x3, stride 2, RGB in, 16-32 channels out). As im2col + product, such a
// layer copies 27 (or, 5x5, 75) floats per output pixel into a buffer and then runs a product only that deep; here each output pixel's
// channels stay in one or two AVX-512 registers while its taps are read straight from the input, 8 pixels at a time.
// Taps are summed in im2col's order (ky, kx, channel), each with a fused multiply-add, starting from the bias, as the
// product does. See CKernels.h (fk_conv_small_rows); Tests/FacetTests/TensorFastKernelTests.swift compares it with
// the naive convolution.
#include "CKernels.h"

#include "targets.h"

enum { SMALL_TAPS = 128, SMALL_COUT = 32, SMALL_PIXELS = 8 };

#if FK_X86

// The epilogue (ReLU or PReLU) and the store of one pixel's `cout` channels (nv = 1 or 2 registers).
T512 static inline void store_small(const fk_conv_small *p, float *out, __m512 a0, __m512 a1, int nv, __mmask16 m0, __mmask16 m1,
                                    __m512 alpha0, __m512 alpha1) {
    if (p->alpha) {
        a0 = _mm512_mask_mul_ps(a0, _mm512_cmp_ps_mask(a0, _mm512_setzero_ps(), _CMP_LT_OQ), a0, alpha0);
        if (nv == 2) a1 = _mm512_mask_mul_ps(a1, _mm512_cmp_ps_mask(a1, _mm512_setzero_ps(), _CMP_LT_OQ), a1, alpha1);
    } else if (p->relu) {
        a0 = _mm512_max_ps(a0, _mm512_setzero_ps());
        if (nv == 2) a1 = _mm512_max_ps(a1, _mm512_setzero_ps());
    }
    _mm512_mask_storeu_ps(out, m0, a0);
    if (nv == 2) _mm512_mask_storeu_ps(out + 16, m1, a1);
}

// Output row `oy`, for nv = 1 or 2 registers of output channels (inlined with nv constant).
__attribute__((always_inline)) T512 static inline void small_row512(const fk_conv_small *p, const float *wt, int oy, int nv) {
    const int cin = p->cin, kh = p->kh, kw = p->kw, sw = p->stride_w, in_w = p->in_w, in_h = p->in_h, cout = p->cout;
    const __mmask16 m0 = cout >= 16 ? 0xFFFF : (__mmask16)((1u << cout) - 1);
    const __mmask16 m1 = cout >= 32 ? 0xFFFF : (cout > 16 ? (__mmask16)((1u << (cout - 16)) - 1) : 0);
    const __m512 b0 = p->bias ? _mm512_maskz_loadu_ps(m0, p->bias) : _mm512_setzero_ps();
    const __m512 b1 = p->bias && nv == 2 ? _mm512_maskz_loadu_ps(m1, p->bias + 16) : _mm512_setzero_ps();
    const __m512 alpha0 = p->alpha ? _mm512_maskz_loadu_ps(m0, p->alpha) : _mm512_setzero_ps();
    const __m512 alpha1 = p->alpha && nv == 2 ? _mm512_maskz_loadu_ps(m1, p->alpha + 16) : _mm512_setzero_ps();
    const int iy0 = oy * p->stride_h - p->pad_top;
    float *out_row = p->output + (size_t)oy * p->out_w * cout;
    // Pixels whose windows lie inside the image: [first, last) (none when the window rows leave it).
    int first = p->out_w, last = p->out_w;
    if (iy0 >= 0 && iy0 + kh <= in_h) {
        first = (p->pad_left + sw - 1) / sw;
        last = in_w - kw + p->pad_left >= 0 ? (in_w - kw + p->pad_left) / sw + 1 : 0;
        if (last > p->out_w) last = p->out_w;
        if (first > last) first = last;
    }
    for (int ox = 0; ox < p->out_w; ) {
        if (ox >= first && ox + SMALL_PIXELS <= last) {
            // 8 pixels at once: every tap's weights loaded once for the 8.
            const int ix0 = ox * sw - p->pad_left;
            __m512 acc0[SMALL_PIXELS], acc1[SMALL_PIXELS];
            for (int q = 0; q < SMALL_PIXELS; q++) { acc0[q] = b0; acc1[q] = b1; }
            int tap = 0;
            for (int ky = 0; ky < kh; ky++) {
                const float *row = p->input + ((size_t)(iy0 + ky) * in_w + ix0) * cin;
                for (int kx = 0; kx < kw; kx++) {
                    for (int ci = 0; ci < cin; ci++, tap++) {
                        const __m512 w0 = _mm512_load_ps(wt + tap * SMALL_COUT);
                        const __m512 w1 = nv == 2 ? _mm512_load_ps(wt + tap * SMALL_COUT + 16) : w0;
                        const float *x = row + kx * cin + ci;
                        for (int q = 0; q < SMALL_PIXELS; q++) {
                            const __m512 v = _mm512_set1_ps(x[q * sw * cin]);
                            acc0[q] = _mm512_fmadd_ps(v, w0, acc0[q]);
                            if (nv == 2) acc1[q] = _mm512_fmadd_ps(v, w1, acc1[q]);
                        }
                    }
                }
            }
            for (int q = 0; q < SMALL_PIXELS; q++) {
                store_small(p, out_row + (size_t)(ox + q) * cout, acc0[q], acc1[q], nv, m0, m1, alpha0, alpha1);
            }
            ox += SMALL_PIXELS;
            continue;
        }
        // One pixel, taps outside the image skipped (they read 0).
        const int ix0 = ox * sw - p->pad_left;
        __m512 a0 = b0, a1 = b1;
        int tap = 0;
        for (int ky = 0; ky < kh; ky++) {
            const int iy = iy0 + ky;
            for (int kx = 0; kx < kw; kx++) {
                const int ix = ix0 + kx;
                const int inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
                for (int ci = 0; ci < cin; ci++, tap++) {
                    if (!inside) continue;
                    const __m512 v = _mm512_set1_ps(p->input[((size_t)iy * in_w + ix) * cin + ci]);
                    a0 = _mm512_fmadd_ps(v, _mm512_load_ps(wt + tap * SMALL_COUT), a0);
                    if (nv == 2) a1 = _mm512_fmadd_ps(v, _mm512_load_ps(wt + tap * SMALL_COUT + 16), a1);
                }
            }
        }
        store_small(p, out_row + (size_t)ox * cout, a0, a1, nv, m0, m1, alpha0, alpha1);
        ox++;
    }
}

T512 static void small_rows512(const fk_conv_small *p, const float *wt, int row_begin, int row_end) {
    if (p->cout > 16) {
        for (int oy = row_begin; oy < row_end; oy++) small_row512(p, wt, oy, 2);
    } else {
        for (int oy = row_begin; oy < row_end; oy++) small_row512(p, wt, oy, 1);
    }
}

#endif

int fk_conv_small_rows(int level, const fk_conv_small *p, int row_begin, int row_end) {
    const int taps = p->kh * p->kw * p->cin;
    if (level < FK_LEVEL_AVX512 || taps < 1 || taps > SMALL_TAPS || p->cout < 1 || p->cout > SMALL_COUT) return 0;
    if (p->stride_h < 1 || p->stride_w < 1 || p->in_w < 1 || p->in_h < 1) return 0;
#if FK_X86
    // The filter [cout][kh][kw][cin] turned into [tap][32 channels] (zero beyond cout): one tap's weights, one load.
    float wt[SMALL_TAPS * SMALL_COUT] __attribute__((aligned(64)));
    for (int t = 0; t < taps; t++) {
        for (int o = 0; o < SMALL_COUT; o++) wt[t * SMALL_COUT + o] = o < p->cout ? p->filter[(size_t)o * taps + t] : 0.0f;
    }
    small_rows512(p, wt, row_begin, row_end);
    return 1;
#else
    (void)row_begin; (void)row_end;
    return 0;
#endif
}
