// The header-only C++ API (tensorpod.hpp) over the public library only:
// sessions, the batcher's callback and future forms, cancellation, load
// reports and option errors. tests/data/affine.onnx: x [batch,4] ->
// y = x * [1,2,3,4] + [0.5,-1,0,-10], z = Relu(y); every value is exact in
// float32.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tensorpod/tensorpod.hpp"

namespace tp = tensorpod;

namespace {

const float kScale[4] = {1, 2, 3, 4};
const float kBias[4] = {0.5f, -1, 0, -10};

tp::Session LoadAffine() {
  auto s = tp::Session::Load(TP_TEST_DATA_DIR "/affine.onnx", tp::SessionOptions().Device("cpu").Threads(1));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

// The affine model's y and z for `rows` rows of x, checked exactly.
::testing::AssertionResult IsAffineOf(const tp::Batcher::Result& r, const std::vector<float>& x) {
  if (!r.ok()) return ::testing::AssertionFailure() << r.status().ToString();
  const int64_t rows = static_cast<int64_t>(x.size() / 4);
  if (r->size() != 2) return ::testing::AssertionFailure() << r->size() << " outputs";
  for (int o = 0; o < 2; ++o) {
    const tp::Tensor& t = (*r)[o];
    if (t.shape() != std::vector<int64_t>{rows, 4}) return ::testing::AssertionFailure() << "output " << o << " shape";
    const float* d = t.Data<float>();
    for (size_t i = 0; i < x.size(); ++i) {
      float want = x[i] * kScale[i % 4] + kBias[i % 4];
      if (o == 1 && want < 0) want = 0;
      if (d[i] != want) return ::testing::AssertionFailure() << "output " << o << "[" << i << "] = " << d[i];
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<float> Rows(int rows, float start) {
  std::vector<float> x(static_cast<size_t>(rows) * 4);
  for (size_t i = 0; i < x.size(); ++i) x[i] = start + static_cast<float>(i);
  return x;
}

TEST(CppApiTest, SessionRunsAndDescribesItself) {
  tp::Session s = LoadAffine();
  EXPECT_EQ(s.Device(), "cpu");
  ASSERT_EQ(s.Inputs().size(), 1u);
  EXPECT_EQ(s.Inputs()[0].name, "x");
  EXPECT_EQ(s.Inputs()[0].shape, (std::vector<int64_t>{-1, 4}));
  ASSERT_EQ(s.Outputs().size(), 2u);
  std::vector<float> x = Rows(3, -4);
  tp::Tensor t = tp::Tensor::Borrow(x.data(), {3, 4}, tp::DType::kF32);
  auto out = s.Run({{"x", t}});
  EXPECT_TRUE(IsAffineOf(std::move(out), x));
  auto only_z = s.Run({{"x", t}}, {"z"});
  ASSERT_TRUE(only_z.ok());
  EXPECT_EQ(only_z->size(), 1u);
  auto bad = s.Run({{"nope", t}});
  EXPECT_EQ(bad.status().code(), tp::StatusCode::kInvalidArgument);
}

TEST(CppApiTest, BatcherFutureAndCallbackForms) {
  tp::Session s = LoadAffine();
  auto b = tp::Batcher::Create(
      s, tp::BatchOptions().MaxBatchSize(8).MaxQueueDelay(std::chrono::milliseconds(1)).Instances(2));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<std::vector<float>> xs;
  std::vector<tp::Tensor> ts;
  for (int i = 0; i < 16; ++i) xs.push_back(Rows(1 + i % 3, static_cast<float>(i * 10)));
  for (auto& x : xs) ts.push_back(tp::Tensor::Borrow(x.data(), {static_cast<int64_t>(x.size() / 4), 4}, tp::DType::kF32));
  std::vector<std::future<tp::Batcher::Result>> futures;
  for (int i = 0; i < 8; ++i) futures.push_back(b->Submit({{"x", ts[i]}}));
  std::vector<std::promise<tp::Batcher::Result>> promises(8);
  std::atomic<int> calls{0};
  for (int i = 8; i < 16; ++i) {
    auto id = b->Submit({{"x", ts[i]}}, [&, i](tp::Batcher::Result r) {
      ++calls;
      promises[i - 8].set_value(std::move(r));
    });
    ASSERT_TRUE(id.ok()) << id.status().ToString();
  }
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(IsAffineOf(futures[i].get(), xs[i])) << "request " << i;
  for (int i = 8; i < 16; ++i) EXPECT_TRUE(IsAffineOf(promises[i - 8].get_future().get(), xs[i])) << "request " << i;
  EXPECT_EQ(calls.load(), 8);
  auto report = b->Report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->queue_depth, 0);
  EXPECT_GE(report->recommended_replicas, 1);
  EXPECT_GT(report->mean_batch_size, 0);
  auto h = b->Histograms();
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->requests, 16);
  int64_t rows = 0;
  for (const auto& x : xs) rows += static_cast<int64_t>(x.size() / 4);
  EXPECT_EQ(h->rows, rows);
}

TEST(CppApiTest, BatcherErrorsAndCancellation) {
  tp::Session s = LoadAffine();
  // An invalid option is reported by Create, naming it.
  auto bad = tp::Batcher::Create(s, tp::BatchOptions().TargetUtilization(1.5));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), tp::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("utilization"), std::string::npos) << bad.status().message();
  auto bad_levels = tp::Batcher::Create(s, tp::BatchOptions().PriorityLevels(0));
  EXPECT_NE(bad_levels.status().message().find("priority_levels"), std::string::npos);

  auto b = tp::Batcher::Create(
      s, tp::BatchOptions().MaxBatchSize(4).MaxQueueDelay(std::chrono::seconds(30)).MaxQueueSize(2).PriorityLevels(2));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<float> x = Rows(1, 0);
  tp::Tensor t = tp::Tensor::Borrow(x.data(), {1, 4}, tp::DType::kF32);
  std::promise<tp::Batcher::Result> cancelled;
  auto id = b->Submit({{"x", t}}, [&](tp::Batcher::Result r) { cancelled.set_value(std::move(r)); },
                      tp::RequestOptions().Priority(2));
  ASSERT_TRUE(id.ok());
  auto timed = b->Submit({{"x", t}}, tp::RequestOptions().Timeout(std::chrono::milliseconds(20)));
  // The queue is full: the future form reports it through the future.
  auto refused = b->Submit({{"x", t}});
  EXPECT_EQ(refused.get().status().code(), tp::StatusCode::kResourceExhausted);
  // A bad priority is refused at once, with nothing queued.
  auto wrong = b->Submit({{"x", t}}, [](tp::Batcher::Result) { ADD_FAILURE() << "called"; },
                         tp::RequestOptions().Priority(3));
  EXPECT_EQ(wrong.status().code(), tp::StatusCode::kInvalidArgument);
  EXPECT_TRUE(b->Cancel(*id));
  EXPECT_FALSE(b->Cancel(*id));
  EXPECT_EQ(cancelled.get_future().get().status().code(), tp::StatusCode::kCancelled);
  EXPECT_EQ(timed.get().status().code(), tp::StatusCode::kDeadlineExceeded);
}

TEST(CppApiTest, DestroyingTheBatcherCompletesQueuedRequests) {
  tp::Session s = LoadAffine();
  std::vector<float> x = Rows(1, 0);
  tp::Tensor t = tp::Tensor::Borrow(x.data(), {1, 4}, tp::DType::kF32);
  std::vector<std::future<tp::Batcher::Result>> futures;
  {
    auto b = tp::Batcher::Create(s, tp::BatchOptions().MaxBatchSize(64).MaxQueueDelay(std::chrono::seconds(30)));
    ASSERT_TRUE(b.ok());
    for (int i = 0; i < 5; ++i) futures.push_back(b->Submit({{"x", t}}));
  }
  for (auto& f : futures) EXPECT_EQ(f.get().status().code(), tp::StatusCode::kUnavailable);
}

}  // namespace
