#include "runtime/session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "runtime/devices.h"
#include "unit/test_models.h"

namespace tensorpod::internal {
namespace {

// The CPU session these tests are about: with "auto", a machine with a GPU
// would place the session there.
SessionOptions OneThread() {
  SessionOptions o;
  o.device = "cpu";
  o.threads = 1;
  return o;
}

std::unique_ptr<Session> LoadMlp(const SessionOptions& options = OneThread()) {
  auto s = LoadForTest(SmallMlp(), options);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::vector<float> MlpInput(int64_t batch, uint32_t seed) {
  return RandomFloats(batch * 4, seed, -2.0f, 2.0f);
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want,
                const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-4f * std::max(1.0f, std::abs(want[i])))
        << what << " element " << i;
  }
}

TEST(SessionTest, RunMatchesReference) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  for (int64_t batch : {1, 2, 5}) {
    const auto xv = MlpInput(batch, static_cast<uint32_t>(batch));
    auto out = session->Run({"x"}, {MakeF32({batch, 4}, xv)}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 2u);
    EXPECT_EQ((*out)[0].shape(), (Shape{batch, 3}));
    EXPECT_EQ((*out)[1].shape(), (Shape{batch, 8}));
    const MlpOutputs ref = ReferenceMlp(xv, batch);
    ExpectNear(F32Values((*out)[0]), ref.y, "y");
    ExpectNear(F32Values((*out)[1]), ref.h, "h");
  }
}

TEST(SessionTest, OpProfilePrintsEachOpTypeWhenTheSessionCloses) {
  ASSERT_EQ(setenv("TENSORPOD_PROFILE_OPS", "1", 1), 0);
  auto session = LoadMlp();
  unsetenv("TENSORPOD_PROFILE_OPS");
  ASSERT_NE(session, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(session->Run({"x"}, {MakeF32({2, 4}, MlpInput(2, 1))}, {}).ok());
  testing::internal::CaptureStderr();
  session.reset();
  const std::string report = testing::internal::GetCapturedStderr();
  EXPECT_NE(report.find("tensorpod op profile"), std::string::npos) << report;
  // The MLP is two fused MatMul nodes: 6 calls over 3 runs.
  EXPECT_NE(report.find("tp.FusedMatMul"), std::string::npos) << report;
  EXPECT_NE(report.find(" 6 "), std::string::npos) << report;

  // Off by default: nothing printed.
  auto quiet = LoadMlp();
  ASSERT_NE(quiet, nullptr);
  ASSERT_TRUE(quiet->Run({"x"}, {MakeF32({2, 4}, MlpInput(2, 1))}, {}).ok());
  testing::internal::CaptureStderr();
  quiet.reset();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// a = Relu(x) is only read through its reshape b, which shares a's arena
// bytes; c = Neg(x) and its reshape come later and must not be placed over
// a while b is still to be read.
TEST(SessionTest, ReshapeSharesItsInputsMemorySafely) {
  ModelBuilder b;
  b.Input("x", {-1, 8}).Output("y", {-1, 2, 4}).Output("z", {-1, 8});
  b.InitializerI64("shape", {3}, {0, 2, 4});
  b.Node("Relu", {"x"}, {"a"});
  b.Node("Reshape", {"a", "shape"}, {"b"});
  b.Node("Reshape", {"b", "shape"}, {"b2"});  // a view of a view
  b.Node("Neg", {"x"}, {"c"});
  b.Node("Reshape", {"c", "shape"}, {"c2"});
  b.Node("Add", {"b2", "c2"}, {"y"});
  b.Node("Flatten", {"b"}, {"z"});  // a graph output: its own copy
  auto session = LoadForTest(b, OneThread());
  ASSERT_TRUE(session.ok()) << session.status();
  for (int64_t batch : {1, 3}) {
    const std::vector<float> x = RandomFloats(batch * 8, 5, -2.0f, 2.0f);
    auto out = (*session)->Run({"x"}, {MakeF32({batch, 8}, x)}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].shape(), (Shape{batch, 2, 4}));
    const std::vector<float> y = F32Values((*out)[0]), z = F32Values((*out)[1]);
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_FLOAT_EQ(y[i], std::max(x[i], 0.0f) - x[i]) << i;
      EXPECT_FLOAT_EQ(z[i], std::max(x[i], 0.0f)) << i;
    }
  }
}

