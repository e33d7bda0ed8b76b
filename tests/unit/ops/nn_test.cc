// Tests of the nn ops (src/ops/nn.cc, src/backends/cpu/nn*.cc, conv.cc,
// gemm.cc): values against hand-computed results or naive reference loops
// written here, fused activations, concurrent Computes on one kernel, and
// the INVALID_ARGUMENT errors for bad inputs.
#include <gtest/gtest.h>

#include "backends/cpu/eval_node.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "ops/op_schema.h"
#include "unit/ops/op_test_util.h"

namespace tensorpod::internal {
namespace {

Tensor F32(const Shape& shape, const std::vector<float>& v) { return Make<float>(shape, v); }

// Deterministic values in [-1, 1).
std::vector<float> RandomValues(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

Tensor RandomF32(const Shape& shape, uint32_t seed) {
  return F32(shape, RandomValues(NumElementsUnchecked(shape), seed));
}

// Scratch memory for kernels run outside EvaluateNodeOnCpu.
// One kernel built once (weights not constant unless given), run many times,
// as the runtime does.
class KernelUnderTest {
 public:
  KernelUnderTest(std::string op, Attributes attrs, int num_inputs,
                  std::vector<const Tensor*> constants = {})
      : op_(std::move(op)), attrs_(std::move(attrs)) {
    NodeDef def;
    def.op_type = op_;
    def.name = "k1";
    def.opset = 17;
    def.attrs = &attrs_;
    def.input_dtypes.assign(num_inputs, DType::kF32);
    constants.resize(num_inputs, nullptr);
    def.constant_inputs = constants;
    auto k = CpuBackend::Get().CreateKernel(def);
    EXPECT_TRUE(k.ok()) << k.status();
    if (k.ok()) kernel_ = std::move(k).value();
  }

  StatusOr<Tensor> Run(const std::vector<const Tensor*>& inputs, int threads = 1) const {
    std::vector<InferInput> infer;
    for (const Tensor* t : inputs) infer.push_back(InferInput{t != nullptr, t ? t->dtype() : DType::kUndefined, t ? t->shape() : Shape{}, nullptr});
    InferContext ictx(attrs_, 17, "k1", std::move(infer), 1);
    TP_RETURN_IF_ERROR(SchemaRegistry::Global().Find(op_)->infer(ictx));
    TP_ASSIGN_OR_RETURN(Tensor out, Tensor::Empty(ictx.output_dtype(0), ictx.output_shape(0)));
    HeapScratch scratch;
    KernelContext ctx;
    ctx.inputs = inputs;
    ctx.outputs = {&out};
    ctx.threads = threads;
    ctx.scratch = &scratch;
    TP_RETURN_IF_ERROR(kernel_->Compute(ctx));
    return out;
  }

 private:
  std::string op_;
  Attributes attrs_;
  std::unique_ptr<Kernel> kernel_;
};

// ---------------------------------------------------------------- MatMul

// Naive [m,k] x [k,n].
std::vector<float> NaiveMatMul(const float* a, const float* b, int64_t m, int64_t n, int64_t k) {
  std::vector<float> c(m * n, 0.0f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += static_cast<double>(a[i * k + p]) * b[p * n + j];
      c[i * n + j] = static_cast<float>(s);
    }
  return c;
}

TEST(NnMatMulTest, TwoByTwo) {
  Tensor a = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = F32({3, 2}, {7, 8, 9, 10, 11, 12});
  Tensor y = OpNode{"MatMul", {&a, &b}}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{58, 64, 139, 154}));
}

TEST(NnMatMulTest, OneDimensionalOperandsArePromotedAndDropped) {
  Tensor v = F32({3}, {1, 2, 3});
  Tensor m = F32({3, 2}, {1, 0, 0, 1, 1, 1});
  Tensor vm = OpNode{"MatMul", {&v, &m}}.Out();
  EXPECT_EQ(vm.shape(), (Shape{2}));
  EXPECT_EQ(Values<float>(vm), (std::vector<float>{4, 5}));
  Tensor mt = F32({2, 3}, {1, 0, 1, 0, 1, 1});
  Tensor mv = OpNode{"MatMul", {&mt, &v}}.Out();
  EXPECT_EQ(mv.shape(), (Shape{2}));
  EXPECT_EQ(Values<float>(mv), (std::vector<float>{4, 5}));
  Tensor dot = OpNode{"MatMul", {&v, &v}}.Out();
  EXPECT_EQ(dot.shape(), (Shape{}));
  EXPECT_EQ(Values<float>(dot), (std::vector<float>{14}));
}

TEST(NnMatMulTest, BatchBroadcastMatchesNaive) {
  // A [2,1,3,4] x B [3,4,5] -> [2,3,3,5]: A broadcast over B's batch of 3.
  Tensor a = RandomF32({2, 1, 3, 4}, 1);
  Tensor b = RandomF32({3, 4, 5}, 2);
  for (int threads : {1, 3}) {
    OpNode n{"MatMul", {&a, &b}};
    n.threads = threads;
    Tensor y = n.Out();
    ASSERT_EQ(y.shape(), (Shape{2, 3, 3, 5}));
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) {
        auto want = NaiveMatMul(a.data<float>() + i * 12, b.data<float>() + j * 20, 3, 5, 4);
        std::vector<float> got(y.data<float>() + (i * 3 + j) * 15,
                               y.data<float>() + (i * 3 + j + 1) * 15);
        ExpectNear(got, want, 1e-4f);
      }
  }
}

TEST(NnMatMulTest, SharedRightOperandFoldsBatch) {
  Tensor a = RandomF32({4, 3, 6}, 3);
  Tensor b = RandomF32({6, 5}, 4);
  OpNode n{"MatMul", {&a, &b}};
  n.threads = 2;
  Tensor y = n.Out();
  ASSERT_EQ(y.shape(), (Shape{4, 3, 5}));
  ExpectNear(Values<float>(y), NaiveMatMul(a.data<float>(), b.data<float>(), 12, 5, 6), 1e-4f);
}

