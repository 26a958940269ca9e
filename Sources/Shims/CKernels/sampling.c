// Affine bilinear sampling of RGB24 images (see CKernels.h, fk_affine_rgb_rows): the vector twin of Media's
// `Bilinear.rgb` (pixel-centre convention, replicated or zero border) as Models' `ImageSampling.affineCrop` and
// Faces' `FaceAlignment.crop` use it. Every lane does the same double-precision operations in the same order as the
// Swift code, without fused multiply-adds, so the results are bit for bit the Swift path's
// (Tests/FacetTests/TensorFastKernelTests.swift checks it on both instruction-set paths).
//
// Speed: the arithmetic runs on 8 (AVX-512) or 4 (AVX2) output pixels at once. The source bytes are read as one
// 8-byte word per lane and row, which holds the left and the right tap (neighbours in memory), and the channels are
// then cut out of the words in registers; on AVX-512 the 8 lanes' words are gathered at once when every lane's taps
// are neighbours (nearly always: not at the image's right edge), else loaded lane by lane. The source rows two output
// rows ahead are requested before they are needed (`prefetch_ahead`): the frames arrive cold from memory.
#include "CKernels.h"

#pragma clang fp contract(off)

#include "targets.h"

#include <math.h>
#include <stdint.h>

// The source coordinate of output pixel centre (cu, cv), in the association order of the Swift caller.
static inline void source_point(const fk_affine *p, double cu, double cv, double *sx, double *sy) {
    if (p->origin_first) {
        *sx = (p->tx + cu * p->a) + cv * p->b;
        *sy = (p->ty + cu * p->c) + cv * p->d;
    } else {
        *sx = (p->a * cu + p->b * cv) + p->tx;
        *sy = (p->c * cu + p->d * cv) + p->ty;
    }
}

static inline double clamp_coordinate(double s, int limit) {
    if (isnan(s)) return 0;
    double v = s - 0.5;
    v = v > -1.0 ? v : -1.0;
    return v < (double)limit ? v : (double)limit;
}

static inline void store_pixel(const fk_affine *p, size_t index, double r, double g, double b) {
    const double values[3] = {r, g, b};
    for (int ch = 0; ch < 3; ch++) {
        const double v = values[ch];
        if (p->out_b) {
            double q = floor(v + 0.5);
            q = q > 0.0 ? q : 0.0;
            q = q < 255.0 ? q : 255.0;
            p->out_b[index * 3 + ch] = isnan(v) ? 0 : (unsigned char)q;
        } else {
            const float f = p->round ? (float)floor(v + 0.5) : (float)v;
            p->out_f[index * 3 + ch] = f * p->scale + p->offset;
        }
    }
}

// One output pixel, exactly as the Swift code computes it.
static void sample_scalar(const fk_affine *p, int v, int u) {
    const int w = p->width, h = p->height;
    double sx, sy;
    source_point(p, (double)u + 0.5, (double)v + 0.5, &sx, &sy);
    const double x = clamp_coordinate(sx, w), y = clamp_coordinate(sy, h);
    const double xf = floor(x), yf = floor(y);
    int left = (int)xf, top = (int)yf, right = left + 1, bottom = top + 1;
    const double fx = x - xf, fy = y - yf;
    const double w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
    const unsigned char *px = p->pixels;
    double acc[3];
    if (p->zero_border) {
        const int rows[4] = {top, top, bottom, bottom}, cols[4] = {left, right, left, right};
        const double weights[4] = {w00, w01, w10, w11};
        acc[0] = acc[1] = acc[2] = 0;
        for (int t = 0; t < 4; t++) {
            if (rows[t] < 0 || rows[t] >= h || cols[t] < 0 || cols[t] >= w) continue;
            const unsigned char *q = px + ((size_t)rows[t] * w + cols[t]) * 3;
            for (int ch = 0; ch < 3; ch++) acc[ch] += (double)q[ch] * weights[t];
        }
    } else {
        left = left < 0 ? 0 : (left > w - 1 ? w - 1 : left);
        right = right < 0 ? 0 : (right > w - 1 ? w - 1 : right);
        top = top < 0 ? 0 : (top > h - 1 ? h - 1 : top);
        bottom = bottom < 0 ? 0 : (bottom > h - 1 ? h - 1 : bottom);
        const unsigned char *q00 = px + ((size_t)top * w + left) * 3, *q01 = px + ((size_t)top * w + right) * 3;
        const unsigned char *q10 = px + ((size_t)bottom * w + left) * 3, *q11 = px + ((size_t)bottom * w + right) * 3;
        for (int ch = 0; ch < 3; ch++) {
            acc[ch] = (double)q00[ch] * w00 + (double)q01[ch] * w01 + (double)q10[ch] * w10 + (double)q11[ch] * w11;
        }
    }
    store_pixel(p, (size_t)v * p->out_w + u, acc[0], acc[1], acc[2]);
}

