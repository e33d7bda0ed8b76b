// The batcher's time source, injected so tests drive time by hand.
//
// Example:
//   FakeClock clock;
//   clock.Advance(std::chrono::microseconds(500));
//   int64_t now = clock.NowMicros();
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tensorpod::internal {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic microseconds since an arbitrary origin.
  virtual int64_t NowMicros() const = 0;
};

class SteadyClock : public Clock {
 public:
  static SteadyClock& Get() {
    static SteadyClock c;
    return c;
  }
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_us = 0) : now_(start_us) {}
  int64_t NowMicros() const override { return now_.load(); }
  void Advance(int64_t us) { now_.fetch_add(us); }
  void Set(int64_t us) { now_.store(us); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace tensorpod::internal
