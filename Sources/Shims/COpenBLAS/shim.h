#ifndef FACET_COPENBLAS_SHIM_H
#define FACET_COPENBLAS_SHIM_H
// OpenBLAS's CBLAS interface. Imported by the Tensor module only.
#include <cblas.h>
#endif
