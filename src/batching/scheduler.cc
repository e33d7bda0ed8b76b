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
  levels_.resize(policy_.priority_levels + 1);
}

// ------------------------------------------------------------------ IdTable

uint32_t BatchScheduler::IdTable::Find(uint64_t id) const {
  if (cells_.empty()) return kNone;
  const size_t mask = cells_.size() - 1;
  for (size_t i = Home(id);; i = (i + 1) & mask) {
    if (cells_[i].slot == kNone) return kNone;
    if (cells_[i].id == id) return cells_[i].slot;
  }
}

void BatchScheduler::IdTable::Grow() {
  std::vector<Cell> old;
  old.swap(cells_);
  const size_t capacity = old.empty() ? 64 : old.size() * 2;
  cells_.assign(capacity, Cell{});
  shift_ = 64 - __builtin_ctzll(capacity);
  used_ = 0;
  for (const Cell& c : old) {
    if (c.slot != kNone) Insert(c.id, c.slot);
  }
}

void BatchScheduler::IdTable::Insert(uint64_t id, uint32_t slot) {
  if ((used_ + 1) * 2 > cells_.size()) Grow();  // load factor <= 1/2
  const size_t mask = cells_.size() - 1;
  size_t i = Home(id);
  while (cells_[i].slot != kNone) i = (i + 1) & mask;
  cells_[i] = Cell{id, slot};
  ++used_;
}

void BatchScheduler::IdTable::Erase(uint64_t id) {
  const size_t mask = cells_.size() - 1;
  size_t i = Home(id);
  while (cells_[i].id != id || cells_[i].slot == kNone) i = (i + 1) & mask;
  // Backward shift: pull later cells of the probe run into the hole unless
  // their home lies cyclically in (hole, cell].
  for (size_t j = (i + 1) & mask; cells_[j].slot != kNone; j = (j + 1) & mask) {
    const size_t home = Home(cells_[j].id);
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    cells_[i] = cells_[j];
    i = j;
  }
  cells_[i] = Cell{};
  --used_;
}

void BatchScheduler::IdTable::Clear() {
  std::fill(cells_.begin(), cells_.end(), Cell{});
  used_ = 0;
}

// ---------------------------------------------------------------- the queue

void BatchScheduler::Link(uint32_t slot, uint32_t level) {
  Entry& e = slab_[slot];
  Level& l = levels_[level];
  e.level = level;
  e.prev = l.tail;
  e.next = kNone;
  if (l.tail == kNone) {
    l.head = slot;
  } else {
    slab_[l.tail].next = slot;
  }
  l.tail = slot;
}

void BatchScheduler::Unlink(uint32_t slot) {
  Entry& e = slab_[slot];
  Level& l = levels_[e.level];
  if (e.prev == kNone) {
    l.head = e.next;
  } else {
    slab_[e.prev].next = e.next;
  }
  if (e.next == kNone) {
    l.tail = e.prev;
  } else {
    slab_[e.next].prev = e.prev;
  }
  e.prev = e.next = kNone;
}

uint32_t BatchScheduler::InternKey(const std::vector<int64_t>& shape) {
  auto it = key_ids_.find(shape);
  if (it != key_ids_.end()) {
    ++keys_[it->second].count;
    return it->second;
  }
  uint32_t k;
  if (!free_keys_.empty()) {
    k = free_keys_.back();
    free_keys_.pop_back();
  } else {
    k = static_cast<uint32_t>(keys_.size());
    keys_.emplace_back();
  }
  keys_[k].shape = shape;
  keys_[k].count = 1;
  key_ids_.emplace(shape, k);
  return k;
}

Status BatchScheduler::Enqueue(const QueuedRequest& r) {
  TP_CHECK_ARG(r.rows >= 1 && r.rows <= policy_.max_batch_size,
               "a request of batch " << r.rows << " does not fit max_batch_size " << policy_.max_batch_size);
  const int priority = r.priority == 0 ? policy_.default_priority : r.priority;
  TP_CHECK_ARG(priority >= 1 && priority <= policy_.priority_levels,
               "priority " << r.priority << " is not in [1, " << policy_.priority_levels << "]");
  TP_CHECK_ARG(r.timeout_us >= 0, "timeout must be >= 0 us, got " << r.timeout_us);
  TP_INTERNAL_CHECK(index_.Find(r.id) == kNone, "request " << r.id << " queued twice");
  if (policy_.max_queue_size > 0 && size() >= policy_.max_queue_size) {
    return TP_ERROR(kResourceExhausted, "the batch queue is full (" << policy_.max_queue_size << " requests)");
  }
  // A request may shorten the default timeout, never lengthen it.
  int64_t timeout = policy_.default_timeout_us;
  if (r.timeout_us > 0 && (timeout == 0 || r.timeout_us < timeout)) timeout = r.timeout_us;
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    TP_INTERNAL_CHECK(slab_.size() < kNone, "the batch queue holds too many requests");
    slot = static_cast<uint32_t>(slab_.size());
    slab_.emplace_back();
  }
  Entry& e = slab_[slot];
  e.id = r.id;
  e.rows = r.rows;
  e.arrival_us = r.arrival_us;
  e.deadline_us = timeout > 0 ? SaturatingAdd(r.arrival_us, timeout) : kNoDeadline;
  e.payload = r.payload;
  e.key = InternKey(r.key);
  Link(slot, static_cast<uint32_t>(priority - 1));
  index_.Insert(r.id, slot);
  if (e.deadline_us != kNoDeadline) deadlines_.emplace(e.deadline_us, r.id);
  ++size_;
  return Status::Ok();
}