// Asks for the source bytes output row `v` will read (both tap rows), before the row is sampled: the frames come
// from memory cold (decoded frames ago, on another core), and along a rotated row the hardware prefetcher cannot
// guess the next line, so without this the sampler mostly waits for memory. One request per `step` output pixels,
// `step` chosen so that consecutive requests lie at most 16 source pixels (48 bytes) apart.
static inline void prefetch_source_row(const fk_affine *p, int v) {
    const int w = p->width, h = p->height, n = p->out_w;
    const double advance = fabs(p->a) + fabs(p->c);
    const int step = advance > 1.0 ? (advance < 16.0 ? (int)(16.0 / advance) : 1) : 16;
    for (int u = 0; u < n + step; u += step) {
        double sx, sy;
        source_point(p, (double)(u < n ? u : n - 1) + 0.5, (double)v + 0.5, &sx, &sy);
        const double x = clamp_coordinate(sx, w), y = clamp_coordinate(sy, h);
        int col = (int)x, row = (int)y;
        col = col < 0 ? 0 : (col > w - 1 ? w - 1 : col);
        row = row < 0 ? 0 : (row > h - 2 ? (h > 1 ? h - 2 : 0) : row);
        const unsigned char *q = p->pixels + ((size_t)row * w + col) * 3;
        __builtin_prefetch(q);
        if (h > 1) __builtin_prefetch(q + (size_t)w * 3);
    }
}

// Before sampling row v of [row_begin, row_end): requests the row `PREFETCH_ROWS` ahead (and, at the first row, the
// ones up to it), so the source lines arrive while the rows before them are computed.
enum { PREFETCH_ROWS = 2 };
static inline void prefetch_ahead(const fk_affine *p, int v, int row_begin, int row_end) {
    if (v == row_begin) {
        for (int k = v; k < v + PREFETCH_ROWS && k < row_end; k++) prefetch_source_row(p, k);
    }
    if (v + PREFETCH_ROWS < row_end) prefetch_source_row(p, v + PREFETCH_ROWS);
}

#if FK_X86

// (x86 is little-endian.) The RGB bytes of the pixels at byte offsets `left` and `right` as bits 0-23 and 24-47 of one word.
static inline uint64_t tap_pair(const unsigned char *px, int left, int right, int64_t size) {
    if (right == left + 3 && (int64_t)left + 8 <= size) {
        uint64_t word;
        __builtin_memcpy(&word, px + left, 8);
        return word;
    }
    return (uint64_t)px[left] | (uint64_t)px[left + 1] << 8 | (uint64_t)px[left + 2] << 16
        | (uint64_t)px[right] << 24 | (uint64_t)px[right + 1] << 32 | (uint64_t)px[right + 2] << 40;
}

// MARK: AVX-512, 8 output pixels per step

