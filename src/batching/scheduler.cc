#include "batching/scheduler.h"

#include <algorithm>

namespace {
// a + b without overflow past INT64_MAX (both >= 0 where it matters).
int64_t SaturatingAdd(int64_t a, int64_t b) { return b > 0 && a > INT64_MAX - b ? INT64_MAX : a + b; }
}  // namespace

namespace tensorpod::internal {

Status ValidatePolicy(const BatchPolicy& p) {
  TP_CHECK_ARG(p.max_batch_size >= 1, "max_batch_size must be >= 1, got " << p.max_batch_size);
  for (int64_t s : p.preferred_batch_sizes) {
    TP_CHECK_ARG(s >= 1 && s <= p.max_batch_size,
                 "preferred batch size " << s << " is not in [1, max_batch_size " << p.max_batch_size << "]");
  }
  TP_CHECK_ARG(p.max_queue_delay_us >= 0, "max_queue_delay_us must be >= 0, got " << p.max_queue_delay_us);
  TP_CHECK_ARG(p.max_queue_size >= 0, "max_queue_size must be >= 0, got " << p.max_queue_size);
  TP_CHECK_ARG(p.priority_levels >= 1 && p.priority_levels <= 1000,
               "priority_levels must be in [1, 1000], got " << p.priority_levels);
  TP_CHECK_ARG(p.default_priority >= 0 && p.default_priority <= p.priority_levels,
               "default priority " << p.default_priority << " is not in [1, priority_levels "
                                   << p.priority_levels << "] (or 0 for the middle level)");
  TP_CHECK_ARG(p.default_timeout_us >= 0, "default timeout must be >= 0 us, got " << p.default_timeout_us);
  return Status::Ok();
}

BatchScheduler::BatchScheduler(BatchPolicy policy)
    : policy_(std::move(policy)), max_batch_(policy_.max_batch_size), delay_us_(policy_.max_queue_delay_us) {
  std::sort(policy_.preferred_batch_sizes.begin(), policy_.preferred_batch_sizes.end());
  if (policy_.default_priority == 0) policy_.default_priority = (policy_.priority_levels + 1) / 2;
  queues_.resize(policy_.priority_levels + 1);
}

Status BatchScheduler::Enqueue(const QueuedRequest& r) {
  TP_CHECK_ARG(r.rows >= 1 && r.rows <= policy_.max_batch_size,
               "a request of batch " << r.rows << " does not fit max_batch_size " << policy_.max_batch_size);
  const int priority = r.priority == 0 ? policy_.default_priority : r.priority;
  TP_CHECK_ARG(priority >= 1 && priority <= policy_.priority_levels,
               "priority " << r.priority << " is not in [1, " << policy_.priority_levels << "]");
  TP_CHECK_ARG(r.timeout_us >= 0, "timeout must be >= 0 us, got " << r.timeout_us);
  TP_INTERNAL_CHECK(index_.count(r.id) == 0, "request " << r.id << " queued twice");
  if (policy_.max_queue_size > 0 && size() >= policy_.max_queue_size) {
    return TP_ERROR(kResourceExhausted, "the batch queue is full (" << policy_.max_queue_size << " requests)");
  }
  // A request may shorten the default timeout, never lengthen it.
  int64_t timeout = policy_.default_timeout_us;
  if (r.timeout_us > 0 && (timeout == 0 || r.timeout_us < timeout)) timeout = r.timeout_us;
  Queue& q = queues_[priority - 1];
  const int64_t deadline = timeout > 0 ? SaturatingAdd(r.arrival_us, timeout) : kNoDeadline;
  q.push_back(Entry{r.id, r.rows, r.key, r.arrival_us, deadline});
  index_[r.id] = Where{priority - 1, std::prev(q.end())};
  if (deadline != kNoDeadline) deadlines_.emplace(deadline, r.id);
  ++key_counts_[r.key];
  return Status::Ok();
}

void BatchScheduler::SetLimits(int64_t max_batch, int64_t delay_us) {
  max_batch_ = std::clamp<int64_t>(max_batch, 1, policy_.max_batch_size);
  delay_us_ = std::clamp<int64_t>(delay_us, 0, policy_.max_queue_delay_us);
}

void BatchScheduler::DropKey(const std::vector<int64_t>& key) {
  auto k = key_counts_.find(key);
  if (--k->second == 0) key_counts_.erase(k);
}

void BatchScheduler::Erase(uint64_t id) {
  auto it = index_.find(id);
  const int64_t deadline = it->second.it->deadline_us;
  if (deadline != kNoDeadline) deadlines_.erase({deadline, id});
  DropKey(it->second.it->key);
  queues_[it->second.level].erase(it->second.it);
  index_.erase(it);
}

bool BatchScheduler::Remove(uint64_t id) {
  if (index_.count(id) == 0) return false;
  Erase(id);
  return true;
}

std::vector<uint64_t> BatchScheduler::ExpireTimeouts(int64_t now) {
  // Deadlines are kept in order: this costs nothing while none is due.
  std::vector<uint64_t> due;
  for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it) due.push_back(it->second);
  // Requests time out in queue order (priority, then arrival).
  std::sort(due.begin(), due.end(), [&](uint64_t a, uint64_t b) {
    const Where& wa = index_.at(a);
    const Where& wb = index_.at(b);
    if (wa.level != wb.level) return wa.level < wb.level;
    return wa.it->arrival_us != wb.it->arrival_us ? wa.it->arrival_us < wb.it->arrival_us : a < b;
  });
  std::vector<uint64_t> rejected;
  Queue& delayed = queues_.back();
  const int delayed_level = static_cast<int>(queues_.size()) - 1;
  for (uint64_t id : due) {
    Where& w = index_.at(id);
    deadlines_.erase({w.it->deadline_us, id});
    if (policy_.timeout_action == TimeoutAction::kReject) {
      rejected.push_back(id);
      DropKey(w.it->key);
      queues_[w.level].erase(w.it);
      index_.erase(id);
    } else {
      w.it->deadline_us = kNoDeadline;
      delayed.splice(delayed.end(), queues_[w.level], w.it);
      w.level = delayed_level;  // the iterator stays valid across splice
    }
  }
  return rejected;
}