TEST(SessionTest, OutputsOwnTheirMemory) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  const auto xa = MlpInput(2, 1), xb = MlpInput(2, 2);
  auto a = session->Run({"x"}, {MakeF32({2, 4}, xa)}, {});
  ASSERT_TRUE(a.ok()) << a.status();
  const std::vector<float> first = F32Values((*a)[0]);
  auto b = session->Run({"x"}, {MakeF32({2, 4}, xb)}, {});
  ASSERT_TRUE(b.ok()) << b.status();
  // A second run must not overwrite what the first returned.
  EXPECT_EQ(F32Values((*a)[0]), first);
  ExpectNear(F32Values((*a)[1]), ReferenceMlp(xa, 2).h, "first run h");
}

TEST(SessionTest, Metadata) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  ASSERT_EQ(session->inputs().size(), 1u);
  const IoInfo& in = session->inputs()[0];
  EXPECT_EQ(in.name, "x");
  EXPECT_EQ(in.dtype, DType::kF32);
  EXPECT_TRUE(in.has_shape);
  EXPECT_EQ(in.shape, (Shape{-1, 4}));
  ASSERT_EQ(in.dim_params.size(), 2u);
  EXPECT_EQ(in.dim_params[0], "batch");
  EXPECT_EQ(in.dim_params[1], "");

  ASSERT_EQ(session->outputs().size(), 2u);
  EXPECT_EQ(session->outputs()[0].name, "y");
  EXPECT_EQ(session->outputs()[0].dtype, DType::kF32);
  EXPECT_EQ(session->outputs()[0].shape, (Shape{-1, 3}));
  EXPECT_EQ(session->outputs()[1].name, "h");
  EXPECT_EQ(session->outputs()[1].shape, (Shape{-1, 8}));

  const ModelStats& stats = session->stats();
  EXPECT_EQ(stats.parameter_count, 4 * 8 + 8 + 8 * 3 + 3);
  EXPECT_EQ(stats.opset, 17);
  EXPECT_EQ(stats.op_histogram.at("MatMul"), 2);
  EXPECT_EQ(stats.op_histogram.at("Add"), 2);
  EXPECT_EQ(stats.op_histogram.at("Relu"), 1);
  EXPECT_EQ(session->threads(), 1);
  EXPECT_EQ(session->device(), "cpu");
}

TEST(SessionTest, OutputsByName) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  const auto xv = MlpInput(3, 5);
  const MlpOutputs ref = ReferenceMlp(xv, 3);
  const Tensor x = MakeF32({3, 4}, xv);

  auto h = session->Run({"x"}, {x}, {"h"});
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->size(), 1u);
  ExpectNear(F32Values((*h)[0]), ref.h, "h");

  auto both = session->Run({"x"}, {x}, {"h", "y"});
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 2u);
  ExpectNear(F32Values((*both)[0]), ref.h, "h");
  ExpectNear(F32Values((*both)[1]), ref.y, "y");

  auto unknown = session->Run({"x"}, {x}, {"y", "logits"});
  EXPECT_TRUE(StatusIs(unknown.status(), StatusCode::kInvalidArgument,
                       {"no output named \"logits\"", "\"y\"", "\"h\""}));
  // An intermediate value is not an output.
  EXPECT_TRUE(StatusIs(session->Run({"x"}, {x}, {"pre1"}).status(),
                       StatusCode::kInvalidArgument, {"\"pre1\""}));
}

