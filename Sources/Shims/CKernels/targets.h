// Private to CKernels' C files: the instruction-set targets each kernel is compiled for (one binary carries the
// AVX2 and the AVX-512 twin of a kernel; the caller picks by fk_cpu_level()) and helpers they share.
#ifndef FK_TARGETS_H
#define FK_TARGETS_H

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define FK_X86 1
#endif

#define T512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,avx")))
#define T256 __attribute__((target("avx2,fma,avx")))

#if FK_X86
// An AVX2 mask of the first `count` of 8 lanes (all for count >= 8, none for count <= 0).
T256 static inline __m256i lanes_below(int count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

#endif