TEST(NnMatMulTest, DoubleAndInt64) {
  Tensor a = Make<double>({2, 2}, {1, 2, 3, 4});
  Tensor b = Make<double>({2, 2}, {5, 6, 7, 8});
  EXPECT_EQ(Values<double>(OpNode{"MatMul", {&a, &b}}.Out()), (std::vector<double>{19, 22, 43, 50}));
  Tensor ai = Make<int64_t>({1, 2, 2}, {1, 2, 3, 4});
  Tensor bi = Make<int64_t>({2, 1}, {-1, 1});
  EXPECT_EQ(Values<int64_t>(OpNode{"MatMul", {&ai, &bi}}.Out()), (std::vector<int64_t>{1, 1}));
}

TEST(NnMatMulTest, BadShapesAreInvalidArgument) {
  Tensor a = F32({2, 3}, std::vector<float>(6, 1));
  Tensor b = F32({4, 2}, std::vector<float>(8, 1));
  EXPECT_EQ((OpNode{"MatMul", {&a, &b}}.Code()), StatusCode::kInvalidArgument);
  Tensor s = F32({}, {1});
  EXPECT_EQ((OpNode{"MatMul", {&s, &a}}.Code()), StatusCode::kInvalidArgument);
  Tensor a3 = F32({2, 2, 3}, std::vector<float>(12, 1));
  Tensor b3 = F32({3, 3, 1}, std::vector<float>(9, 1));
  EXPECT_EQ((OpNode{"MatMul", {&a3, &b3}}.Code()), StatusCode::kInvalidArgument);
  Tensor d = Make<double>({3, 2}, std::vector<double>(6, 1));
  EXPECT_EQ((OpNode{"MatMul", {&a, &d}}.Code()), StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------------ Gemm

TEST(NnGemmTest, AlphaBetaAndBroadcastC) {
  Tensor a = F32({2, 2}, {1, 2, 3, 4});
  Tensor b = F32({2, 2}, {5, 6, 7, 8});
  Tensor c = F32({2}, {1, -1});
  OpNode n{"Gemm", {&a, &b, &c}};
  n.attrs.Set("alpha", 0.5f);
  n.attrs.Set("beta", 2.0f);
  // 0.5 * [[19,22],[43,50]] + 2 * [1,-1]
  EXPECT_EQ(Values<float>(n.Out()), (std::vector<float>{11.5f, 9, 23.5f, 23}));
  Tensor col = F32({2, 1}, {10, 20});
  OpNode n2{"Gemm", {&a, &b, &col}};
  EXPECT_EQ(Values<float>(n2.Out()), (std::vector<float>{29, 32, 63, 70}));
  Tensor scalar = F32({}, {1});
  OpNode n3{"Gemm", {&a, &b, &scalar}};
  EXPECT_EQ(Values<float>(n3.Out()), (std::vector<float>{20, 23, 44, 51}));
}

TEST(NnGemmTest, Transposes) {
  Tensor a = F32({3, 2}, {1, 4, 2, 5, 3, 6});  // A^T = [[1,2,3],[4,5,6]]
  Tensor b = F32({2, 3}, {7, 9, 11, 8, 10, 12});  // B^T = [[7,8],[9,10],[11,12]]
  OpNode n{"Gemm", {&a, &b}};
  n.attrs.Set("transA", int64_t{1});
  n.attrs.Set("transB", int64_t{1});
  Tensor y = n.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{58, 64, 139, 154}));
  Tensor ad = Make<double>({3, 2}, {1, 4, 2, 5, 3, 6});
  Tensor bd = Make<double>({3, 2}, {7, 8, 9, 10, 11, 12});
  Tensor cd = Make<double>({1, 2}, {1, 1});
  OpNode nd{"Gemm", {&ad, &bd, &cd}};
  nd.attrs.Set("transA", int64_t{1});
  EXPECT_EQ(Values<double>(nd.Out()), (std::vector<double>{59, 65, 140, 155}));
}

TEST(NnGemmTest, BadShapesAreInvalidArgument) {
  Tensor a = F32({2, 3}, std::vector<float>(6, 1));
  Tensor b = F32({3, 4}, std::vector<float>(12, 1));
  Tensor bad_c = F32({3}, {1, 2, 3});
  EXPECT_EQ((OpNode{"Gemm", {&a, &b, &bad_c}}.Code()), StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Gemm", {&b, &a}}.Code()), StatusCode::kInvalidArgument);
  Tensor v = F32({3}, {1, 2, 3});
  EXPECT_EQ((OpNode{"Gemm", {&v, &b}}.Code()), StatusCode::kInvalidArgument);
}

// --------------------------------------------------- fused activations

float Activate(const std::string& kind, float v) {
  if (kind == "Relu") return std::max(v, 0.0f);
  if (kind == "LeakyRelu") return v < 0 ? 0.2f * v : v;
  if (kind == "Sigmoid") return 1.0f / (1.0f + std::exp(-v));
  if (kind == "Tanh") return std::tanh(v);
  if (kind == "Gelu") return 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f)));
  if (kind == "Clip") return std::min(std::max(v, -0.25f), 0.5f);
  return v;
}

void SetActivation(Attributes* attrs, const std::string& kind) {
  attrs->Set("tp_activation", kind);
  attrs->Set("tp_alpha", 0.2f);
  attrs->Set("tp_clip_min", -0.25f);
  attrs->Set("tp_clip_max", 0.5f);
}

