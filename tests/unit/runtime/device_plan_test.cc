// The device half of planning and running, on machines without a GPU: a
// test device whose memory is host memory it tracks, whose kernels are the
// CPU backend's wrapped in checks (every data input and output must be in
// the device's memory, every value input on the host, a stream must be
// given), and whose streams copy with memcpy. What it proves: copies are
// inserted wherever a value crosses between host and device, graph inputs
// and outputs are staged, CPU fallback nodes read host mirrors, device
// memory is planned in its own arena, failed graph capture falls back to
// plain launches, and unloading frees all device memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "backends/cpu/cpu_backend.h"
#include "ops/op_schema.h"
#include "runtime/devices.h"
#include "runtime/session.h"
#include "unit/test_models.h"

namespace tensorpod::internal {
namespace {

// Host memory standing in for device memory, with every live block known.
class TrackingAllocator : public Allocator {
 public:
  void* Allocate(size_t bytes) override {
    void* p = CpuAllocator::Get().Allocate(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    blocks_[static_cast<char*>(p)] = bytes;
    live_ += bytes;
    return p;
  }
  void Deallocate(void* p, size_t bytes) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = blocks_.find(static_cast<char*>(p));
      if (it == blocks_.end()) {
        ADD_FAILURE() << "freeing memory this device never allocated";
        return;
      }
      live_ -= it->second;
      blocks_.erase(it);
    }
    CpuAllocator::Get().Deallocate(p, bytes);
  }
  Device device() const override { return Device{DeviceType::kCuda, 0}; }
  // True when [p, p+bytes) lies inside one live block.
  bool Owns(const void* p, size_t bytes) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.upper_bound(static_cast<char*>(const_cast<void*>(p)));
    if (it == blocks_.begin()) return false;
    --it;
    const char* c = static_cast<const char*>(p);
    return c >= it->first && c + bytes <= it->first + it->second;
  }
  size_t live() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_;
  }

 private:
  mutable std::mutex mu_;
  std::map<char*, size_t> blocks_;
  size_t live_ = 0;
};

class TestStream : public DeviceStream {
 public:
  void* native() const override { return nullptr; }
  Status Activate() override { return Status::Ok(); }
  Status CopyHostToDevice(void* dst, const void* src, size_t n) override { return Copy(dst, src, n); }
  Status CopyDeviceToHost(void* dst, const void* src, size_t n) override { return Copy(dst, src, n); }
  Status CopyDeviceToDevice(void* dst, const void* src, size_t n) override { return Copy(dst, src, n); }
  Status Synchronize() override { return Status::Ok(); }
  Status RecordEvent(DeviceEvent*) override { return Status::Ok(); }
  Status WaitEvent(DeviceEvent*) override { return Status::Ok(); }
  Status BeginCapture() override {
    capturing_ = true;
    ++captures;
    return Status::Ok();
  }
  // Host kernels run at once, so nothing can be recorded: capture fails and
  // the session must fall back to plain launches.
  StatusOr<std::unique_ptr<DeviceGraph>> EndCapture() override {
    capturing_ = false;
    return TP_ERROR(kUnimplemented, "the test device cannot record graphs");
  }
  bool capturing() const override { return capturing_; }
  static inline std::atomic<int> captures{0};

 private:
  Status Copy(void* dst, const void* src, size_t n) {
    if (n > 0) std::memcpy(dst, src, n);
    ++copies;
    return Status::Ok();
  }
  bool capturing_ = false;

 public:
  int copies = 0;
};

class TestDevice;

// A CPU kernel that checks where its tensors live before running.
class CheckedKernel : public Kernel {
 public:
  CheckedKernel(const TestDevice* dev, std::unique_ptr<Kernel> k, std::vector<int> host_inputs)
      : dev_(dev), kernel_(std::move(k)), host_inputs_(std::move(host_inputs)) {}
  Status Compute(KernelContext& ctx) const override;

 private:
  const TestDevice* dev_;
  std::unique_ptr<Kernel> kernel_;
  std::vector<int> host_inputs_;
};

