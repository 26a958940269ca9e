// sgemm GFLOP/s of Debian's OpenBLAS on this CPU, single-threaded, for the square case and for shapes
// typical of Facet's layers. Run under different OPENBLAS_CORETYPE values by run.sh.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void bench(const char *label, int m, int n, int k) {
    float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n), *c = malloc(sizeof(float) * (size_t)m * n);
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)(i % 5) * 0.2f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
    double flops = 2.0 * m * n * k, best = 1e9;
    int reps = (int)(2e9 / flops) + 1;
    for (int round = 0; round < 5; round++) {
        double t = now();
        for (int r = 0; r < reps; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
        t = (now() - t) / reps;
        if (t < best) best = t;
    }
    printf("%-34s %8.1f GFLOP/s\n", label, flops / best / 1e9);
    free(a); free(b); free(c);
}

int main(void) {
    openblas_set_num_threads(1);
    printf("core: %s\n", openblas_get_corename());
    bench("square 1024", 1024, 1024, 1024);
    bench("ResNet 3x3 conv, 35x35x32 (b16)", 16 * 35 * 35, 32, 288);
    bench("ResNet 3x3 conv, 8x8x128 (b16)", 16 * 64, 128, 1152);
    bench("BlazeFace 1x1 conv, 16x16x88", 256, 88, 88);
    bench("FaceMesh 1x1 conv, 48x48x32", 2304, 32, 32);
    bench("autoencoder 5x5 conv, 32x32x128 (b64)", 64 * 1024, 128, 1600);
    return 0;
}