void BatchScheduler::SetLimits(int64_t max_batch, int64_t delay_us) {
  max_batch_ = std::clamp<int64_t>(max_batch, 1, policy_.max_batch_size);
  delay_us_ = std::clamp<int64_t>(delay_us, 0, policy_.max_queue_delay_us);
}

void BatchScheduler::Erase(uint32_t slot) {
  Entry& e = slab_[slot];
  if (e.deadline_us != kNoDeadline) deadlines_.erase({e.deadline_us, e.id});
  Key& k = keys_[e.key];
  if (--k.count == 0) {
    key_ids_.erase(k.shape);
    free_keys_.push_back(e.key);
  }
  Unlink(slot);
  index_.Erase(e.id);
  e.payload = nullptr;
  free_slots_.push_back(slot);
  --size_;
}

bool BatchScheduler::Remove(uint64_t id, void** payload) {
  const uint32_t slot = index_.Find(id);
  if (slot == kNone) return false;
  if (payload != nullptr) *payload = slab_[slot].payload;
  Erase(slot);
  return true;
}

std::vector<uint64_t> BatchScheduler::ExpireTimeouts(int64_t now, std::vector<void*>* payloads) {
  // Deadlines are kept in order: this costs nothing while none is due.
  std::vector<uint32_t> due;
  for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it) {
    due.push_back(index_.Find(it->second));
  }
  if (due.empty()) return {};
  // Requests time out in queue order (priority, then arrival).
  std::sort(due.begin(), due.end(), [&](uint32_t a, uint32_t b) {
    const Entry& ea = slab_[a];
    const Entry& eb = slab_[b];
    if (ea.level != eb.level) return ea.level < eb.level;
    return ea.arrival_us != eb.arrival_us ? ea.arrival_us < eb.arrival_us : ea.id < eb.id;
  });
  std::vector<uint64_t> rejected;
  const uint32_t delayed = static_cast<uint32_t>(levels_.size() - 1);
  for (uint32_t slot : due) {
    Entry& e = slab_[slot];
    if (policy_.timeout_action == TimeoutAction::kReject) {
      rejected.push_back(e.id);
      if (payloads != nullptr) payloads->push_back(e.payload);
      Erase(slot);
    } else {
      deadlines_.erase({e.deadline_us, e.id});
      e.deadline_us = kNoDeadline;
      Unlink(slot);
      Link(slot, delayed);
    }
  }
  return rejected;
}

std::vector<uint32_t> BatchScheduler::Keys() const {
  // One shape queued (the usual case): no scan.
  if (key_ids_.size() == 1) return {key_ids_.begin()->second};
  std::vector<uint32_t> keys;
  std::vector<char> seen(keys_.size(), 0);
  for (const Level& l : levels_) {
    for (uint32_t s = l.head; s != kNone && keys.size() < key_ids_.size(); s = slab_[s].next) {
      const uint32_t k = slab_[s].key;
      if (!seen[k]) {
        seen[k] = 1;
        keys.push_back(k);
      }
    }
  }
  return keys;
}

BatchScheduler::Candidate BatchScheduler::Gather(uint32_t key) const {
  Candidate c;
  for (size_t level = 0; level < levels_.size() && !c.complete; ++level) {
    for (uint32_t s = levels_[level].head; s != kNone; s = slab_[s].next) {
      const Entry& e = slab_[s];
      if (e.key != key) continue;
      // A request over a lowered (SLO) cap runs alone.
      if (c.rows + e.rows > max_batch_ && !c.members.empty()) {
        c.complete = true;  // the next request of this key does not fit
        break;
      }
      c.members.push_back(s);
      c.rows += e.rows;
      c.oldest_us = std::min(c.oldest_us, e.arrival_us);
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
      rows += slab_[c.members[i]].rows;
      if (std::binary_search(policy_.preferred_batch_sizes.begin(), policy_.preferred_batch_sizes.end(), rows)) {
        best = i + 1;
      }
    }
    if (best > 0) return best;
  }
  const bool go = c.complete || delay_us_ == 0 || now - c.oldest_us >= delay_us_;
  return go ? c.members.size() : 0;
}

std::vector<uint64_t> BatchScheduler::NextBatch(int64_t now, std::vector<void*>* payloads) {
  // The first shape (in priority order) whose batch is ready: a batch
  // waiting for its delay does not hold back a ready one of another shape.
  for (uint32_t key : Keys()) {
    const Candidate c = Gather(key);
    const size_t take = Ready(c, now);
    if (take == 0) continue;
    std::vector<uint64_t> ids;
    ids.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      ids.push_back(slab_[c.members[i]].id);
      if (payloads != nullptr) payloads->push_back(slab_[c.members[i]].payload);
      Erase(c.members[i]);
    }
    return ids;
  }
  return {};
}

int64_t BatchScheduler::NextEventUs(int64_t now) const {
  (void)now;
  int64_t next = deadlines_.empty() ? INT64_MAX : deadlines_.begin()->first;
  if (delay_us_ > 0) {
    for (uint32_t key : Keys()) {
      const Candidate c = Gather(key);
      if (!c.members.empty()) next = std::min(next, SaturatingAdd(c.oldest_us, delay_us_));
    }
  }
  return next;
}

std::vector<uint64_t> BatchScheduler::DrainAll(std::vector<void*>* payloads) {
  std::vector<uint64_t> ids;
  for (Level& l : levels_) {
    for (uint32_t s = l.head; s != kNone; s = slab_[s].next) {
      ids.push_back(slab_[s].id);
      if (payloads != nullptr) payloads->push_back(slab_[s].payload);
    }
    l = Level{};
  }
  slab_.clear();
  free_slots_.clear();
  index_.Clear();
  deadlines_.clear();
  keys_.clear();
  free_keys_.clear();
  key_ids_.clear();
  size_ = 0;
  return ids;
}

}  // namespace tensorpod::internal