const char* const kActivations[] = {"", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Clip"};

TEST(NnFusedMatMulTest, BiasAndActivations) {
  Tensor a = RandomF32({2, 3, 8}, 5);
  Tensor b = RandomF32({8, 6}, 6);
  Tensor bias = RandomF32({6}, 7);
  const auto prod = NaiveMatMul(a.data<float>(), b.data<float>(), 6, 6, 8);
  for (const char* kind : kActivations) {
    OpNode n{"tp.FusedMatMul", {&a, &b, &bias}};
    SetActivation(&n.attrs, kind);
    n.threads = 2;
    Tensor y = n.Out();
    ASSERT_EQ(y.shape(), (Shape{2, 3, 6}));
    std::vector<float> want(prod.size());
    for (size_t i = 0; i < want.size(); ++i) want[i] = Activate(kind, prod[i] + bias.data<float>()[i % 6]);
    ExpectNear(Values<float>(y), want, 1e-4f);
  }
}

TEST(NnFusedMatMulTest, GemmHonoursActivation) {
  Tensor a = F32({1, 2}, {1, -2});
  Tensor b = F32({2, 2}, {1, 0, 0, 1});
  OpNode n{"Gemm", {&a, &b}};
  SetActivation(&n.attrs, "Relu");
  EXPECT_EQ(Values<float>(n.Out()), (std::vector<float>{1, 0}));
}

TEST(NnFusedMatMulTest, BadBiasAndActivation) {
  Tensor a = F32({2, 3}, std::vector<float>(6, 1));
  Tensor b = F32({3, 4}, std::vector<float>(12, 1));
  Tensor bias = F32({3}, {1, 2, 3});
  EXPECT_EQ((OpNode{"tp.FusedMatMul", {&a, &b, &bias}}.Code()), StatusCode::kInvalidArgument);
  OpNode n{"tp.FusedMatMul", {&a, &b}};
  n.attrs.Set("tp_activation", std::string("Swish"));
  EXPECT_EQ(n.Code(), StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------------ Conv

struct ConvCase {
  Shape x;  // N, C, spatial...
  int64_t m;
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begins then ends
  int64_t group = 1;
  bool bias = true;
};

// Naive N-d (1 to 3 spatial dims) convolution over explicit pads.
std::vector<float> NaiveConv(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor* b,
                             Shape* out_shape) {
  const size_t s = c.kernel.size();
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, di[3] = {1, 1, 1},
          pb[3] = {0, 0, 0}, out[3] = {1, 1, 1};
  *out_shape = {c.x[0], c.m};
  for (size_t i = 0; i < s; ++i) {
    const size_t d = 3 - s + i;
    in[d] = c.x[2 + i];
    k[d] = c.kernel[i];
    st[d] = c.strides[i];
    di[d] = c.dilations[i];
    pb[d] = c.pads[i];
    out[d] = (in[d] + c.pads[i] + c.pads[i + s] - (k[d] - 1) * di[d] - 1) / st[d] + 1;
    out_shape->push_back(out[d]);
  }
  const int64_t n = c.x[0], ch = c.x[1], cg = ch / c.group, mg = c.m / c.group;
  std::vector<float> y;
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t oc = 0; oc < c.m; ++oc)
      for (int64_t o0 = 0; o0 < out[0]; ++o0)
        for (int64_t o1 = 0; o1 < out[1]; ++o1)
          for (int64_t o2 = 0; o2 < out[2]; ++o2) {
            double sum = b ? b->data<float>()[oc] : 0.0;
            const int64_t g = oc / mg;
            for (int64_t ic = 0; ic < cg; ++ic)
              for (int64_t k0 = 0; k0 < k[0]; ++k0)
                for (int64_t k1 = 0; k1 < k[1]; ++k1)
                  for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                    const int64_t i0 = o0 * st[0] - pb[0] + k0 * di[0];
                    const int64_t i1 = o1 * st[1] - pb[1] + k1 * di[1];
                    const int64_t i2 = o2 * st[2] - pb[2] + k2 * di[2];
                    if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2])
                      continue;
                    const int64_t xi =
                        (((b0 * ch + g * cg + ic) * in[0] + i0) * in[1] + i1) * in[2] + i2;
                    const int64_t wi = (((oc * cg + ic) * k[0] + k0) * k[1] + k1) * k[2] + k2;
                    sum += static_cast<double>(x.data<float>()[xi]) * w.data<float>()[wi];
                  }
            y.push_back(static_cast<float>(sum));
          }
  return y;
}

Attributes ConvAttrs(const ConvCase& c) {
  Attributes a;
  a.Set("strides", c.strides);
  a.Set("dilations", c.dilations);
  a.Set("pads", c.pads);
  a.Set("group", c.group);
  return a;
}

Shape WeightShape(const ConvCase& c) {
  Shape w = {c.m, c.x[1] / c.group};
  w.insert(w.end(), c.kernel.begin(), c.kernel.end());
  return w;
}

TEST(NnConvTest, BasicWithPaddingHandChecked) {
  std::vector<float> xv(25);
  for (int i = 0; i < 25; ++i) xv[i] = static_cast<float>(i);
  Tensor x = F32({1, 1, 5, 5}, xv);
  Tensor w = F32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  OpNode n{"Conv", {&x, &w}};
  n.attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
  n.attrs.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  Tensor y = n.Out();
  EXPECT_EQ(y.shape(), (Shape{1, 1, 5, 5}));
  EXPECT_EQ(Values<float>(y),
            (std::vector<float>{12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                                93, 144, 153, 162, 111, 72, 111, 117, 123, 84}));
}

TEST(NnConvTest, MatchesNaiveReference) {
  const std::vector<ConvCase> cases = {
      {{2, 4, 7, 6}, 6, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 2, true},        // groups
      {{1, 6, 8, 8}, 6, {3, 3}, {2, 1}, {1, 1}, {1, 0, 2, 1}, 6, true},        // depthwise, asym
      {{1, 3, 9, 9}, 5, {3, 2}, {1, 2}, {2, 3}, {2, 1, 0, 3}, 1, false},       // dilation
      {{2, 2, 11}, 4, {3}, {2}, {1}, {1, 1}, 1, true},                         // 1-D
      {{1, 2, 5, 4, 6}, 3, {2, 3, 2}, {1, 2, 1}, {1, 1, 2}, {0, 1, 1, 1, 0, 0}, 1, true},  // 3-D
      {{1, 16, 14, 14}, 32, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1, true},    // pointwise
      {{1, 8, 10, 10}, 8, {5, 5}, {2, 2}, {1, 1}, {2, 2, 2, 2}, 4, true},
  };
  uint32_t seed = 10;
  for (const ConvCase& c : cases) {
    Tensor x = RandomF32(c.x, seed++);
    Tensor w = RandomF32(WeightShape(c), seed++);
    Tensor b = RandomF32({c.m}, seed++);
    OpNode n{"Conv", {&x, &w}};
    if (c.bias) n.inputs.push_back(&b);
    n.attrs = ConvAttrs(c);
    n.threads = 2;
    Shape want_shape;
    const auto want = NaiveConv(c, x, w, c.bias ? &b : nullptr, &want_shape);
    Tensor y = n.Out();
    ASSERT_EQ(y.shape(), want_shape) << ShapeToString(c.x);
    ExpectNear(Values<float>(y), want, 1e-4f);
  }
}