std::vector<const std::vector<int64_t>*> BatchScheduler::Keys() const {
  std::vector<const std::vector<int64_t>*> keys;
  // One shape queued (the usual case): no scan.
  if (key_counts_.size() == 1) return {&key_counts_.begin()->first};
  for (const Queue& q : queues_) {
    for (const Entry& e : q) {
      bool seen = false;
      for (const auto* k : keys) seen = seen || *k == e.key;
      if (!seen) keys.push_back(&e.key);
    }
  }
  return keys;
}

BatchScheduler::Candidate BatchScheduler::Gather(const std::vector<int64_t>& key) const {
  Candidate c;
  for (size_t level = 0; level < queues_.size() && !c.complete; ++level) {
    const Queue& q = queues_[level];
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (it->key != key) continue;
      // A request over a lowered (SLO) cap runs alone.
      if (c.rows + it->rows > max_batch_ && !c.members.empty()) {
        c.complete = true;  // the next request of this key does not fit
        break;
      }
      c.members.push_back(Where{static_cast<int>(level), Queue::iterator(const_cast<Queue&>(q).erase(it, it))});
      c.rows += it->rows;
      c.oldest_us = std::min(c.oldest_us, it->arrival_us);
      if (c.rows >= max_batch_) {
        c.complete = true;
        break;
      }
    }
  }
  return c;
}

size_t BatchScheduler::Ready(const Candidate& c, int64_t now) const {
  if (c.members.empty()) return 0;
  if (!policy_.preferred_batch_sizes.empty() && !(c.complete && c.rows >= max_batch_)) {
    // The longest prefix whose rows make a preferred size goes at once.
    int64_t rows = 0;
    size_t best = 0;
    for (size_t i = 0; i < c.members.size(); ++i) {
      rows += c.members[i].it->rows;
      if (std::binary_search(policy_.preferred_batch_sizes.begin(), policy_.preferred_batch_sizes.end(), rows)) {
        best = i + 1;
      }
    }
    if (best > 0) return best;
  }
  const bool go = c.complete || delay_us_ == 0 || now - c.oldest_us >= delay_us_;
  return go ? c.members.size() : 0;
}

std::vector<uint64_t> BatchScheduler::NextBatch(int64_t now) {
  // The first shape (in priority order) whose batch is ready: a batch
  // waiting for its delay does not hold back a ready one of another shape.
  for (const std::vector<int64_t>* key : Keys()) {
    const Candidate c = Gather(*key);
    const size_t take = Ready(c, now);
    if (take == 0) continue;
    std::vector<uint64_t> ids;
    ids.reserve(take);
    for (size_t i = 0; i < take; ++i) ids.push_back(c.members[i].it->id);
    for (uint64_t id : ids) Erase(id);
    return ids;
  }
  return {};
}

int64_t BatchScheduler::NextEventUs(int64_t now) const {
  int64_t next = deadlines_.empty() ? INT64_MAX : deadlines_.begin()->first;
  if (delay_us_ > 0) {
    for (const std::vector<int64_t>* key : Keys()) {
      const Candidate c = Gather(*key);
      if (!c.members.empty()) next = std::min(next, SaturatingAdd(c.oldest_us, delay_us_));
    }
  }
  return next;
}

std::vector<uint64_t> BatchScheduler::DrainAll() {
  deadlines_.clear();
  key_counts_.clear();
  std::vector<uint64_t> ids;
  for (Queue& q : queues_) {
    for (const Entry& e : q) ids.push_back(e.id);
    q.clear();
  }
  index_.clear();
  return ids;
}

}  // namespace tensorpod::internal
