#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/nn_kernels.h"

namespace tensorpod::internal {

void RegisterNnKernels(KernelRegistry* r) {
  r->Add("MatMul", MakeMatMulKernel);
  r->Add("tp.FusedMatMul", MakeFusedMatMulKernel);
  r->Add("Gemm", MakeGemmKernel);
  r->Add("Conv", MakeConvKernel);
  r->Add("tp.FusedConv", MakeConvKernel);
  r->Add("tp.ToPlain", MakeToPlainKernel);
  r->Add("MaxPool", MakeMaxPoolKernel);
  r->Add("AveragePool", MakeAveragePoolKernel);
  r->Add("GlobalAveragePool", MakeGlobalAveragePoolKernel);
  r->Add("GlobalMaxPool", MakeGlobalMaxPoolKernel);
  r->Add("BatchNormalization", MakeBatchNormKernel);
  r->Add("Softmax", MakeSoftmaxKernel);
  r->Add("LogSoftmax", MakeLogSoftmaxKernel);
  r->Add("LayerNormalization", MakeLayerNormKernel);
  r->Add("tp.Attention", MakeAttentionKernel);
}

}  // namespace tensorpod::internal