TEST(SessionTest, Devices) {
  const std::string bytes = SmallMlp().Bytes();
  for (const char* dev : {"cpu", "auto", ""}) {
    SessionOptions o = OneThread();
    o.device = dev;
    auto s = Session::LoadFromBytes(bytes.data(), bytes.size(), o);
    EXPECT_TRUE(s.ok()) << dev << ": " << s.status();
  }
  std::string why;
  const int gpus = CudaDevices(&why);
  for (const char* dev : {"cuda", "cuda:0", "cuda:3"}) {
    if (gpus > 0) break;  // a GPU machine: covered by the GPU tests
    SessionOptions o = OneThread();
    o.device = dev;
    auto s = Session::LoadFromBytes(bytes.data(), bytes.size(), o);
    EXPECT_TRUE(
        StatusIs(s.status(), StatusCode::kFailedPrecondition, {dev, "CUDA"}))
        << dev;
  }
  for (const char* dev : {"tpu", "cuda:x", "CPU", "cuda:-1"}) {
    SessionOptions o = OneThread();
    o.device = dev;
    auto s = Session::LoadFromBytes(bytes.data(), bytes.size(), o);
    EXPECT_TRUE(StatusIs(s.status(), StatusCode::kInvalidArgument,
                         {std::string("\"") + dev + "\""}))
        << dev;
  }
}

TEST(SessionTest, BadOptions) {
  const std::string bytes = SmallMlp().Bytes();
  SessionOptions o;
  o.threads = -1;
  EXPECT_TRUE(
      StatusIs(Session::LoadFromBytes(bytes.data(), bytes.size(), o).status(),
               StatusCode::kInvalidArgument, {"threads"}));
  o = OneThread();
  o.max_batch = -4;
  EXPECT_TRUE(
      StatusIs(Session::LoadFromBytes(bytes.data(), bytes.size(), o).status(),
               StatusCode::kInvalidArgument, {"max_batch"}));
  o = OneThread();
  o.log_level = "loud";
  EXPECT_TRUE(
      StatusIs(Session::LoadFromBytes(bytes.data(), bytes.size(), o).status(),
               StatusCode::kInvalidArgument, {"\"loud\""}));
}

TEST(SessionTest, LoadMissingFile) {
  auto s = Session::Load("/nonexistent/tensorpod/model.onnx", OneThread());
  EXPECT_TRUE(StatusIs(s.status(), StatusCode::kNotFound,
                       {"/nonexistent/tensorpod/model.onnx"}));
}

TEST(SessionTest, LoadGarbageFromBytes) {
  const std::string junk = "this is not an onnx model at all";
  EXPECT_TRUE(StatusIs(
      Session::LoadFromBytes(junk.data(), junk.size(), OneThread()).status(),
      StatusCode::kInvalidArgument, {"not a valid ONNX model"}));
  EXPECT_TRUE(StatusIs(Session::LoadFromBytes(nullptr, 0, OneThread()).status(),
                       StatusCode::kInvalidArgument, {"empty"}));
}

// ---- Bad inputs: each a clear Status, never a crash
// --------------------------

TEST(SessionInputTest, WrongInputName) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  auto r = session->Run({"input"}, {MakeF32({2, 4}, MlpInput(2, 1))}, {});
  EXPECT_TRUE(StatusIs(r.status(), StatusCode::kInvalidArgument,
                       {"no input named \"input\"", "\"x\""}));
}

TEST(SessionInputTest, WrongDtype) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  auto t = Tensor::Empty(DType::kF64, {2, 4});
  ASSERT_TRUE(t.ok());
  auto r = session->Run({"x"}, {*t}, {});
  EXPECT_TRUE(StatusIs(r.status(), StatusCode::kInvalidArgument,
                       {"input \"x\"", "float32", "float64"}));
}

TEST(SessionInputTest, WrongShape) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  auto r = session->Run({"x"}, {MakeF32({2, 3}, std::vector<float>(6))}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "input \"x\": expected shape [-1,4], got [2,3]");
  auto rank = session->Run({"x"}, {MakeF32({8}, std::vector<float>(8))}, {});
  EXPECT_TRUE(StatusIs(rank.status(), StatusCode::kInvalidArgument,
                       {"expected shape [-1,4], got [8]"}));
}

TEST(SessionInputTest, MissingAndDuplicateInputs) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(StatusIs(session->Run({}, {}, {}).status(),
                       StatusCode::kInvalidArgument,
                       {"input \"x\" is missing"}));
  const Tensor x = MakeF32({1, 4}, MlpInput(1, 3));
  EXPECT_TRUE(StatusIs(session->Run({"x", "x"}, {x, x}, {}).status(),
                       StatusCode::kInvalidArgument, {"\"x\"", "twice"}));
  EXPECT_TRUE(StatusIs(session->Run({"x"}, {x, x}, {}).status(),
                       StatusCode::kInvalidArgument, {"1", "2"}));
}