TEST(NnConvTest, AutoPadShapes) {
  Tensor x = RandomF32({1, 1, 5, 5}, 20);
  Tensor w = RandomF32({1, 1, 3, 3}, 21);
  OpNode n{"Conv", {&x, &w}};
  n.attrs.Set("strides", std::vector<int64_t>{2, 2});
  n.attrs.Set("auto_pad", std::string("SAME_LOWER"));
  Tensor same = n.Out();
  EXPECT_EQ(same.shape(), (Shape{1, 1, 3, 3}));
  // SAME with stride 2 on 5 needs 2 pads in total: one on each side, so
  // the result matches explicit pads 1,1,1,1.
  ConvCase c{{1, 1, 5, 5}, 1, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 1, false};
  Shape s;
  ExpectNear(Values<float>(same), NaiveConv(c, x, w, nullptr, &s), 1e-4f);
  n.attrs.Set("auto_pad", std::string("VALID"));
  EXPECT_EQ(n.Out().shape(), (Shape{1, 1, 2, 2}));
  // SAME_UPPER on 4 with stride 1 and kernel 2: the single pad goes last.
  Tensor x4 = RandomF32({1, 1, 4, 4}, 22);
  Tensor w2 = RandomF32({1, 1, 2, 2}, 23);
  OpNode up{"Conv", {&x4, &w2}};
  up.attrs.Set("auto_pad", std::string("SAME_UPPER"));
  ConvCase cu{{1, 1, 4, 4}, 1, {2, 2}, {1, 1}, {1, 1}, {0, 0, 1, 1}, 1, false};
  Tensor yu = up.Out();
  ASSERT_EQ(yu.shape(), (Shape{1, 1, 4, 4}));
  ExpectNear(Values<float>(yu), NaiveConv(cu, x4, w2, nullptr, &s), 1e-4f);
}

TEST(NnConvTest, FusedActivations) {
  ConvCase c{{1, 4, 6, 6}, 4, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 2, true};
  Tensor x = RandomF32(c.x, 30);
  Tensor w = RandomF32(WeightShape(c), 31);
  Tensor b = RandomF32({c.m}, 32);
  Shape s;
  const auto plain = NaiveConv(c, x, w, &b, &s);
  for (const char* kind : kActivations) {
    OpNode n{"Conv", {&x, &w, &b}};
    n.attrs = ConvAttrs(c);
    SetActivation(&n.attrs, kind);
    std::vector<float> want(plain.size());
    for (size_t i = 0; i < want.size(); ++i) want[i] = Activate(kind, plain[i]);
    ExpectNear(Values<float>(n.Out()), want, 1e-4f);
  }
}

TEST(NnConvTest, NonConstantAndConstantWeightsAgree) {
  ConvCase c{{1, 8, 9, 9}, 16, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, true};
  Tensor x = RandomF32(c.x, 40);
  Tensor w = RandomF32(WeightShape(c), 41);
  Tensor b = RandomF32({c.m}, 42);
  Shape s;
  const auto want = NaiveConv(c, x, w, &b, &s);
  KernelUnderTest dynamic("Conv", ConvAttrs(c), 3);
  KernelUnderTest constant("Conv", ConvAttrs(c), 3, {nullptr, &w, &b});
  for (int rep = 0; rep < 2; ++rep) {
    auto y1 = dynamic.Run({&x, &w, &b}, 2);
    ASSERT_TRUE(y1.ok()) << y1.status();
    ExpectNear(Values<float>(*y1), want, 1e-4f);
    auto y2 = constant.Run({&x, &w, &b}, 2);
    ASSERT_TRUE(y2.ok()) << y2.status();
    ExpectNear(Values<float>(*y2), want, 1e-4f);
  }
}