class TestDevice : public DeviceBackend {
 public:
  explicit TestDevice(std::set<std::string> ops) : ops_(std::move(ops)) {}
  std::string name() const override { return "testdev"; }
  Device device() const override { return Device{DeviceType::kCuda, 0}; }
  bool Supports(const NodeDef& node) const override {
    return ops_.count(node.op_type) != 0 && CpuBackend::Get().Supports(node);
  }
  StatusOr<std::unique_ptr<Kernel>> CreateKernel(const NodeDef& node) const override {
    TP_ASSIGN_OR_RETURN(auto k, CpuBackend::Get().CreateKernel(node));
    const OpSchema* schema = SchemaRegistry::Global().Find(node.op_type);
    return std::unique_ptr<Kernel>(new CheckedKernel(this, std::move(k), schema->value_inputs));
  }
  Status Copy(const Tensor& src, Tensor* dst) const override {
    if (src.nbytes() > 0) std::memcpy(dst->raw_data(), src.raw_data(), src.nbytes());
    return Status::Ok();
  }
  Status Synchronize() const override { return Status::Ok(); }
  Allocator* allocator() const override { return &memory_; }
  std::string device_name() const override { return "test device"; }
  StatusOr<std::unique_ptr<DeviceStream>> CreateStream() const override {
    return std::unique_ptr<DeviceStream>(new TestStream());
  }
  StatusOr<std::unique_ptr<DeviceEvent>> CreateEvent() const override {
    return TP_ERROR(kUnimplemented, "no events");
  }
  // Every session shares the one tracked memory, so tests see what is live.
  StatusOr<std::unique_ptr<Allocator>> CreateSessionAllocator() const override {
    struct Forward : Allocator {
      explicit Forward(TrackingAllocator* a) : a(a) {}
      void* Allocate(size_t n) override { return a->Allocate(n); }
      void Deallocate(void* p, size_t n) override { a->Deallocate(p, n); }
      Device device() const override { return a->device(); }
      TrackingAllocator* a;
    };
    return std::unique_ptr<Allocator>(new Forward(&memory_));
  }
  Allocator* pinned_allocator() const override { return &CpuAllocator::Get(); }
  StatusOr<DeviceMemoryInfo> MemoryInfo() const override { return DeviceMemoryInfo{}; }

  const TrackingAllocator& memory() const { return memory_; }
  mutable std::atomic<int> kernel_runs{0};

 private:
  std::set<std::string> ops_;
  mutable TrackingAllocator memory_;
};

Status CheckedKernel::Compute(KernelContext& ctx) const {
  ++dev_->kernel_runs;
  if (ctx.stream == nullptr) return TP_ERROR(kInternal, "device kernel run without a stream");
  for (size_t k = 0; k < ctx.inputs.size(); ++k) {
    const Tensor* t = ctx.inputs[k];
    if (t == nullptr || t->nbytes() == 0) continue;
    const bool host = std::find(host_inputs_.begin(), host_inputs_.end(), static_cast<int>(k)) != host_inputs_.end();
    if (dev_->memory().Owns(t->raw_data(), t->nbytes()) == host) {
      return TP_ERROR(kInternal, "input " << k << " is in " << (host ? "device" : "host") << " memory");
    }
  }
  for (Tensor* t : ctx.outputs) {
    if (t != nullptr && t->nbytes() > 0 && !dev_->memory().Owns(t->raw_data(), t->nbytes())) {
      return TP_ERROR(kInternal, "an output is not in device memory");
    }
  }
  return kernel_->Compute(ctx);
}

SessionOptions OnDevice(const TestDevice& dev) {
  SessionOptions o;
  o.device = "cuda";
  o.threads = 1;
  o.device_backend = &dev;
  return o;
}