TEST(SessionInputTest, InputWithoutData) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  const Tensor no_data(DType::kF32, {2, 4}, nullptr);
  EXPECT_TRUE(StatusIs(session->Run({"x"}, {no_data}, {}).status(),
                       StatusCode::kInvalidArgument, {"\"x\"", "no data"}));
}

TEST(SessionInputTest, EmptyBatch) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  auto r = session->Run({"x"}, {Tensor(DType::kF32, {0, 4}, nullptr)}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].shape(), (Shape{0, 3}));
}

TEST(SessionInputTest, ErrorsLeaveTheSessionUsable) {
  auto session = LoadMlp();
  ASSERT_NE(session, nullptr);
  ASSERT_FALSE(
      session->Run({"x"}, {MakeF32({2, 3}, std::vector<float>(6))}, {}).ok());
  const auto xv = MlpInput(2, 9);
  auto r = session->Run({"x"}, {MakeF32({2, 4}, xv)}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectNear(F32Values((*r)[0]), ReferenceMlp(xv, 2).y, "y");
}

// ---- Memory: no activation allocation after warm-up
// --------------------------

// Optimised, the MLP fuses into two nodes writing graph outputs directly;
// unoptimised, its MatMul/Add/Relu outputs live in the arena. Both must stop
// allocating after warm-up.
TEST(SessionMemoryTest, NoActivationAllocationAfterWarmUp) {
  for (bool optimize : {true, false}) {
    SCOPED_TRACE(optimize ? "optimized" : "not optimized");
    CountingAllocator counting(&CpuAllocator::Get());
    SessionOptions o = OneThread();
    o.activation_allocator = &counting;
    o.max_batch = 8;
    o.optimize = optimize;
    auto session = LoadMlp(o);
    ASSERT_NE(session, nullptr);
    // The arena for batch 8 is reserved at load.
    EXPECT_GT(counting.allocations(), 0);
    EXPECT_GT(counting.live_bytes(), 0);

    const auto x8v = MlpInput(8, 1), x3v = MlpInput(3, 2);
    const Tensor x8 = MakeF32({8, 4}, x8v);
    const Tensor x3 = MakeF32({3, 4}, x3v);
    ASSERT_TRUE(session->Run({"x"}, {x8}, {}).ok());
    ASSERT_TRUE(session->Run({"x"}, {x3}, {}).ok());
    const int64_t warm = counting.allocations();
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(session->Run({"x"}, {x8}, {}).ok());
      ASSERT_TRUE(session->Run({"x"}, {x3}, {}).ok());
    }
    EXPECT_EQ(counting.allocations(), warm);
    auto r = session->Run({"x"}, {x3}, {});
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectNear(F32Values((*r)[0]), ReferenceMlp(x3v, 3).y, "y");
  }
}

TEST(SessionMemoryTest, LargerBatchReplansOnceThenStops) {
  CountingAllocator counting(&CpuAllocator::Get());
  SessionOptions o = OneThread();
  o.activation_allocator = &counting;
  o.max_batch = 2;
  o.optimize = false;  // keeps intermediate values in the arena
  auto session = LoadMlp(o);
  ASSERT_NE(session, nullptr);
  const auto big = MlpInput(64, 4);
  const Tensor x64 = MakeF32({64, 4}, big);
  const Tensor x2 = MakeF32({2, 4}, MlpInput(2, 5));
  ASSERT_TRUE(session->Run({"x"}, {x2}, {}).ok());
  const int64_t before = counting.allocations();
  auto r = session->Run({"x"}, {x64}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectNear(F32Values((*r)[0]), ReferenceMlp(big, 64).y, "y at batch 64");
  // The arena reserved for batch 2 is too small: it grows once.
  const int64_t grown = counting.allocations();
  EXPECT_GT(grown, before);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(session->Run({"x"}, {x64}, {}).ok());
    ASSERT_TRUE(session->Run({"x"}, {x2}, {}).ok());
  }
  EXPECT_EQ(counting.allocations(), grown);
}

