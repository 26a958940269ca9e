// CKernels: float32 inference micro-kernels with AVX2+FMA and AVX-512 variants chosen at run time.
// Imported only by the Tensor module (scripts/check-imports.py, SHIM_OWNERS). Every kernel has a naive twin in
// Tensor's ReferenceKernels that Tests/FacetTests/TensorFastKernelTests.swift compares against, on both paths.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set levels: 0 none (callers use their portable code), 1 AVX2+FMA, 2 AVX-512 (F, VL, DQ, BW).
enum { FK_LEVEL_NONE = 0, FK_LEVEL_AVX2 = 1, FK_LEVEL_AVX512 = 2 };

/// The best level this CPU (and operating system) supports.
int fk_cpu_level(void);

/// Floats `fk_pack_gemm_b` writes for an N x K matrix: ceil(N / 16) * K * 16.
size_t fk_packed_gemm_b_count(int n, int k);

/// Packs B, given as N rows of K floats (a convolution filter OHWI flattened to [cout][kH*kW*cin]), into panels
/// of 16 columns: packed[((n / 16) * K + k) * 16 + n % 16] = b[n * K + k], zero where n >= N.
void fk_pack_gemm_b(const float *b, int n, int k, float *packed);

/// What a matrix product applies to C in the same pass: C = act(A·Bᵀ + bias + residual).
typedef struct {
    const float *bias;      // [N] or NULL
    const float *residual;  // [M][ldr] or NULL (must not alias C)
    int ldr;
    int relu;               // max(x, 0)
    const float *alpha;     // [N] PReLU slopes, or NULL (applied instead of relu when set)
    int residual_channels;  // the residual covers columns [0, residual_channels) only (zero beyond); 0: all N
} fk_epilogue;

/// C[M x N] (row stride ldc) = epilogue(A[M x K] (row stride lda) · Bᵀ) with B packed by fk_pack_gemm_b.
/// level: FK_LEVEL_AVX2 or FK_LEVEL_AVX512 (must not exceed fk_cpu_level()).
void fk_gemm(int level, int m, int n, int k, const float *a, int lda, const float *packed_b, float *c, int ldc,
             const fk_epilogue *epilogue);

/// Depthwise 2-D convolution (channel multiplier 1), NHWC, one image: output rows [row_begin, row_end).
/// input [in_h][in_w][c], filter [kh][kw][c], bias [c] or NULL, output [out_h][out_w][c]. Padding taps read 0.
/// Returns 0 when the shape is outside what the kernel handles (kh*kw > 64 or c > 16384): the caller falls back.
typedef struct {
    const float *input;
    const float *filter;
    const float *bias;
    float *output;
    int c, in_h, in_w, out_h, out_w, kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
} fk_depthwise;

int fk_depthwise_rows(int level, const fk_depthwise *p, int row_begin, int row_end);

/// The same rows written one after another from `output` (row `row_begin` first, whatever its place in the image):
/// a block in a caller's small scratch, multiplied while it is in cache.
int fk_depthwise_block(int level, const fk_depthwise *p, int row_begin, int row_end);

/// Unfolds the windows of output positions [pos_begin, pos_end) (row-major over out_h x out_w) of a convolution
/// into rows of kh*kw*c floats (ky, kx, channel order; zeros where the window leaves the image), starting at `cols`.
/// Uses p's input and geometry fields only (filter, bias and output are ignored).
void fk_im2col(int level, const fk_depthwise *p, int pos_begin, int pos_end, float *cols);

/// Max pooling of output rows [row_begin, row_end) of one image (`filter`, `bias` unused; padded positions are
/// ignored, as in TFLite). Returns 0 (having done nothing) below AVX2.
int fk_maxpool_rows(int level, const fk_depthwise *p, int row_begin, int row_end);

/// A convolution with a small window and few output channels (dilation 1), one image, NHWC: input [in_h][in_w][cin],
/// filter OHWI [cout][kh][kw][cin], bias [cout] or NULL, then ReLU (`relu`) or PReLU (`alpha` [cout], instead of
/// ReLU when set); output [out_h][out_w][cout]. Padding taps read 0.
typedef struct {
    const float *input;
    const float *filter;
    const float *bias;
    const float *alpha;
    float *output;
    int relu;
    int cin, cout, in_h, in_w, out_h, out_w, kh, kw, stride_h, stride_w, pad_top, pad_left;
} fk_conv_small;

/// Output rows [row_begin, row_end) of `p`. Returns 0 (doing nothing) below AVX-512, or when the window has more
/// than 128 taps (kh*kw*cin) or cout > 32: the caller then takes the product path.
int fk_conv_small_rows(int level, const fk_conv_small *p, int row_begin, int row_end);

/// Bilinear sampling of an RGB24 image through an affine map, Media's `Bilinear.rgb` (pixel-centre convention) in
/// vector form, bit for bit: output pixel (u, v) of a row `out_w` pixels long samples the source at
/// (sx, sy) = ((tx + cu*a) + cv*b, (ty + cu*c) + cv*d) when origin_first, else ((a*cu + b*cv) + tx, (c*cu + d*cv) + ty),
/// with (cu, cv) = (u + 0.5, v + 0.5). Taps outside the image replicate the edge, or read 0 when zero_border.
/// Writes RGB triples either as bytes (out_b: round half up, clamped to 0...255) or as floats (out_f:
/// scale * value + offset, the value first rounded half up when round is set).
typedef struct {
    const unsigned char *pixels;  // [height][width][3]
    int width, height;
    int out_w;
    double a, b, tx, c, d, ty;
    int origin_first;
    int zero_border;
    unsigned char *out_b;         // [rows][out_w][3], or NULL for floats
    float *out_f;                 // [rows][out_w][3] when out_b is NULL
    float scale, offset;
    int round;
} fk_affine;

/// Samples output rows [row_begin, row_end). Returns 0 (writing nothing) when the image is empty or holds
/// 2^31 - 64 bytes or more, or no output is given: the caller then samples in Swift.
int fk_affine_rgb_rows(int level, const fk_affine *p, int row_begin, int row_end);

#ifdef __cplusplus
}
#endif

#endif