// The small MLP (MatMul+Add -> Relu -> MatMul+Add; fused by the passes into
// tp.FusedMatMul -> tp.FusedMatMul with the Relu folded in) on a device
// that runs `ops`, the rest on the CPU.
void ExpectMlpMatches(const std::set<std::string>& ops, int64_t batch) {
  TestDevice dev(ops);
  {
    auto session = LoadForTest(SmallMlp(), OnDevice(dev));
    ASSERT_TRUE(session.ok()) << session.status();
    EXPECT_EQ((*session)->device(), "cuda:0");
    for (int run = 0; run < 3; ++run) {
      const std::vector<float> x = RandomFloats(batch * 4, 7 + run, -2.0f, 2.0f);
      auto out = (*session)->Run({"x"}, {MakeF32({batch, 4}, x)}, {});
      ASSERT_TRUE(out.ok()) << out.status();
      const MlpOutputs want = ReferenceMlp(x, batch);
      const std::vector<float> y = F32Values((*out)[0]), h = F32Values((*out)[1]);
      ASSERT_EQ(y.size(), want.y.size());
      ASSERT_EQ(h.size(), want.h.size());
      for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want.y[i], 1e-4f) << "y " << i;
      for (size_t i = 0; i < h.size(); ++i) EXPECT_NEAR(h[i], want.h[i], 1e-4f) << "h " << i;
    }
    EXPECT_GT(dev.memory().live(), 0u);
  }
  EXPECT_EQ(dev.memory().live(), 0u) << "unloading the session must free all its device memory";
}

TEST(DevicePlanTest, EverythingOnTheDevice) {
  ExpectMlpMatches({"tp.FusedMatMul", "MatMul", "Add", "Relu"}, 5);
}

TEST(DevicePlanTest, CpuFallbackBetweenDeviceNodes) {
  // Unfused: MatMul on the device, Add and Relu on the CPU, and back.
  TestDevice dev({"MatMul"});
  SessionOptions o = OnDevice(dev);
  o.optimize = false;
  auto session = LoadForTest(SmallMlp(), o);
  ASSERT_TRUE(session.ok()) << session.status();
  const std::vector<float> x = RandomFloats(12, 3, -2.0f, 2.0f);
  auto out = (*session)->Run({"x"}, {MakeF32({3, 4}, x)}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  const MlpOutputs want = ReferenceMlp(x, 3);
  const std::vector<float> y = F32Values((*out)[0]);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want.y[i], 1e-4f) << i;
  EXPECT_EQ(dev.kernel_runs.load(), 2);  // the two MatMuls
}

TEST(DevicePlanTest, NothingSupportedRunsOnTheCpu) { ExpectMlpMatches({}, 2); }

TEST(DevicePlanTest, FallbackCanBeAnError) {
  TestDevice dev({"MatMul"});
  SessionOptions o = OnDevice(dev);
  o.optimize = false;
  o.allow_cpu_fallback = false;
  auto session = LoadForTest(SmallMlp(), o);
  EXPECT_TRUE(StatusIs(session.status(), StatusCode::kUnimplemented, {"CPU fallback is disabled"}))
      << session.status();
}

TEST(DevicePlanTest, FailedCaptureFallsBackToPlainLaunches) {
  TestDevice dev({"tp.FusedMatMul"});
  const int before = TestStream::captures.load();
  auto session = LoadForTest(SmallMlp(), OnDevice(dev));
  ASSERT_TRUE(session.ok()) << session.status();
  const std::vector<float> x = RandomFloats(8, 1, -2.0f, 2.0f);
  for (int run = 0; run < 4; ++run) {
    auto out = (*session)->Run({"x"}, {MakeF32({2, 4}, x)}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    const MlpOutputs want = ReferenceMlp(x, 2);
    const std::vector<float> y = F32Values((*out)[0]);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want.y[i], 1e-4f) << "run " << run << " " << i;
  }
  // Captured once (second run), failed, never tried again for that shape.
  EXPECT_EQ(TestStream::captures.load() - before, 1);
}

TEST(DevicePlanTest, NoCaptureWhenDisabled) {
  TestDevice dev({"tp.FusedMatMul"});
  const int before = TestStream::captures.load();
  SessionOptions o = OnDevice(dev);
  o.cuda_graphs = false;
  auto session = LoadForTest(SmallMlp(), o);
  ASSERT_TRUE(session.ok()) << session.status();
  for (int run = 0; run < 3; ++run) {
    auto out = (*session)->Run({"x"}, {MakeF32({1, 4}, RandomFloats(4, 2))}, {});
    ASSERT_TRUE(out.ok()) << out.status();
  }
  EXPECT_EQ(TestStream::captures.load(), before);
}

