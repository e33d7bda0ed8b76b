// Registration of the CPU elementwise kernels, one function per source file;
// RegisterElementwiseKernels (elementwise.cc) calls them all.
#pragma once

#include "backend/backend.h"

namespace tensorpod::internal::elementwise {

// Add Sub Mul Div Pow Mod BitShift, comparisons, logical ops, Where, and the
// variadic Sum Max Min Mean.
void RegisterBinaryKernels(KernelRegistry* r);
// Cast CastLike Identity Dropout.
void RegisterCastKernels(KernelRegistry* r);

}  // namespace tensorpod::internal::elementwise
