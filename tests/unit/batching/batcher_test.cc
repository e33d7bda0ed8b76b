// Batcher over a real session (the small MLP of test_models.h): values,
// every completion path, and a many-thread stress run that checks every
// request got its own rows back.
#include "batching/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <random>
#include <thread>

#include "unit/test_models.h"

namespace tensorpod::internal {
namespace {

std::unique_ptr<Session> Mlp() {
  SessionOptions o;
  o.threads = 1;
  auto s = LoadForTest(SmallMlp(), o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(s).value() : nullptr;
}

BatchRequest MlpRequest(const std::vector<float>& x, int priority = 0) {
  BatchRequest r;
  r.input_names = {"x"};
  r.inputs = {MakeF32({static_cast<int64_t>(x.size() / 4), 4}, x)};
  r.priority = priority;
  return r;
}

// True when `out` is the MLP's output for `x` (y then h).
::testing::AssertionResult IsMlpOf(const BatchResult& out, const std::vector<float>& x) {
  if (!out.ok()) return ::testing::AssertionFailure() << out.status();
  const int64_t rows = static_cast<int64_t>(x.size() / 4);
  const MlpOutputs want = ReferenceMlp(x, rows);
  if (out->size() != 2 || (*out)[0].shape() != Shape{rows, 3}) {
    return ::testing::AssertionFailure() << "unexpected outputs";
  }
  const std::vector<float> y = F32Values((*out)[0]), h = F32Values((*out)[1]);
  for (size_t i = 0; i < y.size(); ++i) {
    if (std::abs(y[i] - want.y[i]) > 1e-4f) return ::testing::AssertionFailure() << "y[" << i << "] = " << y[i];
  }
  for (size_t i = 0; i < h.size(); ++i) {
    if (std::abs(h[i] - want.h[i]) > 1e-4f) return ::testing::AssertionFailure() << "h[" << i << "] = " << h[i];
  }
  return ::testing::AssertionSuccess();
}

BatcherOptions Options(int64_t max_batch, int64_t delay_us = 0, const Clock* clock = nullptr) {
  BatcherOptions o;
  o.policy.max_batch_size = max_batch;
  o.policy.max_queue_delay_us = delay_us;
  o.clock = clock;
  return o;
}

TEST(BatcherTest, EachCallerGetsItsOwnRows) {
  auto session = Mlp();
  ASSERT_NE(session, nullptr);
  // Full batches of 4 rows only: the fake clock never lets the delay expire.
  FakeClock clock;
  auto b = Batcher::Create(session.get(), Options(4, 1'000'000, &clock));
  ASSERT_TRUE(b.ok()) << b.status();
  std::vector<std::vector<float>> xs;
  std::vector<std::future<BatchResult>> futures;
  for (int i = 0; i < 4; ++i) {
    xs.push_back(RandomFloats(4, 100 + i, -2, 2));
    futures.push_back((*b)->Submit(MlpRequest(xs.back())));
  }
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(IsMlpOf(futures[i].get(), xs[i])) << i;
  const LoadReport r = (*b)->Report();
  EXPECT_DOUBLE_EQ(r.mean_batch_size, 4.0);
  EXPECT_DOUBLE_EQ(r.mean_batch_fill, 1.0);
  EXPECT_EQ(r.queue_depth, 0);
}

TEST(BatcherTest, RequestsWithSeveralRows) {
  auto session = Mlp();
  FakeClock clock;
  auto b = Batcher::Create(session.get(), Options(6, 1'000'000, &clock));
  ASSERT_TRUE(b.ok()) << b.status();
  const std::vector<float> x1 = RandomFloats(12, 1, -2, 2), x2 = RandomFloats(8, 2, -2, 2),
                           x3 = RandomFloats(4, 3, -2, 2);
  auto f1 = (*b)->Submit(MlpRequest(x1));  // 3 rows
  auto f2 = (*b)->Submit(MlpRequest(x2));  // 2 rows
  auto f3 = (*b)->Submit(MlpRequest(x3));  // 1 row: 6, full
  EXPECT_TRUE(IsMlpOf(f1.get(), x1));
  EXPECT_TRUE(IsMlpOf(f2.get(), x2));
  EXPECT_TRUE(IsMlpOf(f3.get(), x3));
}

TEST(BatcherTest, DelayExpiresOnTheInjectedClock) {
  auto session = Mlp();
  FakeClock clock;
  auto b = Batcher::Create(session.get(), Options(8, 1000, &clock));
  ASSERT_TRUE(b.ok()) << b.status();
  const std::vector<float> x = RandomFloats(4, 7, -2, 2);
  auto f = (*b)->Submit(MlpRequest(x));
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(30)), std::future_status::timeout);
  clock.Advance(1000);
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(IsMlpOf(f.get(), x));
}

TEST(BatcherTest, CancelAQueuedRequest) {
  auto session = Mlp();
  FakeClock clock;
  auto b = Batcher::Create(session.get(), Options(8, 1000, &clock));
  ASSERT_TRUE(b.ok()) << b.status();
  std::promise<BatchResult> p;
  auto f = p.get_future();
  auto id = (*b)->Submit(MlpRequest(RandomFloats(4, 1)), [&p](BatchResult r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE((*b)->Cancel(*id));
  EXPECT_FALSE((*b)->Cancel(*id));
  EXPECT_EQ(f.get().status().code(), StatusCode::kCancelled);
}

TEST(BatcherTest, TimeoutRejects) {
  auto session = Mlp();
  FakeClock clock;
  BatcherOptions o = Options(8, 1'000'000, &clock);
  o.policy.default_timeout_us = 100;
  auto b = Batcher::Create(session.get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  auto f = (*b)->Submit(MlpRequest(RandomFloats(4, 1)));
  clock.Advance(100);
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get().status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*b)->Report().rejected, 1);
}

TEST(BatcherTest, QueueFullIsRefusedAtOnce) {
  auto session = Mlp();
  FakeClock clock;
  BatcherOptions o = Options(8, 1'000'000, &clock);
  o.policy.max_queue_size = 2;
  auto b = Batcher::Create(session.get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  auto f1 = (*b)->Submit(MlpRequest(RandomFloats(4, 1)));
  auto f2 = (*b)->Submit(MlpRequest(RandomFloats(4, 2)));
  bool called = false;
  auto third = (*b)->Submit(MlpRequest(RandomFloats(4, 3)), [&](BatchResult) { called = true; });
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(called);
  EXPECT_EQ((*b)->Report().queue_depth, 2);
  (*b)->Shutdown();
  EXPECT_EQ(f1.get().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f2.get().status().code(), StatusCode::kUnavailable);
}

// A full queue refuses without taking the lock; the refusal must end the
// moment a request leaves the queue (cancelled, timed out, dispatched).
TEST(BatcherTest, FullQueueTakesRequestsAgainOnceRoomIsMade) {
  auto session = Mlp();
  FakeClock clock;
  BatcherOptions o = Options(8, 1'000'000, &clock);
  o.policy.max_queue_size = 2;
  auto b = Batcher::Create(session.get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  std::promise<BatchResult> p1;
  auto f1 = p1.get_future();
  auto id1 = (*b)->Submit(MlpRequest(RandomFloats(4, 1)), [&p1](BatchResult r) { p1.set_value(std::move(r)); });
  ASSERT_TRUE(id1.ok());
  BatchRequest timed = MlpRequest(RandomFloats(4, 2));
  timed.timeout_us = 500;
  auto f2 = (*b)->Submit(std::move(timed));
  for (int i = 0; i < 3; ++i) {
    auto refused = (*b)->Submit(MlpRequest(RandomFloats(4, 3)), [](BatchResult) { ADD_FAILURE() << "called"; });
    EXPECT_TRUE(StatusIs(refused.status(), StatusCode::kResourceExhausted, {"full", "2 requests"}));
  }
  // Cancelling makes room at once.
  EXPECT_TRUE((*b)->Cancel(*id1));
  EXPECT_EQ(f1.get().status().code(), StatusCode::kCancelled);
  auto f3 = (*b)->Submit(MlpRequest(RandomFloats(4, 4)));
  EXPECT_TRUE(StatusIs((*b)->Submit(MlpRequest(RandomFloats(4, 5)), [](BatchResult) {}).status(),
                       StatusCode::kResourceExhausted, {"full"}));
  // Past its deadline the timed request no longer holds its place, even
  // before a worker notices.
  clock.Advance(500);
  const std::vector<float> x = RandomFloats(4, 6);
  auto f4 = (*b)->Submit(MlpRequest(x));
  ASSERT_EQ(f2.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f2.get().status().code(), StatusCode::kDeadlineExceeded);
  // Dispatching makes room too.
  clock.Advance(1'000'000);
  ASSERT_EQ(f4.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(IsMlpOf(f4.get(), x));
  EXPECT_TRUE(f3.get().ok());
  auto f5 = (*b)->Submit(MlpRequest(x));
  clock.Advance(1'000'000);
  ASSERT_EQ(f5.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(IsMlpOf(f5.get(), x));
  EXPECT_EQ((*b)->Report().rejected, 5);  // 4 refused, 1 timed out
}

// A slow completion callback occupies the worker as much as a slow model:
// it counts as busy time, so capacity and recommended replicas see it.
TEST(BatcherTest, CallbackTimeCountsAsBusy) {
  auto session = Mlp();
  ASSERT_NE(session, nullptr);
  auto b = Batcher::Create(session.get(), Options(1, 0));
  ASSERT_TRUE(b.ok()) << b.status();
  const std::vector<float> x = RandomFloats(4, 7);
  for (int i = 0; i < 5; ++i) {
    std::promise<void> done;
    BatchRequest r = MlpRequest(x);
    ASSERT_TRUE((*b)->Submit(std::move(r), [&](BatchResult) {
                  std::this_thread::sleep_for(std::chrono::milliseconds(20));
                  done.set_value();
                }).ok());
    done.get_future().wait();
  }
  // The worker records its busy time right after the last callback returns.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const LoadReport r = (*b)->Report();
  // 5 x 20 ms of callbacks in the window: at least 100 ms busy.
  EXPECT_GE(r.instance_busy_fraction * r.window_us / 1e6, 0.095) << r.instance_busy_fraction;
  EXPECT_LE(r.capacity_per_s, 5 / 0.095) << "capacity must not ignore the callbacks' time";
}

// Inputs are gathered into a buffer the next batch reuses: outputs that
// are the inputs passed through (Identity, a Reshape view) must not point
// into it.
TEST(BatcherTest, PassThroughOutputsSurviveTheNextBatch) {
  ModelBuilder mb;
  mb.Input("x", {-1, 4}).Output("same", {-1, 4}).Output("view", {-1, 2, 2});
  mb.InitializerI64("shape", {3}, {-1, 2, 2});
  mb.Node("Identity", {"x"}, {"same"});
  mb.Node("Reshape", {"x", "shape"}, {"view"});
  SessionOptions so;
  so.threads = 1;
  auto session = LoadForTest(mb, so);
  ASSERT_TRUE(session.ok()) << session.status();
  FakeClock clock;  // batches form only when full: two requests each
  auto b = Batcher::Create(session->get(), Options(2, 1'000'000, &clock));
  ASSERT_TRUE(b.ok()) << b.status();
  std::vector<std::vector<float>> xs;
  std::vector<BatchResult> results;
  for (int pair = 0; pair < 4; ++pair) {
    std::vector<std::future<BatchResult>> fs;
    for (int i = 0; i < 2; ++i) {
      xs.push_back(RandomFloats(4, 100 + static_cast<int>(xs.size())));
      BatchRequest r;
      r.input_names = {"x"};
      r.inputs = {MakeF32({1, 4}, xs.back())};
      fs.push_back((*b)->Submit(std::move(r)));
    }
    for (auto& f : fs) {
      ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
      results.push_back(f.get());
    }
  }
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(F32Values((*results[i])[0]), xs[i]) << "request " << i << ", same";
    EXPECT_EQ(F32Values((*results[i])[1]), xs[i]) << "request " << i << ", view";
  }
  EXPECT_EQ((*b)->Report().mean_batch_size, 2.0);
}

TEST(BatcherTest, ShutdownCompletesEveryQueuedRequest) {
  auto session = Mlp();
  FakeClock clock;
  auto b = Batcher::Create(session.get(), Options(64, 1'000'000, &clock));
  ASSERT_TRUE(b.ok()) << b.status();
  std::atomic<int> unavailable{0};
  for (int i = 0; i < 10; ++i) {
    auto id = (*b)->Submit(MlpRequest(RandomFloats(4, i)), [&](BatchResult r) {
      if (r.status().code() == StatusCode::kUnavailable) ++unavailable;
    });
    ASSERT_TRUE(id.ok());
  }
  (*b)->Shutdown();
  EXPECT_EQ(unavailable.load(), 10);
  auto late = (*b)->Submit(MlpRequest(RandomFloats(4, 1)));
  EXPECT_EQ(late.get().status().code(), StatusCode::kUnavailable);
}

TEST(BatcherTest, PreserveOrdering) {
  auto session = Mlp();
  BatcherOptions o = Options(4);
  o.instances = 4;
  o.preserve_ordering = true;
  auto b = Batcher::Create(session.get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::future<BatchResult>> done;
  for (int i = 0; i < 200; ++i) {
    auto p = std::make_shared<std::promise<BatchResult>>();
    done.push_back(p->get_future());
    const int64_t rows = 1 + i % 3;
    auto id = (*b)->Submit(MlpRequest(RandomFloats(rows * 4, i)), [&, i, p](BatchResult r) {
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      }
      p->set_value(std::move(r));
    });
    ASSERT_TRUE(id.ok()) << id.status();
  }
  for (auto& f : done) EXPECT_TRUE(f.get().ok());
  for (int i = 0; i < 200; ++i) ASSERT_EQ(order[i], i);
}

TEST(BatcherTest, BadRequestsAreRefused) {
  auto session = Mlp();
  auto b = Batcher::Create(session.get(), Options(4));
  ASSERT_TRUE(b.ok()) << b.status();
  bool called = false;
  auto cb = [&](BatchResult) { called = true; };
  BatchRequest wrong_name = MlpRequest(RandomFloats(4, 1));
  wrong_name.input_names = {"nope"};
  EXPECT_EQ((*b)->Submit(wrong_name, cb).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*b)->Submit(MlpRequest(RandomFloats(20, 1)), cb).status().code(), StatusCode::kInvalidArgument);
  BatchRequest ints;
  ints.input_names = {"x"};
  ints.inputs = {Tensor::Empty(DType::kI64, {1, 4}).value()};
  EXPECT_EQ((*b)->Submit(ints, cb).status().code(), StatusCode::kInvalidArgument);
  BatchRequest none;
  EXPECT_EQ((*b)->Submit(none, cb).status().code(), StatusCode::kInvalidArgument);
  // The model's fixed dimensions are checked at submission, naming them.
  BatchRequest narrow;
  narrow.input_names = {"x"};
  narrow.inputs = {MakeF32({1, 3}, RandomFloats(3, 1))};
  EXPECT_TRUE(StatusIs((*b)->Submit(narrow, cb).status(), StatusCode::kInvalidArgument,
                       {"input \"x\"", "[-1,4]", "[1,3]"}));
  BatchRequest flat;
  flat.input_names = {"x"};
  flat.inputs = {MakeF32({4}, RandomFloats(4, 1))};
  EXPECT_TRUE(StatusIs((*b)->Submit(flat, cb).status(), StatusCode::kInvalidArgument, {"[-1,4]", "[4]"}));
  EXPECT_FALSE(called);
  EXPECT_EQ((*b)->Submit(MlpRequest(RandomFloats(4, 1)), nullptr).status().code(), StatusCode::kInvalidArgument);
}

TEST(BatcherTest, NeedsABatchDimension) {
  ModelBuilder m;
  m.Input("x", {2, 4}).Output("y", {2, 4});
  m.Node("Relu", {"x"}, {"y"});
  auto session = LoadForTest(m);
  ASSERT_TRUE(session.ok());
  auto b = Batcher::Create(session->get(), Options(4));
  EXPECT_TRUE(StatusIs(b.status(), StatusCode::kInvalidArgument, {"dynamic leading", "\"x\""})) << b.status();
  EXPECT_TRUE(Batcher::Create(session->get(), Options(1)).ok());
  BatcherOptions bad = Options(4);
  bad.instances = 0;
  EXPECT_EQ(Batcher::Create(session->get(), bad).status().code(), StatusCode::kInvalidArgument);
}

// 16 threads submit requests of random sizes and priorities; every request
// completes exactly once with the outputs of its own input. The request
// count per thread is TP_BATCHER_STRESS_REQUESTS (CI's ThreadSanitizer run
// sets 5000).
TEST(BatcherStressTest, SixteenThreads) {
  const char* env = std::getenv("TP_BATCHER_STRESS_REQUESTS");
  const int per_thread = env != nullptr ? std::atoi(env) : 200;
  auto session = Mlp();
  BatcherOptions o = Options(16, 200);
  o.instances = 3;
  o.policy.priority_levels = 3;
  auto b = Batcher::Create(session.get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  std::atomic<int64_t> ok{0}, bad{0}, completions{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<std::future<BatchResult>> pending;
      std::vector<std::vector<float>> inputs;
      for (int i = 0; i < per_thread; ++i) {
        const int64_t rows = 1 + rng() % 4;
        inputs.push_back(RandomFloats(rows * 4, static_cast<uint32_t>(t * 100000 + i), -2, 2));
        pending.push_back((*b)->Submit(MlpRequest(inputs.back(), 1 + rng() % 3)));
        // Keep at most 32 in flight per thread.
        if (pending.size() >= 32) {
          for (size_t k = 0; k < pending.size(); ++k) {
            ++completions;
            (IsMlpOf(pending[k].get(), inputs[k]) ? ok : bad)++;
          }
          pending.clear();
          inputs.clear();
        }
      }
      for (size_t k = 0; k < pending.size(); ++k) {
        ++completions;
        (IsMlpOf(pending[k].get(), inputs[k]) ? ok : bad)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ok.load(), 16 * per_thread);
  EXPECT_EQ(completions.load(), 16 * per_thread);
  const LoadReport r = (*b)->Report();
  EXPECT_GE(r.mean_batch_size, 1.0);
  std::printf("stress: %d requests, mean batch %.2f rows\n", 16 * per_thread, r.mean_batch_size);
}

TEST(BatcherStressTest, ShutdownWhileFullLosesNothing) {
  auto session = Mlp();
  BatcherOptions o = Options(8, 100);
  o.instances = 2;
  auto b = Batcher::Create(session.get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  std::atomic<int64_t> submitted{0}, completed{0}, wrong{0};
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        auto x = std::make_shared<std::vector<float>>(RandomFloats(4, static_cast<uint32_t>(t * 1000000 + i), -2, 2));
        auto id = (*b)->Submit(MlpRequest(*x), [&, x](BatchResult r) {
          ++completed;
          if (r.ok() ? !IsMlpOf(r, *x) : r.status().code() != StatusCode::kUnavailable) ++wrong;
        });
        if (id.ok()) {
          ++submitted;
        } else if (id.status().code() == StatusCode::kUnavailable) {
          return;  // shut down
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*b)->Shutdown();
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_GT(submitted.load(), 0);
  EXPECT_EQ(completed.load(), submitted.load()) << "every accepted request completes exactly once";
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace tensorpod::internal

namespace tensorpod::internal {
namespace {

TEST(BatcherTest, SloModeServesCorrectly) {
  auto session = Mlp();
  BatcherOptions o = Options(16);
  o.slo_p99_ms = 5;
  o.instances = 2;
  auto b = Batcher::Create(session.get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  std::vector<std::vector<float>> xs;
  std::vector<std::future<BatchResult>> fs;
  for (int i = 0; i < 300; ++i) {
    xs.push_back(RandomFloats(4, 500 + i, -2, 2));
    fs.push_back((*b)->Submit(MlpRequest(xs.back())));
  }
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(IsMlpOf(fs[i].get(), xs[i])) << i;
  BatcherOptions bad = Options(16);
  bad.slo_p99_ms = -1;
  EXPECT_EQ(Batcher::Create(session.get(), bad).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tensorpod::internal

namespace tensorpod::internal {
namespace {

TEST(BatcherTest, CallbacksMaySubmitAndCancel) {
  auto session = Mlp();
  FakeClock clock;
  BatcherOptions o = Options(8, 1'000'000, &clock);
  o.preserve_ordering = true;
  auto b = Batcher::Create(session.get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  // Request 1 is cancelled; its callback cancels request 2 and submits a
  // third. Nothing deadlocks; every callback runs once, in order.
  std::vector<std::string> seen;
  std::mutex mu;
  auto record = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(what);
  };
  std::promise<BatchResult> third;
  auto third_done = third.get_future();
  uint64_t second = 0;
  auto first = (*b)->Submit(MlpRequest(RandomFloats(4, 1)), [&](BatchResult r) {
    record("1:" + std::string(StatusCodeName(r.status().code())));
    EXPECT_TRUE((*b)->Cancel(second));
    auto id = (*b)->Submit(MlpRequest(RandomFloats(4, 3)), [&](BatchResult r3) {
      record("3:" + std::string(StatusCodeName(r3.status().code())));
      third.set_value(std::move(r3));
    });
    EXPECT_TRUE(id.ok());
  });
  ASSERT_TRUE(first.ok());
  auto id2 = (*b)->Submit(MlpRequest(RandomFloats(4, 2)), [&](BatchResult r) {
    record("2:" + std::string(StatusCodeName(r.status().code())));
  });
  ASSERT_TRUE(id2.ok());
  second = *id2;
  EXPECT_TRUE((*b)->Cancel(*first));
  clock.Advance(1'000'000);  // let request 3 run
  ASSERT_EQ(third_done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(third_done.get().ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"1:CANCELLED", "2:CANCELLED", "3:OK"}));
}

TEST(BatcherTest, ShutdownTwiceFromTwoThreads) {
  auto session = Mlp();
  auto b = Batcher::Create(session.get(), Options(4));
  ASSERT_TRUE(b.ok());
  std::thread t1([&] { (*b)->Shutdown(); });
  std::thread t2([&] { (*b)->Shutdown(); });
  t1.join();
  t2.join();
  EXPECT_EQ((*b)->Submit(MlpRequest(RandomFloats(4, 1))).get().status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tensorpod::internal

namespace tensorpod::internal {
namespace {

TEST(BatcherTest, MaxBatchZeroServesModelsWithoutABatchDimension) {
  ModelBuilder m;
  m.Input("x", {2, 4}).Output("y", {2, 4});
  m.Node("Relu", {"x"}, {"y"});
  auto session = LoadForTest(m);
  ASSERT_TRUE(session.ok()) << session.status();
  BatcherOptions o = Options(0, 1000);
  o.policy.max_queue_size = 8;
  auto b = Batcher::Create(session->get(), o);
  ASSERT_TRUE(b.ok()) << b.status();
  std::vector<std::future<BatchResult>> fs;
  std::vector<std::vector<float>> xs;
  for (int i = 0; i < 5; ++i) {
    xs.push_back(RandomFloats(8, 40 + i, -1, 1));
    BatchRequest r;
    r.input_names = {"x"};
    r.inputs = {MakeF32({2, 4}, xs.back())};
    fs.push_back((*b)->Submit(r));
  }
  for (int i = 0; i < 5; ++i) {
    auto out = fs[i].get();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].shape(), (Shape{2, 4}));
    const std::vector<float> y = F32Values((*out)[0]);
    for (size_t k = 0; k < y.size(); ++k) EXPECT_EQ(y[k], std::max(0.0f, xs[i][k])) << i << " " << k;
  }
  EXPECT_DOUBLE_EQ((*b)->Report().mean_batch_size, 1.0);
  BatcherOptions bad = Options(0);
  bad.policy.preferred_batch_sizes = {2};
  EXPECT_EQ(Batcher::Create(session->get(), bad).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tensorpod::internal