T512 static inline __m512d channel512(__m512i pairs, int shift, __mmask8 valid) {
    const __m512i byte = _mm512_and_si512(_mm512_srli_epi64(pairs, (unsigned)shift), _mm512_set1_epi64(0xFF));
    return _mm512_maskz_cvtepi64_pd(valid, byte);
}

T512 static void affine512(const fk_affine *p, int row_begin, int row_end) {
    const int w = p->width, h = p->height, n = p->out_w;
    const __m512d lanes = _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7), half = _mm512_set1_pd(0.5), one = _mm512_set1_pd(1);
    const __m512d lowest = _mm512_set1_pd(-1), wide = _mm512_set1_pd((double)w), high = _mm512_set1_pd((double)h);
    const __m256i zero = _mm256_setzero_si256(), wmax = _mm256_set1_epi32(w - 1), hmax = _mm256_set1_epi32(h - 1);
    const __m256i stride = _mm256_set1_epi32(w), three = _mm256_set1_epi32(3), ones = _mm256_set1_epi32(1);
    const unsigned char *px = p->pixels;
    const int64_t size = (int64_t)w * h * 3;
    for (int v = row_begin; v < row_end; v++) {
        prefetch_ahead(p, v, row_begin, row_end);
        const __m512d cv = _mm512_set1_pd((double)v + 0.5);
        int u0 = 0;
        for (; u0 + 8 <= n; u0 += 8) {
            const __m512d cu = _mm512_add_pd(_mm512_add_pd(_mm512_set1_pd((double)u0), lanes), half);
            __m512d sx, sy;
            if (p->origin_first) {
                sx = _mm512_add_pd(_mm512_add_pd(_mm512_set1_pd(p->tx), _mm512_mul_pd(cu, _mm512_set1_pd(p->a))), _mm512_mul_pd(cv, _mm512_set1_pd(p->b)));
                sy = _mm512_add_pd(_mm512_add_pd(_mm512_set1_pd(p->ty), _mm512_mul_pd(cu, _mm512_set1_pd(p->c))), _mm512_mul_pd(cv, _mm512_set1_pd(p->d)));
            } else {
                sx = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(p->a), cu), _mm512_mul_pd(_mm512_set1_pd(p->b), cv)), _mm512_set1_pd(p->tx));
                sy = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(p->c), cu), _mm512_mul_pd(_mm512_set1_pd(p->d), cv)), _mm512_set1_pd(p->ty));
            }
            const __mmask8 nanx = _mm512_cmp_pd_mask(sx, sx, _CMP_UNORD_Q), nany = _mm512_cmp_pd_mask(sy, sy, _CMP_UNORD_Q);
            __m512d x = _mm512_min_pd(_mm512_max_pd(_mm512_sub_pd(sx, half), lowest), wide);
            __m512d y = _mm512_min_pd(_mm512_max_pd(_mm512_sub_pd(sy, half), lowest), high);
            x = _mm512_mask_mov_pd(x, nanx, _mm512_setzero_pd());
            y = _mm512_mask_mov_pd(y, nany, _mm512_setzero_pd());
            const __m512d xf = _mm512_roundscale_pd(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            const __m512d yf = _mm512_roundscale_pd(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            const __m512d fx = _mm512_sub_pd(x, xf), fy = _mm512_sub_pd(y, yf);
            const __m256i left = _mm512_cvttpd_epi32(xf), top = _mm512_cvttpd_epi32(yf);
            const __m256i right = _mm256_add_epi32(left, ones), bottom = _mm256_add_epi32(top, ones);
            const __m256i cl = _mm256_min_epi32(_mm256_max_epi32(left, zero), wmax), cr = _mm256_min_epi32(_mm256_max_epi32(right, zero), wmax);
            const __m256i ct = _mm256_min_epi32(_mm256_max_epi32(top, zero), hmax), cb = _mm256_min_epi32(_mm256_max_epi32(bottom, zero), hmax);
            const __m256i o00 = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(ct, stride), cl), three);
            const __m256i o01 = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(ct, stride), cr), three);
            const __m256i o10 = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(cb, stride), cl), three);
            const __m256i o11 = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(cb, stride), cr), three);
            __mmask8 v00 = 0xFF, v01 = 0xFF, v10 = 0xFF, v11 = 0xFF;
            if (p->zero_border) {
                const __mmask8 lok = _mm256_cmpeq_epi32_mask(left, cl), rok = _mm256_cmpeq_epi32_mask(right, cr);
                const __mmask8 tok = _mm256_cmpeq_epi32_mask(top, ct), bok = _mm256_cmpeq_epi32_mask(bottom, cb);
                v00 = tok & lok; v01 = tok & rok; v10 = bok & lok; v11 = bok & rok;
            }
            // Each lane's left and right taps of a row, as 6 bytes of one 64-bit word: one 8-byte load when the two
            // pixels are neighbours and the load stays inside the image, which is nearly always, and then for all 8 lanes
            // at once with one gather; lane by lane otherwise.
            const __m256i last = _mm256_set1_epi32((int)(size - 8));
            const __mmask8 neighbours = _mm256_cmpeq_epi32_mask(o01, _mm256_add_epi32(o00, three))
                & _mm256_cmpeq_epi32_mask(o11, _mm256_add_epi32(o10, three))
                & _mm256_cmple_epi32_mask(o00, last) & _mm256_cmple_epi32_mask(o10, last);
            __m512i up, down;
            if (neighbours == 0xFF) {
                up = _mm512_i32gather_epi64(o00, (const void *)px, 1);
                down = _mm512_i32gather_epi64(o10, (const void *)px, 1);
            } else {
                int offsets[4][8] __attribute__((aligned(32)));
                _mm256_store_si256((__m256i *)offsets[0], o00); _mm256_store_si256((__m256i *)offsets[1], o01);
                _mm256_store_si256((__m256i *)offsets[2], o10); _mm256_store_si256((__m256i *)offsets[3], o11);
#define FK_PAIR(row, l) (long long)tap_pair(px, offsets[row][l], offsets[row + 1][l], size)
                up = _mm512_set_epi64(FK_PAIR(0, 7), FK_PAIR(0, 6), FK_PAIR(0, 5), FK_PAIR(0, 4),
                                      FK_PAIR(0, 3), FK_PAIR(0, 2), FK_PAIR(0, 1), FK_PAIR(0, 0));
                down = _mm512_set_epi64(FK_PAIR(2, 7), FK_PAIR(2, 6), FK_PAIR(2, 5), FK_PAIR(2, 4),
                                        FK_PAIR(2, 3), FK_PAIR(2, 2), FK_PAIR(2, 1), FK_PAIR(2, 0));
#undef FK_PAIR
            }
            const __m512d ofx = _mm512_sub_pd(one, fx), ofy = _mm512_sub_pd(one, fy);
            const __m512d w00 = _mm512_mul_pd(ofx, ofy), w01 = _mm512_mul_pd(fx, ofy), w10 = _mm512_mul_pd(ofx, fy), w11 = _mm512_mul_pd(fx, fy);
            // The epilogue of store_pixel on 8 lanes, then the three channels interleaved.
            __m256i bytes[3];
            __m256 floats[3];
            for (int ch = 0; ch < 3; ch++) {
                __m512d acc = _mm512_mul_pd(channel512(up, 8 * ch, v00), w00);
                acc = _mm512_add_pd(acc, _mm512_mul_pd(channel512(up, 24 + 8 * ch, v01), w01));
                acc = _mm512_add_pd(acc, _mm512_mul_pd(channel512(down, 8 * ch, v10), w10));
                acc = _mm512_add_pd(acc, _mm512_mul_pd(channel512(down, 24 + 8 * ch, v11), w11));
                const __m512d rounded = _mm512_roundscale_pd(_mm512_add_pd(acc, half), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
                if (p->out_b) {
                    const __m512d q = _mm512_min_pd(_mm512_max_pd(rounded, _mm512_setzero_pd()), _mm512_set1_pd(255));
                    bytes[ch] = _mm512_cvttpd_epi32(q);
                } else {
                    const __m256 f = _mm512_cvtpd_ps(p->round ? rounded : acc);
                    floats[ch] = _mm256_add_ps(_mm256_mul_ps(f, _mm256_set1_ps(p->scale)), _mm256_set1_ps(p->offset));
                }
            }
            const size_t first = ((size_t)v * n + u0) * 3;
            if (p->out_b) {
                // Each lane as 0x00BBGGRR, then each 128-bit half's 4 pixels cut to 12 bytes and stored (24 in all).
                const __m256i rgbx = _mm256_or_si256(bytes[0], _mm256_or_si256(_mm256_slli_epi32(bytes[1], 8), _mm256_slli_epi32(bytes[2], 16)));
                const __m256i cut = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                                     0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
                const __m256i packed = _mm256_shuffle_epi8(rgbx, cut);
                _mm_mask_storeu_epi8(p->out_b + first, (__mmask16)0x0FFF, _mm256_castsi256_si128(packed));
                _mm_mask_storeu_epi8(p->out_b + first + 12, (__mmask16)0x0FFF, _mm256_extracti128_si256(packed, 1));
            } else {
                // R and G in one register, B in another; two permutations interleave them (24 floats).
                const __m512 rg = _mm512_insertf32x8(_mm512_castps256_ps512(floats[0]), floats[1], 1);
                const __m512 bx = _mm512_castps256_ps512(floats[2]);
                const __m512i first16 = _mm512_setr_epi32(0, 8, 16, 1, 9, 17, 2, 10, 18, 3, 11, 19, 4, 12, 20, 5);
                const __m512i last8 = _mm512_setr_epi32(13, 21, 6, 14, 22, 7, 15, 23, 0, 0, 0, 0, 0, 0, 0, 0);
                _mm512_storeu_ps(p->out_f + first, _mm512_permutex2var_ps(rg, first16, bx));
                _mm512_mask_storeu_ps(p->out_f + first + 16, (__mmask16)0x00FF, _mm512_permutex2var_ps(rg, last8, bx));
            }
        }
        for (; u0 < n; u0++) sample_scalar(p, v, u0);
    }
}