TEST(NnConvTest, ConcurrentComputeWithDifferentShapes) {
  ConvCase base{{1, 4, 0, 0}, 6, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 2, true};
  Tensor w = RandomF32(WeightShape(base), 50);
  Tensor b = RandomF32({base.m}, 51);
  for (bool constant : {false, true}) {
    std::vector<const Tensor*> consts = {nullptr};
    if (constant) consts = {nullptr, &w, &b};
    KernelUnderTest kernel("Conv", ConvAttrs(base), 3, consts);
    const std::vector<Shape> shapes = {{1, 4, 5, 5}, {2, 4, 7, 6}, {1, 4, 9, 4}, {3, 4, 6, 6}};
    std::vector<std::thread> threads;
    std::vector<int> failures(shapes.size(), 0);
    for (size_t t = 0; t < shapes.size(); ++t) {
      threads.emplace_back([&, t] {
        ConvCase c = base;
        c.x = shapes[t];
        Tensor x = RandomF32(c.x, 60 + static_cast<uint32_t>(t));
        Shape s;
        const auto want = NaiveConv(c, x, w, &b, &s);
        for (int rep = 0; rep < 20; ++rep) {
          auto y = kernel.Run({&x, &w, &b}, 1 + rep % 2);
          if (!y.ok() || y->shape() != s) {
            ++failures[t];
            continue;
          }
          for (size_t i = 0; i < want.size(); ++i) {
            if (std::fabs(y->data<float>()[i] - want[i]) > 1e-4f * std::max(1.0f, std::fabs(want[i]))) {
              ++failures[t];
              break;
            }
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    for (size_t t = 0; t < shapes.size(); ++t) {
      EXPECT_EQ(failures[t], 0) << "shape " << ShapeToString(shapes[t]) << " constant=" << constant;
    }
  }
}

TEST(NnConvTest, BadInputsAreInvalidArgument) {
  Tensor x = RandomF32({1, 4, 5, 5}, 70);
  Tensor w3 = RandomF32({2, 3, 3, 3}, 71);  // 3 input channels for a 4-channel X
  EXPECT_EQ((OpNode{"Conv", {&x, &w3}}.Code()), StatusCode::kInvalidArgument);
  Tensor w = RandomF32({2, 4, 3, 3}, 72);
  OpNode grouped{"Conv", {&x, &w}};
  grouped.attrs.Set("group", int64_t{3});  // 3 does not divide 4 channels
  EXPECT_EQ(grouped.Code(), StatusCode::kInvalidArgument);
  Tensor big = RandomF32({1, 4, 7, 7}, 73);
  OpNode too_big{"Conv", {&x, &big}};
  too_big.attrs.Set("pads", std::vector<int64_t>{0, 0, 1, 1});  // 5 + 1 < 7
  EXPECT_EQ(too_big.Code(), StatusCode::kInvalidArgument);
  OpNode wrong_kernel{"Conv", {&x, &w}};
  wrong_kernel.attrs.Set("kernel_shape", std::vector<int64_t>{5, 5});
  EXPECT_EQ(wrong_kernel.Code(), StatusCode::kInvalidArgument);
  Tensor bias = RandomF32({3}, 74);
  EXPECT_EQ((OpNode{"Conv", {&x, &w, &bias}}.Code()), StatusCode::kInvalidArgument);
  Tensor x2 = RandomF32({4, 5}, 75);
  EXPECT_EQ((OpNode{"Conv", {&x2, &w}}.Code()), StatusCode::kInvalidArgument);
  OpNode bad_strides{"Conv", {&x, &w}};
  bad_strides.attrs.Set("strides", std::vector<int64_t>{1});
  EXPECT_EQ(bad_strides.Code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------- BatchNormalization

TEST(NnBatchNormTest, HandChecked) {
  Tensor x = F32({1, 2, 1, 3}, {-1, 0, 1, 2, 3, 4});
  Tensor s = F32({2}, {1, 1.5f});
  Tensor b = F32({2}, {0, 1});
  Tensor mean = F32({2}, {0, 3});
  Tensor var = F32({2}, {1, 1.5f});
  OpNode n{"BatchNormalization", {&x, &s, &b, &mean, &var}};
  n.opset = 15;
  ExpectNear(Values<float>(n.Out()),
             {-0.999995f, 0, 0.999995f, -0.22474074f, 1.0f, 2.2247407f}, 1e-5f);
  Tensor xd = Make<double>({2, 2}, {1, 2, 3, 4});
  OpNode nd{"BatchNormalization", {&xd, &s, &b, &mean, &var}};
  nd.attrs.Set("epsilon", 0.0f);
  const auto y = Values<double>(nd.Out());
  EXPECT_NEAR(y[1], 1.5 * (2 - 3) / std::sqrt(1.5) + 1, 1e-6);
  EXPECT_NEAR(y[2], 3, 1e-6);
}

TEST(NnBatchNormTest, NonSpatialOldOpset) {
  // Opset 7 spatial=0: one set of statistics per (channel, position).
  Tensor x = F32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor s = F32({2, 2}, {1, 2, 3, 4});
  Tensor zero = F32({2, 2}, {0, 0, 0, 0});
  Tensor one = F32({2, 2}, {1, 1, 1, 1});
  OpNode n{"BatchNormalization", {&x, &s, &zero, &zero, &one}};
  n.opset = 7;
  n.attrs.Set("spatial", int64_t{0});
  n.attrs.Set("epsilon", 0.0f);
  EXPECT_EQ(Values<float>(n.Out()), (std::vector<float>{1, 4, 9, 16, 5, 12, 21, 32}));
}

TEST(NnBatchNormTest, TrainingIsUnimplementedAndBadShapesInvalid) {
  Tensor x = RandomF32({2, 3, 2, 2}, 80);
  Tensor p = F32({3}, {1, 1, 1});
  OpNode train{"BatchNormalization", {&x, &p, &p, &p, &p}};
  train.attrs.Set("training_mode", int64_t{1});
  train.num_outputs = 3;
  EXPECT_EQ(train.Code(), StatusCode::kUnimplemented);
  Tensor p2 = F32({2}, {1, 1});
  EXPECT_EQ((OpNode{"BatchNormalization", {&x, &p2, &p, &p, &p}}.Code()),
            StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------- pooling

Tensor Iota25() {
  std::vector<float> v(25);
  for (int i = 0; i < 25; ++i) v[i] = static_cast<float>(i + 1);
  return F32({1, 1, 5, 5}, v);
}

TEST(NnPoolTest, MaxPoolPadsWithIndices) {
  Tensor x = Iota25();
  OpNode n{"MaxPool", {&x}};
  n.attrs.Set("kernel_shape", std::vector<int64_t>{5, 5});
  n.attrs.Set("pads", std::vector<int64_t>{2, 2, 2, 2});
  n.num_outputs = 2;
  auto r = n.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<float>((*r)[0]),
            (std::vector<float>{13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25, 25, 25,
                                23, 24, 25, 25, 25, 23, 24, 25, 25, 25}));
  EXPECT_EQ(Values<int64_t>((*r)[1]),
            (std::vector<int64_t>{12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24, 24, 24,
                                  22, 23, 24, 24, 24, 22, 23, 24, 24, 24}));
}

TEST(NnPoolTest, MaxPoolColumnMajorIndices) {
  Tensor x = Iota25();
  OpNode n{"MaxPool", {&x}};
  n.attrs.Set("kernel_shape", std::vector<int64_t>{2, 2});
  n.attrs.Set("strides", std::vector<int64_t>{2, 2});
  n.attrs.Set("storage_order", int64_t{1});
  n.num_outputs = 2;
  auto r = n.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{7, 9, 17, 19}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{6, 16, 8, 18}));
}

TEST(NnPoolTest, MaxPoolCeilDilationsAndUint8) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i + 1);
  Tensor x = F32({1, 1, 4, 4}, v);
  OpNode ceil{"MaxPool", {&x}};
  ceil.attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
  ceil.attrs.Set("strides", std::vector<int64_t>{2, 2});
  ceil.attrs.Set("ceil_mode", int64_t{1});
  EXPECT_EQ(Values<float>(ceil.Out()), (std::vector<float>{11, 12, 15, 16}));
  OpNode dil{"MaxPool", {&x}};
  dil.attrs.Set("kernel_shape", std::vector<int64_t>{2, 2});
  dil.attrs.Set("dilations", std::vector<int64_t>{2, 2});
  EXPECT_EQ(Values<float>(dil.Out()), (std::vector<float>{11, 12, 15, 16}));
  Tensor u = Make<uint8_t>({1, 1, 1, 4}, {3, 250, 7, 1});
  OpNode nu{"MaxPool", {&u}};
  nu.attrs.Set("kernel_shape", std::vector<int64_t>{1, 2});
  EXPECT_EQ(Values<uint8_t>(nu.Out()), (std::vector<uint8_t>{250, 250, 7}));
}

TEST(NnPoolTest, MaxPool1dAnd3d) {
  Tensor x1 = F32({1, 1, 5}, {1, 5, 2, 4, 3});
  OpNode n1{"MaxPool", {&x1}};
  n1.attrs.Set("kernel_shape", std::vector<int64_t>{2});
  EXPECT_EQ(Values<float>(n1.Out()), (std::vector<float>{5, 5, 4, 4}));
  std::vector<float> v(27);
  for (int i = 0; i < 27; ++i) v[i] = static_cast<float>(i);
  Tensor x3 = F32({1, 1, 3, 3, 3}, v);
  OpNode n3{"MaxPool", {&x3}};
  n3.attrs.Set("kernel_shape", std::vector<int64_t>{2, 2, 2});
  EXPECT_EQ(Values<float>(n3.Out()), (std::vector<float>{13, 14, 16, 17, 22, 23, 25, 26}));
}

TEST(NnPoolTest, AveragePoolCountIncludePad) {
  Tensor x = Iota25();
  OpNode n{"AveragePool", {&x}};
  n.attrs.Set("kernel_shape", std::vector<int64_t>{5, 5});
  n.attrs.Set("pads", std::vector<int64_t>{2, 2, 2, 2});
  Tensor y = n.Out();
  EXPECT_FLOAT_EQ(y.data<float>()[0], 7.0f);             // (1+2+3+6+7+8+11+12+13) / 9
  EXPECT_FLOAT_EQ(y.data<float>()[12], 13.0f);           // the full centre window
  n.attrs.Set("count_include_pad", int64_t{1});
  Tensor yi = n.Out();
  EXPECT_FLOAT_EQ(yi.data<float>()[0], 63.0f / 25.0f);
  EXPECT_FLOAT_EQ(yi.data<float>()[12], 13.0f);
}

TEST(NnPoolTest, AveragePoolSameUpperAndCeil) {
  Tensor x = Iota25();
  OpNode n{"AveragePool", {&x}};
  n.attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
  n.attrs.Set("strides", std::vector<int64_t>{2, 2});
  n.attrs.Set("auto_pad", std::string("SAME_UPPER"));
  Tensor y = n.Out();
  ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  // Pads 1,1 on each axis; padding is not counted.
  EXPECT_EQ(Values<float>(y), (std::vector<float>{4, 5.5f, 7, 11.5f, 13, 14.5f, 19, 20.5f, 22}));
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i + 1);
  Tensor x4 = F32({1, 1, 4, 4}, v);
  OpNode ceil{"AveragePool", {&x4}};
  ceil.attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
  ceil.attrs.Set("strides", std::vector<int64_t>{2, 2});
  ceil.attrs.Set("ceil_mode", int64_t{1});
  EXPECT_EQ(Values<float>(ceil.Out()), (std::vector<float>{6, 7.5f, 12, 13.5f}));
}

struct PoolCase {
  Shape x;
  std::vector<int64_t> kernel, strides, dilations, pads;
  bool ceil = false;
  bool include_pad = false;
};

// Naive 1- to 3-D pooling over explicit pads, ONNX semantics: windows are
// clipped to the input; with count_include_pad they count the taps inside
// the declared pads only.
std::vector<double> NaivePool(const PoolCase& c, const std::vector<double>& x, bool max,
                              Shape* out_shape) {
  const size_t s = c.kernel.size();
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, di[3] = {1, 1, 1},
          pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
  *out_shape = {c.x[0], c.x[1]};
  for (size_t i = 0; i < s; ++i) {
    const size_t d = 3 - s + i;
    in[d] = c.x[2 + i];
    k[d] = c.kernel[i];
    st[d] = c.strides[i];
    di[d] = c.dilations[i];
    pb[d] = c.pads[i];
    pe[d] = c.pads[i + s];
    const int64_t span = in[d] + pb[d] + pe[d] - (k[d] - 1) * di[d] - 1;
    out[d] = (c.ceil ? (span + st[d] - 1) / st[d] : span / st[d]) + 1;
    if (c.ceil && (out[d] - 1) * st[d] >= in[d] + pb[d]) --out[d];
    out_shape->push_back(out[d]);
  }
  std::vector<double> y;
  for (int64_t p = 0; p < c.x[0] * c.x[1]; ++p)
    for (int64_t o0 = 0; o0 < out[0]; ++o0)
      for (int64_t o1 = 0; o1 < out[1]; ++o1)
        for (int64_t o2 = 0; o2 < out[2]; ++o2) {
          double acc = max ? -1e300 : 0;
          int64_t valid = 0, padded = 0;
          for (int64_t k0 = 0; k0 < k[0]; ++k0)
            for (int64_t k1 = 0; k1 < k[1]; ++k1)
              for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                const int64_t i[3] = {o0 * st[0] - pb[0] + k0 * di[0],
                                      o1 * st[1] - pb[1] + k1 * di[1],
                                      o2 * st[2] - pb[2] + k2 * di[2]};
                bool inside = true, in_pads = true;
                for (int d = 0; d < 3; ++d) {
                  inside = inside && i[d] >= 0 && i[d] < in[d];
                  in_pads = in_pads && i[d] < in[d] + pe[d];
                }
                padded += in_pads;
                if (!inside) continue;
                ++valid;
                const double v = x[((p * in[0] + i[0]) * in[1] + i[1]) * in[2] + i[2]];
                acc = max ? std::max(acc, v) : acc + v;
              }
          y.push_back(max ? acc : acc / (c.include_pad ? padded : valid));
        }
  return y;
}

TEST(NnPoolTest, MatchNaiveReferenceOnBothPaths) {
  // float32 runs oneDNN's pooling, float64 tensorpod's loops (see Note
  // [Pooling paths]); both must agree with the reference.
  const std::vector<PoolCase> cases = {
      {{2, 3, 9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}},
      {{1, 2, 40, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, false, true},
      {{1, 2, 40, 37}, {2, 3}, {2, 1}, {2, 2}, {0, 1, 1, 0}},
      {{1, 2, 11, 11}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 0, 0}, true, false},
      {{1, 2, 11, 11}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, true},  // ceil + include_pad
      {{2, 2, 50}, {4}, {3}, {1}, {2, 1}, true, true},
      {{1, 2, 6, 7, 20}, {2, 3, 3}, {1, 2, 1}, {1, 1, 1}, {0, 1, 1, 1, 0, 1}},
  };
  uint32_t seed = 200;
  for (const PoolCase& c : cases) {
    const std::vector<float> xf = RandomValues(NumElementsUnchecked(c.x), seed++);
    const std::vector<double> xd(xf.begin(), xf.end());
    Tensor tf = F32(c.x, xf);
    Tensor td = Make<double>(c.x, xd);
    const bool dilated =
        std::any_of(c.dilations.begin(), c.dilations.end(), [](int64_t d) { return d != 1; });
    for (bool max : {true, false}) {
      if (!max && dilated) continue;  // AveragePool has no dilations before opset 19
      Shape want_shape;
      const auto want = NaivePool(c, xd, max, &want_shape);
      for (const Tensor* t : {&tf, &td}) {
        OpNode n{max ? "MaxPool" : "AveragePool", {t}};
        n.attrs.Set("kernel_shape", c.kernel);
        n.attrs.Set("strides", c.strides);
        n.attrs.Set("pads", c.pads);
        n.attrs.Set("ceil_mode", int64_t{c.ceil});
        if (max) n.attrs.Set("dilations", c.dilations);
        if (!max) n.attrs.Set("count_include_pad", int64_t{c.include_pad});
        n.threads = 2;
        Tensor y = n.Out();
        ASSERT_EQ(y.shape(), want_shape) << ShapeToString(c.x);
        for (size_t i = 0; i < want.size(); ++i) {
          const double got = t->dtype() == DType::kF32 ? y.data<float>()[i] : y.data<double>()[i];
          ASSERT_NEAR(got, want[i], 1e-5) << n.op << " " << DTypeName(t->dtype()) << " input "
                                          << ShapeToString(c.x) << " at " << i;
        }
      }
    }
    // int8 MaxPool (tensorpod's loops, vectorised interior).
    std::vector<int8_t> xi(xf.size());
    std::vector<double> xid(xf.size());
    for (size_t i = 0; i < xf.size(); ++i) {
      xi[i] = static_cast<int8_t>(std::lround(xf[i] * 127));
      xid[i] = xi[i];
    }
    Tensor ti = Make<int8_t>(c.x, xi);
    OpNode n{"MaxPool", {&ti}};
    n.attrs.Set("kernel_shape", c.kernel);
    n.attrs.Set("strides", c.strides);
    n.attrs.Set("pads", c.pads);
    n.attrs.Set("dilations", c.dilations);
    n.attrs.Set("ceil_mode", int64_t{c.ceil});
    Shape want_shape;
    const auto want = NaivePool(c, xid, /*max=*/true, &want_shape);
    Tensor y = n.Out();
    ASSERT_EQ(y.shape(), want_shape);
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(y.data<int8_t>()[i], static_cast<int8_t>(want[i])) << "int8 at " << i;
    }
  }
}

TEST(NnPoolTest, ConcurrentComputeWithDifferentShapes) {
  Attributes attrs;
  attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
  attrs.Set("strides", std::vector<int64_t>{2, 2});
  attrs.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  for (bool max : {true, false}) {
    KernelUnderTest kernel(max ? "MaxPool" : "AveragePool", attrs, 1);
    const std::vector<Shape> shapes = {{1, 3, 20, 20}, {2, 2, 33, 17}, {1, 4, 9, 40}, {3, 1, 16, 16}};
    std::vector<int> failures(shapes.size(), 0);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < shapes.size(); ++t) {
      threads.emplace_back([&, t] {
        PoolCase c{shapes[t], {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}};
        const std::vector<float> xf = RandomValues(NumElementsUnchecked(c.x), 300 + t);
        Tensor x = F32(c.x, xf);
        Shape s;
        const auto want = NaivePool(c, std::vector<double>(xf.begin(), xf.end()), max, &s);
        for (int rep = 0; rep < 20; ++rep) {
          auto y = kernel.Run({&x}, 1 + rep % 2);
          bool ok = y.ok() && y->shape() == s;
          for (size_t i = 0; ok && i < want.size(); ++i) {
            ok = std::fabs(y->data<float>()[i] - want[i]) <= 1e-5;
          }
          failures[t] += !ok;
        }
      });
    }
    for (auto& th : threads) th.join();
    for (size_t t = 0; t < shapes.size(); ++t) {
      EXPECT_EQ(failures[t], 0) << "shape " << ShapeToString(shapes[t]) << " max=" << max;
    }
  }
}