TEST(DevicePlanTest, ReservedForMaxBatchAndGrowsBeyond) {
  TestDevice dev({"tp.FusedMatMul"});
  SessionOptions o = OnDevice(dev);
  o.max_batch = 16;
  {
    auto session = LoadForTest(SmallMlp(), o);
    ASSERT_TRUE(session.ok()) << session.status();
    const size_t reserved = dev.memory().live();
    EXPECT_GT(reserved, 16u * 4 * sizeof(float));  // weights + arena for batch 16
    for (int64_t batch : {1, 16, 40}) {
      const std::vector<float> x = RandomFloats(batch * 4, 5, -2.0f, 2.0f);
      auto out = (*session)->Run({"x"}, {MakeF32({batch, 4}, x)}, {});
      ASSERT_TRUE(out.ok()) << out.status();
      const MlpOutputs want = ReferenceMlp(x, batch);
      const std::vector<float> y = F32Values((*out)[0]);
      for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want.y[i], 1e-4f) << batch << " " << i;
    }
  }
  EXPECT_EQ(dev.memory().live(), 0u);
}

TEST(DevicePlanTest, ReducedPrecisionNeedsAValidName) {
  TestDevice dev({});
  SessionOptions o = OnDevice(dev);
  o.precision = "fp8";
  auto session = LoadForTest(SmallMlp(), o);
  EXPECT_TRUE(StatusIs(session.status(), StatusCode::kInvalidArgument, {"fp8", "fp16"})) << session.status();
}

TEST(DevicePlanTest, ShapeComputationsStayOnTheHost) {
  // x [batch, 4] -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [2, 2])) -> Relu.
  ModelBuilder b;
  b.Input("x", {kDynamicDim, 4}).Output("y", {kDynamicDim, 2, 2});
  b.InitializerI64("zero", {}, {0});
  b.InitializerI64("axes", {1}, {0});
  b.InitializerI64("tail", {2}, {2, 2});
  b.Node("Shape", {"x"}, {"shape"});
  b.Node("Gather", {"shape", "zero"}, {"batch"});
  b.Node("Unsqueeze", {"batch", "axes"}, {"batch1"});
  auto& concat = b.Node("Concat", {"batch1", "tail"}, {"target"});
  SetIntAttr(concat, "axis", 0);
  b.Node("Reshape", {"x", "target"}, {"r"});
  b.Node("Relu", {"r"}, {"y"});
  // The device claims every op: the shape chain must still be evaluated on
  // the host while planning, and only Reshape and Relu run on the device.
  TestDevice dev({"Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "Relu"});
  auto session = LoadForTest(b, OnDevice(dev));
  ASSERT_TRUE(session.ok()) << session.status();
  for (int64_t batch : {3, 1}) {
    const std::vector<float> x = RandomFloats(batch * 4, 9, -1, 1);
    auto out = (*session)->Run({"x"}, {MakeF32({batch, 4}, x)}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].shape(), (Shape{batch, 2, 2}));
    const std::vector<float> y = F32Values((*out)[0]);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], std::max(0.0f, x[i])) << i;
  }
  EXPECT_EQ(dev.kernel_runs.load(), 4);  // Reshape and Relu, two runs
}

TEST(DevicePlanTest, OutputAlsoReadByTheCpu) {
  // Unfused MLP with only Relu on the device: "h" is a graph output and
  // the CPU's second MatMul reads it, so its host copy must land before
  // that MatMul runs.
  TestDevice dev({"Relu"});
  SessionOptions o = OnDevice(dev);
  o.optimize = false;
  auto session = LoadForTest(SmallMlp(), o);
  ASSERT_TRUE(session.ok()) << session.status();
  const std::vector<float> x = RandomFloats(8, 11, -2.0f, 2.0f);
  for (int run = 0; run < 3; ++run) {
    auto out = (*session)->Run({"x"}, {MakeF32({2, 4}, x)}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    const MlpOutputs want = ReferenceMlp(x, 2);
    const std::vector<float> y = F32Values((*out)[0]), h = F32Values((*out)[1]);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want.y[i], 1e-4f) << "y " << i;
    for (size_t i = 0; i < h.size(); ++i) EXPECT_NEAR(h[i], want.h[i], 1e-4f) << "h " << i;
  }
}

