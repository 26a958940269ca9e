// Max pooling for the native TFLite runtime (see CKernels.h, fk_maxpool_rows): AVX-512 and AVX2 twins, 16 or 8 channels
// at a time with masked tails; padded window positions are skipped, as TFLite does.
#include "CKernels.h"
#include "targets.h"

#if FK_X86
T512 static void maxpool512(const fk_depthwise *p, int row_begin, int row_end) {
    const int c = p->c;
    for (int oy = row_begin; oy < row_end; oy++) {
        const int y0 = oy * p->stride_h - p->pad_top;
        const int ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + p->kh > p->in_h ? p->in_h - y0 : p->kh;
        for (int ox = 0; ox < p->out_w; ox++) {
            const int x0 = ox * p->stride_w - p->pad_left;
            const int kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + p->kw > p->in_w ? p->in_w - x0 : p->kw;
            float *out = p->output + ((size_t)oy * p->out_w + ox) * c;
            for (int ch = 0; ch < c; ch += 16) {
                const int left = c - ch;
                const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
                __m512 acc = _mm512_set1_ps(-3.402823466e+38f);
                for (int ky = ky0; ky < ky1; ky++) {
                    const float *row = p->input + ((size_t)(y0 + ky) * p->in_w + x0) * c + ch;
                    for (int kx = kx0; kx < kx1; kx++) acc = _mm512_max_ps(_mm512_maskz_loadu_ps(m, row + (size_t)kx * c), acc);
                }
                _mm512_mask_storeu_ps(out + ch, m, acc);
            }
        }
    }
}

T256 static void maxpool256(const fk_depthwise *p, int row_begin, int row_end) {
    const int c = p->c;
    for (int oy = row_begin; oy < row_end; oy++) {
        const int y0 = oy * p->stride_h - p->pad_top;
        const int ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + p->kh > p->in_h ? p->in_h - y0 : p->kh;
        for (int ox = 0; ox < p->out_w; ox++) {
            const int x0 = ox * p->stride_w - p->pad_left;
            const int kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + p->kw > p->in_w ? p->in_w - x0 : p->kw;
            float *out = p->output + ((size_t)oy * p->out_w + ox) * c;
            for (int ch = 0; ch < c; ch += 8) {
                const __m256i m = lanes_below(c - ch);
                __m256 acc = _mm256_set1_ps(-3.402823466e+38f);
                for (int ky = ky0; ky < ky1; ky++) {
                    const float *row = p->input + ((size_t)(y0 + ky) * p->in_w + x0) * c + ch;
                    for (int kx = kx0; kx < kx1; kx++) acc = _mm256_max_ps(_mm256_maskload_ps(row + (size_t)kx * c, m), acc);
                }
                _mm256_maskstore_ps(out + ch, m, acc);
            }
        }
    }
}
#endif

int fk_maxpool_rows(int level, const fk_depthwise *p, int row_begin, int row_end) {
#if FK_X86
    if (level >= FK_LEVEL_AVX512) { maxpool512(p, row_begin, row_end); return 1; }
    if (level >= FK_LEVEL_AVX2) { maxpool256(p, row_begin, row_end); return 1; }
#endif
    (void)level; (void)p; (void)row_begin; (void)row_end;
    return 0;
}