// MARK: AVX2, 4 output pixels per step

// One byte of each lane's 64-bit word (bits shift...shift+7) as 4 doubles, 0 where `valid` is clear.
T256 static inline __m256d channel256(__m256i pairs, int shift, __m128i valid) {
    const __m256i byte = _mm256_and_si256(_mm256_srli_epi64(pairs, shift), _mm256_set1_epi64x(0xFF));
    const __m128i low = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(byte, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)));
    return _mm256_cvtepi32_pd(_mm_and_si128(low, valid));
}

T256 static inline __m128i clamp128(__m128i v, __m128i hi) { return _mm_min_epi32(_mm_max_epi32(v, _mm_setzero_si128()), hi); }

T256 static void affine256(const fk_affine *p, int row_begin, int row_end) {
    const int w = p->width, h = p->height, n = p->out_w;
    const __m256d lanes = _mm256_setr_pd(0, 1, 2, 3), half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1);
    const __m256d lowest = _mm256_set1_pd(-1), wide = _mm256_set1_pd((double)w), high = _mm256_set1_pd((double)h);
    const __m128i wmax = _mm_set1_epi32(w - 1), hmax = _mm_set1_epi32(h - 1), stride = _mm_set1_epi32(w), three = _mm_set1_epi32(3);
    const __m128i ones = _mm_set1_epi32(1);
    const unsigned char *px = p->pixels;
    const int64_t size = (int64_t)w * h * 3;
    for (int v = row_begin; v < row_end; v++) {
        prefetch_ahead(p, v, row_begin, row_end);
        const __m256d cv = _mm256_set1_pd((double)v + 0.5);
        int u0 = 0;
        for (; u0 + 4 <= n; u0 += 4) {
            const __m256d cu = _mm256_add_pd(_mm256_add_pd(_mm256_set1_pd((double)u0), lanes), half);
            __m256d sx, sy;
            if (p->origin_first) {
                sx = _mm256_add_pd(_mm256_add_pd(_mm256_set1_pd(p->tx), _mm256_mul_pd(cu, _mm256_set1_pd(p->a))), _mm256_mul_pd(cv, _mm256_set1_pd(p->b)));
                sy = _mm256_add_pd(_mm256_add_pd(_mm256_set1_pd(p->ty), _mm256_mul_pd(cu, _mm256_set1_pd(p->c))), _mm256_mul_pd(cv, _mm256_set1_pd(p->d)));
            } else {
                sx = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(p->a), cu), _mm256_mul_pd(_mm256_set1_pd(p->b), cv)), _mm256_set1_pd(p->tx));
                sy = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(p->c), cu), _mm256_mul_pd(_mm256_set1_pd(p->d), cv)), _mm256_set1_pd(p->ty));
            }
            const __m256d nanx = _mm256_cmp_pd(sx, sx, _CMP_UNORD_Q), nany = _mm256_cmp_pd(sy, sy, _CMP_UNORD_Q);
            __m256d x = _mm256_min_pd(_mm256_max_pd(_mm256_sub_pd(sx, half), lowest), wide);
            __m256d y = _mm256_min_pd(_mm256_max_pd(_mm256_sub_pd(sy, half), lowest), high);
            x = _mm256_blendv_pd(x, _mm256_setzero_pd(), nanx);
            y = _mm256_blendv_pd(y, _mm256_setzero_pd(), nany);
            const __m256d xf = _mm256_floor_pd(x), yf = _mm256_floor_pd(y);
            const __m256d fx = _mm256_sub_pd(x, xf), fy = _mm256_sub_pd(y, yf);
            const __m128i left = _mm256_cvttpd_epi32(xf), top = _mm256_cvttpd_epi32(yf);
            const __m128i right = _mm_add_epi32(left, ones), bottom = _mm_add_epi32(top, ones);
            const __m128i cl = clamp128(left, wmax), cr = clamp128(right, wmax), ct = clamp128(top, hmax), cb = clamp128(bottom, hmax);
            const __m128i o00 = _mm_mullo_epi32(_mm_add_epi32(_mm_mullo_epi32(ct, stride), cl), three);
            const __m128i o01 = _mm_mullo_epi32(_mm_add_epi32(_mm_mullo_epi32(ct, stride), cr), three);
            const __m128i o10 = _mm_mullo_epi32(_mm_add_epi32(_mm_mullo_epi32(cb, stride), cl), three);
            const __m128i o11 = _mm_mullo_epi32(_mm_add_epi32(_mm_mullo_epi32(cb, stride), cr), three);
            const __m128i all = _mm_set1_epi32(-1);
            __m128i v00 = all, v01 = all, v10 = all, v11 = all;
            if (p->zero_border) {
                const __m128i lok = _mm_cmpeq_epi32(left, cl), rok = _mm_cmpeq_epi32(right, cr);
                const __m128i tok = _mm_cmpeq_epi32(top, ct), bok = _mm_cmpeq_epi32(bottom, cb);
                v00 = _mm_and_si128(tok, lok); v01 = _mm_and_si128(tok, rok); v10 = _mm_and_si128(bok, lok); v11 = _mm_and_si128(bok, rok);
            }
            int offsets[4][4] __attribute__((aligned(16)));
            _mm_store_si128((__m128i *)offsets[0], o00); _mm_store_si128((__m128i *)offsets[1], o01);
            _mm_store_si128((__m128i *)offsets[2], o10); _mm_store_si128((__m128i *)offsets[3], o11);