// Self-attention as exporters write it (see Note [Attention fusion]), with
// Q, K, V and the mask as graph inputs of rank `rank`.
ModelBuilder AttentionModel(int rank, bool with_mask, bool scale_by_mul, const Shape& mask_shape) {
  ModelBuilder b;
  const Shape qkv = rank == 4 ? Shape{2, 3, 5, 8} : Shape{2, 5, 8};
  Shape out = qkv;
  b.Input("q", qkv).Input("k", qkv).Input("v", qkv).Output("y", out);
  if (with_mask) b.Input("mask", mask_shape);
  b.Initializer("c", {}, {scale_by_mul ? 0.35355339f : 2.8284271f});
  auto& tr = b.Node("Transpose", {"k"}, {"kt"});
  SetIntsAttr(tr, "perm", rank == 4 ? std::vector<int64_t>{0, 1, 3, 2} : std::vector<int64_t>{0, 2, 1});
  b.Node("MatMul", {"q", "kt"}, {"s0"});
  b.Node(scale_by_mul ? "Mul" : "Div", {"s0", "c"}, {"s1"});
  if (with_mask) b.Node("Add", {"mask", "s1"}, {"s2"});
  auto& sm = b.Node("Softmax", {with_mask ? "s2" : "s1"}, {"p"});
  SetIntAttr(sm, "axis", -1);
  b.Node("MatMul", {"p", "v"}, {"y"});
  return b;
}

void ExpectFusedMatchesUnfused(int rank, bool with_mask, bool scale_by_mul, const Shape& mask_shape) {
  const ModelBuilder model = AttentionModel(rank, with_mask, scale_by_mul, mask_shape);
  auto g = ImportForTest(model);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseAttention(&*g).ok());
  EXPECT_EQ(CountOps(*g, "tp.Attention"), 1);
  EXPECT_EQ(static_cast<int>(g->nodes().size()), 1) << "the whole pattern is one node";

  const Shape qkv = rank == 4 ? Shape{2, 3, 5, 8} : Shape{2, 5, 8};
  const int64_t n = NumElementsUnchecked(qkv);
  std::vector<std::string> names = {"q", "k", "v"};
  std::vector<Tensor> inputs = {MakeF32(qkv, RandomFloats(n, 1, -2, 2)), MakeF32(qkv, RandomFloats(n, 2, -2, 2)),
                                MakeF32(qkv, RandomFloats(n, 3))};
  if (with_mask) {
    std::vector<float> m = RandomFloats(NumElementsUnchecked(mask_shape), 4, 0, 1);
    for (float& x : m) x = x < 0.3f ? -10000.0f : 0.0f;
    names.push_back("mask");
    inputs.push_back(MakeF32(mask_shape, m));
  }
  SessionOptions unfused;
  unfused.device = "cpu";
  unfused.threads = 2;
  unfused.optimize = false;  // the graph as written: MatMul, Div/Mul, Add, Softmax, MatMul
  auto reference = LoadForTest(model, unfused);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto want = (*reference)->Run(names, inputs, {});
  ASSERT_TRUE(want.ok()) << want.status();

  // The CPU runs the fused kernel too.
  SessionOptions cpu = unfused;
  cpu.optimize = true;
  auto on_cpu = LoadForTest(model, cpu);
  ASSERT_TRUE(on_cpu.ok()) << on_cpu.status();
  auto cpu_got = (*on_cpu)->Run(names, inputs, {});
  ASSERT_TRUE(cpu_got.ok()) << cpu_got.status();
  {
    const std::vector<float> a = F32Values((*cpu_got)[0]), w = F32Values((*want)[0]);
    ASSERT_EQ(a.size(), w.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], w[i], 1e-5f) << "cpu, element " << i;
  }

  TestDevice dev({"tp.Attention"});
  auto fused = LoadForTest(model, OnDevice(dev));
  ASSERT_TRUE(fused.ok()) << fused.status();
  auto got = (*fused)->Run(names, inputs, {});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(dev.kernel_runs.load(), 1) << "tp.Attention ran on the device";
  const std::vector<float> a = F32Values((*got)[0]), w = F32Values((*want)[0]);
  ASSERT_EQ(a.size(), w.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], w[i], 1e-5f) << i;
}