TEST(NnPoolTest, GlobalPools) {
  Tensor x = F32({1, 2, 2, 2}, {1, 2, 3, 4, -5, -6, -7, -8});
  Tensor avg = OpNode{"GlobalAveragePool", {&x}}.Out();
  EXPECT_EQ(avg.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(Values<float>(avg), (std::vector<float>{2.5f, -6.5f}));
  EXPECT_EQ(Values<float>(OpNode{"GlobalMaxPool", {&x}}.Out()), (std::vector<float>{4, -5}));
}

TEST(NnPoolTest, BadInputsAreInvalidArgument) {
  Tensor x = Iota25();
  OpNode no_kernel{"MaxPool", {&x}};
  EXPECT_EQ(no_kernel.Code(), StatusCode::kInvalidArgument);
  OpNode wrong_rank{"MaxPool", {&x}};
  wrong_rank.attrs.Set("kernel_shape", std::vector<int64_t>{2});
  EXPECT_EQ(wrong_rank.Code(), StatusCode::kInvalidArgument);
  OpNode too_big{"AveragePool", {&x}};
  too_big.attrs.Set("kernel_shape", std::vector<int64_t>{6, 6});
  EXPECT_EQ(too_big.Code(), StatusCode::kInvalidArgument);
  OpNode bad_pad{"AveragePool", {&x}};
  bad_pad.attrs.Set("kernel_shape", std::vector<int64_t>{2, 2});
  bad_pad.attrs.Set("auto_pad", std::string("SAME"));
  EXPECT_EQ(bad_pad.Code(), StatusCode::kInvalidArgument);
  Tensor v = F32({5}, {1, 2, 3, 4, 5});
  EXPECT_EQ((OpNode{"GlobalAveragePool", {&v}}.Code()), StatusCode::kInvalidArgument);
}

// ------------------------------------------------------ Softmax family

TEST(NnSoftmaxTest, ExampleAndRowsSumToOne) {
  Tensor x = F32({1, 3}, {-1, 0, 1});
  ExpectNear(Values<float>(OpNode{"Softmax", {&x}}.Out()), {0.09003057f, 0.24472847f, 0.66524096f}, 1e-4f);
  ExpectNear(Values<float>(OpNode{"LogSoftmax", {&x}}.Out()),
             {-2.40760596f, -1.40760596f, -0.40760596f}, 1e-4f);
  Tensor big = F32({2, 4}, {0, 1, 2, 3, 10000, 10001, 10002, 10003});
  auto y = Values<float>(OpNode{"Softmax", {&big}}.Out());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], y[i + 4], 1e-6f);
  EXPECT_NEAR(y[0] + y[1] + y[2] + y[3], 1.0f, 1e-6f);
}