#define FK_PAIR(row, l) (long long)tap_pair(px, offsets[row][l], offsets[row + 1][l], size)
            const __m256i up = _mm256_set_epi64x(FK_PAIR(0, 3), FK_PAIR(0, 2), FK_PAIR(0, 1), FK_PAIR(0, 0));
            const __m256i down = _mm256_set_epi64x(FK_PAIR(2, 3), FK_PAIR(2, 2), FK_PAIR(2, 1), FK_PAIR(2, 0));
#undef FK_PAIR
            const __m256d ofx = _mm256_sub_pd(one, fx), ofy = _mm256_sub_pd(one, fy);
            const __m256d w00 = _mm256_mul_pd(ofx, ofy), w01 = _mm256_mul_pd(fx, ofy), w10 = _mm256_mul_pd(ofx, fy), w11 = _mm256_mul_pd(fx, fy);
            int bytes[3][4] __attribute__((aligned(16)));
            float floats[3][4] __attribute__((aligned(16)));
            for (int ch = 0; ch < 3; ch++) {
                __m256d acc = _mm256_mul_pd(channel256(up, 8 * ch, v00), w00);
                acc = _mm256_add_pd(acc, _mm256_mul_pd(channel256(up, 24 + 8 * ch, v01), w01));
                acc = _mm256_add_pd(acc, _mm256_mul_pd(channel256(down, 8 * ch, v10), w10));
                acc = _mm256_add_pd(acc, _mm256_mul_pd(channel256(down, 24 + 8 * ch, v11), w11));
                const __m256d rounded = _mm256_floor_pd(_mm256_add_pd(acc, half));
                if (p->out_b) {
                    const __m256d q = _mm256_min_pd(_mm256_max_pd(rounded, _mm256_setzero_pd()), _mm256_set1_pd(255));
                    _mm_store_si128((__m128i *)bytes[ch], _mm256_cvttpd_epi32(q));
                } else {
                    const __m128 f = _mm256_cvtpd_ps(p->round ? rounded : acc);
                    _mm_store_ps(floats[ch], _mm_add_ps(_mm_mul_ps(f, _mm_set1_ps(p->scale)), _mm_set1_ps(p->offset)));
                }
            }
            const size_t first = ((size_t)v * n + u0) * 3;
            if (p->out_b) {
                for (int l = 0; l < 4; l++) {
                    p->out_b[first + 3 * l] = (unsigned char)bytes[0][l];
                    p->out_b[first + 3 * l + 1] = (unsigned char)bytes[1][l];
                    p->out_b[first + 3 * l + 2] = (unsigned char)bytes[2][l];
                }
            } else {
                for (int l = 0; l < 4; l++) {
                    p->out_f[first + 3 * l] = floats[0][l]; p->out_f[first + 3 * l + 1] = floats[1][l]; p->out_f[first + 3 * l + 2] = floats[2][l];
                }
            }
        }
        for (; u0 < n; u0++) sample_scalar(p, v, u0);
    }
}

#endif

int fk_affine_rgb_rows(int level, const fk_affine *p, int row_begin, int row_end) {
    if (p->width < 1 || p->height < 1 || p->out_w < 1) return 0;
    if ((int64_t)p->width * p->height * 3 > INT32_MAX - 64) return 0;
    if (!p->out_b && !p->out_f) return 0;
#if FK_X86
    if (level >= FK_LEVEL_AVX512) { affine512(p, row_begin, row_end); return 1; }
    if (level >= FK_LEVEL_AVX2) { affine256(p, row_begin, row_end); return 1; }
#endif
    (void)level;
    for (int v = row_begin; v < row_end; v++) {
        for (int u = 0; u < p->out_w; u++) sample_scalar(p, v, u);
    }
    return 1;
}