TEST(AttentionFusionTest, Rank4DivAndKeyMask) { ExpectFusedMatchesUnfused(4, true, false, {2, 1, 1, 5}); }
TEST(AttentionFusionTest, Rank4MulAndFullMask) { ExpectFusedMatchesUnfused(4, true, true, {2, 3, 5, 5}); }
TEST(AttentionFusionTest, Rank4NoMask) { ExpectFusedMatchesUnfused(4, false, false, {}); }
TEST(AttentionFusionTest, Rank3SharedMask) { ExpectFusedMatchesUnfused(3, true, true, {5, 5}); }

TEST(AttentionFusionTest, LeavesOtherPatternsAlone) {
  // Softmax over axis 2 of a rank-4 tensor is not attention.
  ModelBuilder b;
  b.Input("q", {1, 2, 3, 4}).Input("k", {1, 2, 3, 4}).Input("v", {1, 2, 4, 3}).Output("y", {1, 2, 3, 3});
  auto& tr = b.Node("Transpose", {"k"}, {"kt"});
  SetIntsAttr(tr, "perm", {0, 1, 3, 2});
  b.Node("MatMul", {"q", "kt"}, {"s"});
  auto& sm = b.Node("Softmax", {"s"}, {"p"});
  SetIntAttr(sm, "axis", 2);
  b.Node("MatMul", {"p", "v"}, {"y"});
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseAttention(&*g).ok());
  EXPECT_EQ(CountOps(*g, "tp.Attention"), 0);
  EXPECT_EQ(CountOps(*g, "Softmax"), 1);
}

TEST(AttentionFusionTest, ScoresReadElsewhereStayUnfused) {
  ModelBuilder b = AttentionModel(4, false, false, {});
  b.Output("s1", {2, 3, 5, 5});  // the scaled scores are also a graph output
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseAttention(&*g).ok());
  EXPECT_EQ(CountOps(*g, "tp.Attention"), 0);
}

// ---- The same on a real GPU (skipped, with the reason, without one).

// Skips the test, with the reason, where no GPU is usable.
#define TP_SKIP_WITHOUT_GPU()                                          \
  do {                                                                 \
    std::string why;                                                   \
    if (CudaDevices(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why; \
  } while (0)

SessionOptions OnGpu(const std::string& precision = "fp32", bool graphs = true) {
  SessionOptions o;
  o.device = "cuda";
  o.threads = 1;
  o.precision = precision;
  o.cuda_graphs = graphs;
  return o;
}

// Normalized error: max |a - b| / max(1e-6, max |b|).
double NormalizedError(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, ref = 1e-6;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    ref = std::max(ref, std::abs(static_cast<double>(b[i])));
  }
  return diff / ref;
}

TEST(CudaSessionTest, GraphReplayMatchesTheReference) {
  TP_SKIP_WITHOUT_GPU();
  for (bool graphs : {true, false}) {
    auto session = LoadForTest(SmallMlp(), OnGpu("fp32", graphs));
    ASSERT_TRUE(session.ok()) << session.status();
    EXPECT_EQ((*session)->device(), "cuda:0");
    // Same shape five times (plain, recorded, replayed...), then others.
    for (int64_t batch : {3, 3, 3, 3, 3, 1, 64, 3}) {
      const std::vector<float> x = RandomFloats(batch * 4, static_cast<uint32_t>(batch) * 7 + graphs, -2, 2);
      auto out = (*session)->Run({"x"}, {MakeF32({batch, 4}, x)}, {});
      ASSERT_TRUE(out.ok()) << out.status();
      const MlpOutputs want = ReferenceMlp(x, batch);
      const std::vector<float> y = F32Values((*out)[0]), h = F32Values((*out)[1]);
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want.y[i], 1e-4f) << "batch " << batch << " y " << i;
      for (size_t i = 0; i < h.size(); ++i) ASSERT_NEAR(h[i], want.h[i], 1e-4f) << "batch " << batch << " h " << i;
    }
  }
}