// Reference softmax over `axis` of a [3,4,5] tensor.
std::vector<float> NaiveSoftmax(const std::vector<float>& x, int axis, bool log) {
  const int dims[3] = {3, 4, 5};
  const int strides[3] = {20, 5, 1};
  std::vector<float> y(x.size());
  for (int i = 0; i < 60; ++i) {
    const int coord = (i / strides[axis]) % dims[axis];
    const int base = i - coord * strides[axis];
    double mx = -1e30, sum = 0;
    for (int j = 0; j < dims[axis]; ++j) mx = std::max<double>(mx, x[base + j * strides[axis]]);
    for (int j = 0; j < dims[axis]; ++j) sum += std::exp(x[base + j * strides[axis]] - mx);
    y[i] = static_cast<float>(log ? x[i] - mx - std::log(sum) : std::exp(x[i] - mx) / sum);
  }
  return y;
}

TEST(NnSoftmaxTest, EveryAxisMatchesNaive) {
  Tensor x = RandomF32({3, 4, 5}, 90);
  const auto xv = Values<float>(x);
  for (bool log : {false, true}) {
    for (int axis : {0, 1, 2, -1}) {
      OpNode n{log ? "LogSoftmax" : "Softmax", {&x}};
      n.attrs.Set("axis", int64_t{axis});
      n.threads = 2;
      ExpectNear(Values<float>(n.Out()), NaiveSoftmax(xv, axis < 0 ? axis + 3 : axis, log), 1e-4f);
    }
  }
}