TEST(SessionMemoryTest, DestroyingTheSessionFreesItsActivations) {
  CountingAllocator counting(&CpuAllocator::Get());
  {
    SessionOptions o = OneThread();
    o.activation_allocator = &counting;
    o.max_batch = 4;
    auto session = LoadMlp(o);
    ASSERT_NE(session, nullptr);
    ASSERT_TRUE(
        session->Run({"x"}, {MakeF32({4, 4}, MlpInput(4, 1))}, {}).ok());
    EXPECT_GT(counting.live_bytes(), 0);
  }
  EXPECT_EQ(counting.live_bytes(), 0);
}

// ---- Concurrency
// ---------------------------------------------------------------

// Each thread runs its own batch size; unoptimised, every call also writes
// intermediates into its execution context's arena.
TEST(SessionConcurrencyTest, ConcurrentRunsWithDifferentBatches) {
  for (bool optimize : {true, false}) {
    SCOPED_TRACE(optimize ? "optimized" : "not optimized");
    SessionOptions o = OneThread();
    o.max_batch = 8;
    o.optimize = optimize;
    auto session = LoadMlp(o);
    ASSERT_NE(session, nullptr);
    constexpr int kThreads = 8;
    constexpr int kIterations = 25;
    // References computed single-threaded by the same session.
    std::vector<std::vector<float>> inputs(kThreads), want_y(kThreads),
        want_h(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      const int64_t batch = t + 1;
      inputs[t] = MlpInput(batch, 100 + t);
      auto r = session->Run({"x"}, {MakeF32({batch, 4}, inputs[t])}, {});
      ASSERT_TRUE(r.ok()) << r.status();
      want_y[t] = F32Values((*r)[0]);
      want_h[t] = F32Values((*r)[1]);
      ExpectNear(want_y[t], ReferenceMlp(inputs[t], batch).y, "reference y");
    }
    std::atomic<int> mismatches{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const int64_t batch = t + 1;
        const Tensor x = MakeF32({batch, 4}, inputs[t]);
        for (int i = 0; i < kIterations; ++i) {
          auto r = session->Run({"x"}, {x}, {});
          if (!r.ok()) {
            failures.fetch_add(1);
            continue;
          }
          if (F32Values((*r)[0]) != want_y[t] ||
              F32Values((*r)[1]) != want_h[t])
            mismatches.fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
  }
}

}  // namespace
}  // namespace tensorpod::internal

namespace tensorpod::internal {
namespace {

// A constant subgraph that would need 64 GiB: folding must refuse it without
// allocating, and running must fail with RESOURCE_EXHAUSTED, not exhaust the
// machine.
TEST(SessionMemoryLimitTest, HugeIntermediatesAreRefusedNotAllocated) {
  ModelBuilder b;
  b.Input("x", {1}).Output("y", {-1});
  b.InitializerI64("big", {2}, {int64_t{1} << 17, int64_t{1} << 17});
  b.Node("ConstantOfShape", {"big"}, {"huge"}, "fill");
  b.Node("Shape", {"huge"}, {"s"}, "shape");
  b.Node("Cast", {"s"}, {"sf"}, "cast");
  SetIntAttr(b.proto().mutable_graph()->mutable_node(2)[0], "to", onnx::TensorProto::FLOAT);
  b.Node("Add", {"sf", "x"}, {"y"}, "add");
  SessionOptions options;
  options.memory_limit_bytes = size_t{1} << 30;
  auto session = LoadForTest(b, options);
  ASSERT_TRUE(session.ok()) << session.status();
  const Tensor x = MakeF32({1}, {1.0f});
  auto y = (*session)->Run({"x"}, {x}, {});
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(y.status().message().find("memory limit"), std::string::npos) << y.status();
}

TEST(SessionMemoryLimitTest, RunsWithinTheLimit) {
  ModelBuilder b;
  b.Input("x", {-1, 4}).Output("y", {-1, 4});
  b.Node("Relu", {"x"}, {"y"});
  SessionOptions options;
  options.memory_limit_bytes = 1024;
  auto session = LoadForTest(b, options);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_TRUE((*session)->Run({"x"}, {MakeF32({2, 4}, RandomFloats(8, 1))}, {}).ok());
  auto big = (*session)->Run({"x"}, {MakeF32({512, 4}, RandomFloats(2048, 2))}, {});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tensorpod::internal