TEST(CudaSessionTest, ReducedPrecisionWithinItsBound) {
  TP_SKIP_WITHOUT_GPU();
  // fp16: 10-bit mantissa; bf16: 7 bits. Bounds on max|err| / max|ref|.
  for (const auto& [precision, bound] : {std::pair<std::string, double>{"fp16", 2e-2}, {"bf16", 5e-2},
                                         {"tf32", 1e-2}}) {
    auto session = LoadForTest(SmallMlp(), OnGpu(precision));
    ASSERT_TRUE(session.ok()) << precision << ": " << session.status();
    const std::vector<float> x = RandomFloats(32 * 4, 5, -2, 2);
    for (int run = 0; run < 3; ++run) {
      auto out = (*session)->Run({"x"}, {MakeF32({32, 4}, x)}, {});
      ASSERT_TRUE(out.ok()) << precision << ": " << out.status();
      EXPECT_EQ((*out)[0].dtype(), DType::kF32) << "outputs keep the model's dtype";
      EXPECT_LE(NormalizedError(F32Values((*out)[0]), ReferenceMlp(x, 32).y), bound) << precision;
    }
  }
}

TEST(CudaSessionTest, AttentionMatchesTheCpu) {
  TP_SKIP_WITHOUT_GPU();
  const ModelBuilder model = AttentionModel(4, true, false, {2, 1, 1, 5});
  const Shape qkv = {2, 3, 5, 8};
  std::vector<Tensor> inputs = {MakeF32(qkv, RandomFloats(240, 1, -2, 2)), MakeF32(qkv, RandomFloats(240, 2, -2, 2)),
                                MakeF32(qkv, RandomFloats(240, 3)), MakeF32({2, 1, 1, 5}, {0, 0, -1e4f, 0, 0, 0, 0, 0, 0, -1e4f})};
  const std::vector<std::string> names = {"q", "k", "v", "mask"};
  SessionOptions cpu;
  cpu.device = "cpu";
  auto reference = LoadForTest(model, cpu);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto want = (*reference)->Run(names, inputs, {});
  ASSERT_TRUE(want.ok()) << want.status();
  auto gpu = LoadForTest(model, OnGpu());
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  for (int run = 0; run < 3; ++run) {
    auto got = (*gpu)->Run(names, inputs, {});
    ASSERT_TRUE(got.ok()) << got.status();
    const std::vector<float> a = F32Values((*got)[0]), w = F32Values((*want)[0]);
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], w[i], 1e-4f) << "run " << run << " " << i;
  }
}

TEST(CudaSessionTest, ManyThreadsAtOnce) {
  TP_SKIP_WITHOUT_GPU();
  auto session = LoadForTest(SmallMlp(), OnGpu());
  ASSERT_TRUE(session.ok()) << session.status();
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const int64_t batch = 1 + (t + i) % 5;
        const std::vector<float> x = RandomFloats(batch * 4, static_cast<uint32_t>(t * 1000 + i), -2, 2);
        auto out = (*session)->Run({"x"}, {MakeF32({batch, 4}, x)}, {});
        if (!out.ok() || NormalizedError(F32Values((*out)[0]), ReferenceMlp(x, batch).y) > 1e-4) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(CudaSessionTest, UnloadReturnsDeviceMemory) {
  TP_SKIP_WITHOUT_GPU();
  auto backend = GetDeviceBackend(Device{DeviceType::kCuda, 0});
  ASSERT_TRUE(backend.ok()) << backend.status();
  auto load_run_unload = [&] {
    SessionOptions o = OnGpu();
    o.max_batch = 256;
    auto session = LoadForTest(SmallMlp(), o);
    ASSERT_TRUE(session.ok()) << session.status();
    for (int i = 0; i < 3; ++i) {
      auto out = (*session)->Run({"x"}, {MakeF32({256, 4}, RandomFloats(1024, 1))}, {});
      ASSERT_TRUE(out.ok()) << out.status();
    }
  };
  load_run_unload();  // the CUDA context and library kernels load once
  auto before = (*backend)->MemoryInfo();
  ASSERT_TRUE(before.ok()) << before.status();
  load_run_unload();
  auto after = (*backend)->MemoryInfo();
  ASSERT_TRUE(after.ok()) << after.status();
  const double diff = std::abs(static_cast<double>(before->free_bytes) - static_cast<double>(after->free_bytes));
  EXPECT_LE(diff, 1 << 20) << "free before " << before->free_bytes << ", after " << after->free_bytes;
}

}  // namespace
}  // namespace tensorpod::internal
