// BatchScheduler: the dynamic batcher's decisions, without threads or
// tensors, so every rule is testable with a fake clock. It holds queued
// requests (id, priority, batch rows, shape key, arrival time, deadline) and
// answers "which requests form the next batch now?".
//
// Rules (the semantics of Triton's dynamic batcher):
// - Requests are taken by priority (1 = highest), FIFO within a level;
//   requests whose timeout expired with action DELAY come after all others.
// - A batch holds requests of one shape key only (identical non-batch
//   shapes and dtypes) and at most max_batch_size rows; a request is never
//   split.
// - A batch is dispatched at once when it is full, when it reaches a
//   preferred batch size, when nothing more can join it (the next request
//   of its key does not fit), or when its oldest request has waited
//   max_queue_delay_us (0: at once, with what is there).
// - A full queue (max_queue_size requests) refuses new ones.
// Not thread-safe: the Batcher calls it under its lock. Requests live in a
// slab with intrusive per-priority lists and an open-addressing id table,
// and shape keys are interned, so a request costs no allocation once the
// queue has grown to its working size.
//
// Example:
//   BatchScheduler s(policy);
//   TP_RETURN_IF_ERROR(s.Enqueue({.id = 1, .rows = 1, .key = {..}, .arrival_us = now}));
//   std::vector<uint64_t> batch = s.NextBatch(now);   // empty: wait until s.NextEventUs()
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tensorpod::internal {

enum class TimeoutAction { kReject, kDelay };

struct BatchPolicy {
  int64_t max_batch_size = 1;                  // Batcher: 0 = the model has no batch dimension
  std::vector<int64_t> preferred_batch_sizes;  // each in [1, max_batch_size]
  int64_t max_queue_delay_us = 0;
  int64_t max_queue_size = 0;                  // requests; 0: unbounded
  int priority_levels = 1;                     // levels 1..priority_levels, 1 highest
  int default_priority = 0;                    // 0: the middle level, (levels + 1) / 2
  int64_t default_timeout_us = 0;              // 0: none
  TimeoutAction timeout_action = TimeoutAction::kReject;
};

// INVALID_ARGUMENT naming the first bad field.
Status ValidatePolicy(const BatchPolicy& p);

struct QueuedRequest {
  uint64_t id = 0;
  int priority = 0;                // 0: the policy's default
  int64_t rows = 1;                // the request's own batch size
  std::vector<int64_t> key;        // shape key: requests batch only with equal keys
  int64_t arrival_us = 0;
  int64_t timeout_us = 0;          // 0: the policy's default; may only lower it
  void* payload = nullptr;         // the caller's; handed back when the request leaves
};

class BatchScheduler {
 public:
  explicit BatchScheduler(BatchPolicy policy);

  // RESOURCE_EXHAUSTED when the queue is full; INVALID_ARGUMENT for a
  // request larger than max_batch_size or a priority out of range.
  Status Enqueue(const QueuedRequest& r);
  // Removes a queued request (cancellation); false when it is not queued.
  // `payload`, when given, receives the request's.
  bool Remove(uint64_t id, void** payload = nullptr);
  // Applies timeouts due at `now`: requests with action REJECT are removed
  // and returned (the caller completes them with DEADLINE_EXCEEDED); DELAY
  // requests move behind all others.
  std::vector<uint64_t> ExpireTimeouts(int64_t now, std::vector<void*>* payloads = nullptr);
  // The requests of the batch to run now, in order; empty when the batch
  // should wait (or nothing is queued).
  std::vector<uint64_t> NextBatch(int64_t now, std::vector<void*>* payloads = nullptr);
  // The earliest time at which NextBatch or ExpireTimeouts may answer
  // differently without a new request; INT64_MAX when never.
  int64_t NextEventUs(int64_t now) const;
  // Removes and returns every queued request (shutdown).
  std::vector<uint64_t> DrainAll(std::vector<void*>* payloads = nullptr);

  // SLO mode: a lower batch cap and delay than the policy's (clamped to
  // them). A request larger than the cap still runs, alone.
  void SetLimits(int64_t max_batch, int64_t delay_us);
  int64_t max_batch() const { return max_batch_; }
  int64_t delay_us() const { return delay_us_; }

  int64_t size() const { return size_; }
  // The earliest deadline of a queued request; INT64_MAX when none has one.
  int64_t EarliestDeadlineUs() const { return deadlines_.empty() ? INT64_MAX : deadlines_.begin()->first; }
  // Whether Enqueue would refuse for lack of room, even after applying the
  // timeouts due at `now`. Cheap: for refusing early under overload.
  bool Full(int64_t now) const {
    return policy_.max_queue_size > 0 && size() >= policy_.max_queue_size && EarliestDeadlineUs() > now;
  }
  const BatchPolicy& policy() const { return policy_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr int64_t kNoDeadline = INT64_MAX;
  // One queued request, at a fixed index of slab_.
  struct Entry {
    uint64_t id = 0;
    int64_t rows = 0;
    int64_t arrival_us = 0;
    int64_t deadline_us = kNoDeadline;  // kNoDeadline: none
    void* payload = nullptr;
    uint32_t key = 0;          // index into keys_
    uint32_t level = 0;        // index into levels_; the last holds delayed requests
    uint32_t prev = kNone, next = kNone;  // the level's FIFO
  };
  struct Level {
    uint32_t head = kNone, tail = kNone;
  };
  struct Key {
    std::vector<int64_t> shape;
    int64_t count = 0;  // queued requests with this key
  };
  // id -> slab index: linear probing, deletion by backward shift.
  class IdTable {
   public:
    uint32_t Find(uint64_t id) const;  // kNone when absent
    void Insert(uint64_t id, uint32_t slot);
    void Erase(uint64_t id);
    void Clear();

   private:
    struct Cell {
      uint64_t id = 0;
      uint32_t slot = kNone;  // kNone: empty
    };
    size_t Home(uint64_t id) const { return (id * 0x9E3779B97F4A7C15ull) >> shift_; }
    void Grow();
    std::vector<Cell> cells_;
    size_t used_ = 0;
    int shift_ = 64;
  };
  // The candidates of a batch of one shape key, in priority order, as many
  // as fit. `complete` when no more can join.
  struct Candidate {
    std::vector<uint32_t> members;  // slab indices
    int64_t rows = 0;
    int64_t oldest_us = INT64_MAX;
    bool complete = false;
  };
  Candidate Gather(uint32_t key) const;
  // The distinct shape keys queued, in priority order of their first request.
  std::vector<uint32_t> Keys() const;
  // How many of the candidate's requests to dispatch at `now`; 0: wait.
  size_t Ready(const Candidate& c, int64_t now) const;
  void Link(uint32_t slot, uint32_t level);
  void Unlink(uint32_t slot);
  uint32_t InternKey(const std::vector<int64_t>& shape);
  // Removes the request in `slot` from every structure and frees the slot.
  void Erase(uint32_t slot);

  BatchPolicy policy_;
  int64_t max_batch_;  // in effect: the policy's, or lower in SLO mode
  int64_t delay_us_;
  std::vector<Entry> slab_;
  std::vector<uint32_t> free_slots_;
  std::vector<Level> levels_;  // priority levels 1..L, then the delayed queue
  IdTable index_;
  int64_t size_ = 0;
  std::set<std::pair<int64_t, uint64_t>> deadlines_;  // (deadline, id) of queued requests that have one
  std::vector<Key> keys_;
  std::vector<uint32_t> free_keys_;
  std::map<std::vector<int64_t>, uint32_t> key_ids_;  // the keys queued now
};

}  // namespace tensorpod::internal