TEST(NnSoftmaxTest, LegacyOpsetFlattensFromAxis) {
  // Opset 11, axis 1 on [2,2,2]: each batch row of 4 sums to one.
  Tensor x = F32({2, 2, 2}, {0, 0, 0, 0, 1, 1, 1, 1});
  OpNode n{"Softmax", {&x}};
  n.opset = 11;
  ExpectNear(Values<float>(n.Out()), std::vector<float>(8, 0.25f), 1e-4f);
  Tensor xd = Make<double>({1, 2}, {0, std::log(3.0)});
  OpNode nd{"Softmax", {&xd}};
  nd.opset = 11;
  const auto y = Values<double>(nd.Out());
  EXPECT_NEAR(y[0], 0.25, 1e-12);
  EXPECT_NEAR(y[1], 0.75, 1e-12);
}

TEST(NnSoftmaxTest, BadAxisIsInvalidArgument) {
  Tensor x = RandomF32({3, 4}, 91);
  OpNode n{"Softmax", {&x}};
  n.attrs.Set("axis", int64_t{2});
  EXPECT_EQ(n.Code(), StatusCode::kInvalidArgument);
  OpNode l{"LogSoftmax", {&x}};
  l.attrs.Set("axis", int64_t{-3});
  EXPECT_EQ(l.Code(), StatusCode::kInvalidArgument);
  Tensor i = Make<int64_t>({2}, {1, 2});
  EXPECT_EQ((OpNode{"Softmax", {&i}}.Code()), StatusCode::kUnimplemented);
}

// ------------------------------------------------- LayerNormalization

TEST(NnLayerNormTest, HandCheckedWithStatistics) {
  Tensor x = F32({2, 4}, {1, 2, 3, 4, 2, 2, 2, 2});
  Tensor scale = F32({4}, {1, 2, 1, 2});
  Tensor bias = F32({4}, {0, 0, 1, 1});
  OpNode n{"LayerNormalization", {&x, &scale, &bias}};
  n.num_outputs = 3;
  auto r = n.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  const float inv = 1.0f / std::sqrt(1.25f + 1e-5f);
  ExpectNear(Values<float>((*r)[0]),
             {-1.5f * inv, -1.0f * inv, 0.5f * inv + 1, 3.0f * inv + 1, 0, 0, 1, 1}, 1e-4f);
  EXPECT_EQ((*r)[1].shape(), (Shape{2, 1}));
  ExpectNear(Values<float>((*r)[1]), {2.5f, 2.0f}, 1e-4f);
  ExpectNear(Values<float>((*r)[2]), {inv, 1.0f / std::sqrt(1e-5f)}, 1e-3f);
}

TEST(NnLayerNormTest, AxisZeroWithoutBiasMatchesNaive) {
  Tensor x = RandomF32({2, 3, 5}, 100);
  Tensor scale = RandomF32({2, 3, 5}, 101);
  OpNode n{"LayerNormalization", {&x, &scale}};
  n.attrs.Set("axis", int64_t{0});
  n.attrs.Set("epsilon", 0.1f);
  const auto xv = Values<float>(x);
  double mean = 0, var = 0;
  for (float v : xv) mean += v;
  mean /= 30;
  for (float v : xv) var += (v - mean) * (v - mean);
  var /= 30;
  std::vector<float> want(30);
  for (int i = 0; i < 30; ++i) {
    want[i] = static_cast<float>((xv[i] - mean) / std::sqrt(var + 0.1) * scale.data<float>()[i]);
  }
  ExpectNear(Values<float>(n.Out()), want, 1e-4f);
}

TEST(NnLayerNormTest, BadInputsAreInvalidArgument) {
  Tensor x = RandomF32({2, 4}, 110);
  Tensor scale3 = F32({3}, {1, 1, 1});
  EXPECT_EQ((OpNode{"LayerNormalization", {&x, &scale3}}.Code()), StatusCode::kInvalidArgument);
  Tensor scale = F32({4}, {1, 1, 1, 1});
  OpNode n{"LayerNormalization", {&x, &scale}};
  n.attrs.Set("axis", int64_t{2});
  EXPECT_EQ(n.Code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tensorpod::internal
