#include "engine/scheduler.h"

#include <algorithm>
#include <limits>
#include <tuple>

#include "core/check.h"

namespace ag::engine {

int32_t StepPlan::n_tokens() const {
  int32_t n = 0;
  for (const auto& c : chunks) n += c.n_tokens;
  return n;
}

Scheduler::Scheduler(const SchedulerConfig& config, kv::BlockPool& pool)
    : config_(config),
      pool_(pool),
      levels_(static_cast<size_t>(config.priority_levels)),
      n_queued_(static_cast<size_t>(config.priority_levels), 0) {
  AG_CHECK(config_.validate().ok(), "invalid scheduler config: %s",
           config_.validate().error().message.c_str());
}

int32_t Scheduler::blocks_for(int64_t n_tokens) const {
  const int64_t bs = pool_.block_size();
  return static_cast<int32_t>((n_tokens + bs - 1) / bs);
}

bool Scheduler::fits_alone(int64_t n_tokens) const {
  return n_tokens >= 0 && blocks_for(n_tokens) <= pool_.n_blocks();
}

Seq& Scheduler::seq(RequestId id) {
  auto it = seqs_.find(id);
  AG_CHECK(it != seqs_.end(), "unknown request %llu", static_cast<unsigned long long>(id));
  return it->second;
}

const Seq* Scheduler::find(RequestId id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : &it->second;
}

void Scheduler::enqueue(Seq& s) {
  Level& level = levels_[static_cast<size_t>(s.priority - 1)];
  auto& q = s.delayed ? level.delayed : level.punctual;
  // Kept in arrival order: a preempted request goes back ahead of later arrivals.
  auto pos = std::upper_bound(q.begin(), q.end(), s.order,
                              [this](uint64_t order, RequestId other) { return order < seq(other).order; });
  q.insert(pos, s.id);
  s.state = SeqState::Waiting;
}

void Scheduler::dequeue(const Seq& s) {
  Level& level = levels_[static_cast<size_t>(s.priority - 1)];
  auto& q = s.delayed ? level.delayed : level.punctual;
  auto it = std::find(q.begin(), q.end(), s.id);
  AG_CHECK(it != q.end(), "request %llu not in its queue", static_cast<unsigned long long>(s.id));
  q.erase(it);
}

AddResult Scheduler::add(SeqSpec spec, int64_t now_us) {
  AG_CHECK(!spec.prompt.empty(), "empty prompt");
  AG_CHECK(spec.priority >= 1 && spec.priority <= config_.priority_levels, "priority %d",
           spec.priority);
  AG_CHECK(!seqs_.contains(spec.id), "duplicate request id %llu",
           static_cast<unsigned long long>(spec.id));
  const size_t level = static_cast<size_t>(spec.priority - 1);
  const QueuePolicy& policy = config_.policy(spec.priority);
  if (policy.max_queue_size > 0 && n_queued_[level] >= policy.max_queue_size)
    return AddResult::QueueFull;
  Seq s;
  s.id = spec.id;
  s.priority = spec.priority;
  s.order = next_order_++;
  s.arrival_us = now_us;
  s.deadline_us = spec.timeout_us > 0 ? now_us + spec.timeout_us : 0;
  s.n_prompt = static_cast<int32_t>(spec.prompt.size());
  s.tokens = std::move(spec.prompt);
  Seq& stored = seqs_.emplace(s.id, std::move(s)).first->second;
  enqueue(stored);
  ++n_queued_[level];
  return AddResult::Ok;
}

void Scheduler::expire_timeouts(int64_t now_us, StepPlan& plan) {
  for (auto& level : levels_) {
    const std::vector<RequestId> ids(level.punctual.begin(), level.punctual.end());
    for (RequestId id : ids) {
      Seq& s = seq(id);
      if (s.started || s.deadline_us == 0 || now_us < s.deadline_us) continue;
      dequeue(s);
      if (config_.policy(s.priority).timeout_action == TimeoutAction::Reject) {
        --n_queued_[static_cast<size_t>(s.priority - 1)];
        plan.timed_out.push_back(id);
        seqs_.erase(id);
      } else {
        s.delayed = true;
        s.deadline_us = 0;
        enqueue(s);
      }
    }
  }
}

void Scheduler::sort_running() {
  std::sort(running_.begin(), running_.end(), [this](RequestId a, RequestId b) {
    const Seq& sa = seq(a);
    const Seq& sb = seq(b);
    return std::tie(sa.priority, sa.order) < std::tie(sb.priority, sb.order);
  });
}

void Scheduler::preempt(RequestId id, StepPlan& plan, int32_t& budget) {
  Seq& s = seq(id);
  AG_CHECK(s.state == SeqState::Running, "preempting a request that is not running");
  running_.erase(std::find(running_.begin(), running_.end(), id));
  auto chunk = std::find_if(plan.chunks.begin(), plan.chunks.end(),
                            [id](const ScheduledChunk& c) { return c.id == id; });
  if (chunk != plan.chunks.end()) {
    budget += chunk->n_tokens;
    plan.chunks.erase(chunk);
  }
  // Full blocks were committed as they filled, so they stay findable in the prefix cache until
  // evicted: recomputation after re-admission is mostly cache hits when the pool recovers.
  pool_.release(s.blocks);
  s.blocks.clear();
  s.n_computed = 0;
  s.n_committed = 0;
  s.last_hash = kv::kRootHash;
  ++s.n_preemptions;
  ++n_preempted_total_;
  enqueue(s);
  plan.preempted.push_back(id);
}

namespace {
// Larger key = lower priority, then newer: preempted first.
std::tuple<int32_t, uint64_t> victim_key(const Seq& s) { return {s.priority, s.order}; }
}  // namespace

StepPlan Scheduler::schedule(int64_t now_us) {
  StepPlan plan;
  int32_t budget = config_.max_batch_tokens;
  const int32_t bs = pool_.block_size();
  expire_timeouts(now_us, plan);

  if (running_.empty() && config_.max_queue_delay_us > 0) {
    int64_t oldest = std::numeric_limits<int64_t>::max();
    int64_t n_tokens = 0;
    int32_t n = 0;
    for (const auto& level : levels_)
      for (const auto* q : {&level.punctual, &level.delayed})
        for (RequestId id : *q) {
          const Seq& s = seq(id);
          oldest = std::min(oldest, s.arrival_us);
          n_tokens += static_cast<int64_t>(s.tokens.size());
          ++n;
        }
    if (n > 0 && now_us < oldest + config_.max_queue_delay_us &&
        n_tokens < config_.max_batch_tokens && n < config_.max_running) {
      plan.wait_until_us = oldest + config_.max_queue_delay_us;
      return plan;
    }
  }

  // The running request to preempt for `s`: the lowest priority, newest one other than s, and
  // only one that comes after s (strictly lower priority when `strict`).
  auto find_victim = [&](const Seq& s, bool strict) -> const Seq* {
    const Seq* victim = nullptr;
    for (RequestId id : running_) {
      const Seq& r = seq(id);
      if (id == s.id) continue;
      const bool after = strict ? r.priority > s.priority : victim_key(r) > victim_key(s);
      if (after && (!victim || victim_key(r) > victim_key(*victim))) victim = &r;
    }
    return victim;
  };

  bool admissions_closed = false;  // after a preemption among running requests (no thrash)

  // Advances a running request by what it still has to compute (within budget and pool).
  auto run_chunk = [&](Seq& s) {
    const int32_t remaining = static_cast<int32_t>(s.tokens.size()) - s.n_computed;
    AG_CHECK(remaining > 0, "running request with nothing to compute");
    int32_t n = std::min(remaining, budget);
    int32_t need = 0;
    for (;;) {
      need = blocks_for(int64_t{s.n_computed} + n) - static_cast<int32_t>(s.blocks.size());
      if (need <= pool_.n_free()) break;
      admissions_closed = true;
      if (const Seq* v = find_victim(s, false)) {
        preempt(v->id, plan, budget);
        continue;
      }
      const int32_t capacity =
          (static_cast<int32_t>(s.blocks.size()) + pool_.n_free()) * bs - s.n_computed;
      if (capacity > 0) {  // a shorter prefill chunk fits
        n = capacity;
        continue;
      }
      preempt(s.id, plan, budget);
      return;
    }
    AG_CHECK(pool_.allocate(need, s.blocks), "allocation of %d blocks failed", need);
    plan.chunks.push_back({s.id, s.n_computed, n, s.n_computed + n == static_cast<int32_t>(s.tokens.size())});
    budget -= n;
  };

  auto admit = [&](Seq& s) -> bool {
    if (n_running() >= config_.max_running) {
      const Seq* v = find_victim(s, true);
      if (!v) return false;
      preempt(v->id, plan, budget);
    }
    std::vector<kv::BlockHash> hashes;
    std::vector<kv::BlockId> hits;
    const int32_t n_tokens = static_cast<int32_t>(s.tokens.size());
    // At least the last token is computed: its logits give the next token.
    if (config_.prefix_cache) hits = pool_.find_prefix(s.tokens, (n_tokens - 1) / bs, &hashes);
    const int32_t n_hit = static_cast<int32_t>(hits.size());
    int32_t n = std::min(n_tokens - n_hit * bs, budget);
    int32_t need = 0;
    for (;;) {
      need = blocks_for(int64_t{n_hit} * bs + n) - n_hit;
      const int32_t available = pool_.n_free() - pool_.count_free(hits);
      if (need <= available) break;
      if (const Seq* v = find_victim(s, true)) {
        // Hit blocks the victim shared stay cached (now free): count_free() sees them next turn.
        preempt(v->id, plan, budget);
        continue;
      }
      if (available > 0) {
        n = available * bs;
        continue;
      }
      return false;
    }
    dequeue(s);
    pool_.retain(hits);
    s.blocks = hits;
    AG_CHECK(pool_.allocate(need, s.blocks), "allocation of %d blocks failed", need);
    s.n_computed = n_hit * bs;
    s.n_committed = n_hit;
    s.last_hash = hashes.empty() ? kv::kRootHash : hashes.back();
    if (!s.started) {
      s.started = true;
      s.deadline_us = 0;
      s.n_cached_tokens = n_hit * bs;
      --n_queued_[static_cast<size_t>(s.priority - 1)];
    }
    s.delayed = false;
    if (config_.prefix_cache) {
      prefix_query_tokens_ += static_cast<uint64_t>(n_tokens);
      prefix_hit_tokens_ += static_cast<uint64_t>(n_hit) * bs;
    }
    s.state = SeqState::Running;
    running_.push_back(s.id);
    plan.chunks.push_back({s.id, s.n_computed, n, s.n_computed + n == n_tokens});
    budget -= n;
    return true;
  };

  auto still_running = [&](RequestId id) {
    const Seq* s = find(id);
    return s && s->state == SeqState::Running;
  };

  sort_running();
  // Level by level, highest first: decodes (one token each, they keep every stream moving), then
  // prefill chunks of running requests, then admissions. Strict priority between levels:
  //  - a level that prefills in this step takes the step: lower levels wait for the next one, so
  //    a priority-1 arrival's first token costs one step of its own prompt, not of everyone's;
  //  - a step with no priority-1 work is capped at background_step_tokens rows, so the step a
  //    priority-1 arrival has to wait out is short.
  // With one level this is: decodes, then prefill chunks, then admissions, under max_batch_tokens.
  const int32_t background_cap = config_.background_step_tokens();
  for (int32_t p = 1; p <= config_.priority_levels; ++p) {
    if (p == 2 && plan.chunks.empty()) budget = std::min(budget, background_cap);
    for (RequestId id : std::vector<RequestId>(running_)) {
      if (budget <= 0) break;
      if (!still_running(id)) continue;
      Seq& s = seq(id);
      if (s.priority == p && static_cast<int32_t>(s.tokens.size()) - s.n_computed == 1) run_chunk(s);
    }
    for (RequestId id : std::vector<RequestId>(running_)) {
      if (budget <= 0) break;
      if (!still_running(id)) continue;
      Seq& s = seq(id);
      if (s.priority != p || static_cast<int32_t>(s.tokens.size()) - s.n_computed <= 1) continue;
      run_chunk(s);
    }
    Level& level = levels_[static_cast<size_t>(p - 1)];
    for (auto* q : {&level.punctual, &level.delayed}) {
      for (RequestId id : std::vector<RequestId>(q->begin(), q->end())) {
        if (admissions_closed || budget <= 0) break;
        if (std::find(plan.preempted.begin(), plan.preempted.end(), id) != plan.preempted.end())
          continue;  // preempted in this step: not back before the next
        if (!admit(seq(id))) admissions_closed = true;  // strict order: nobody overtakes
      }
    }
    // Did this level prefill (prompt tokens, or more than one token after a preemption)?
    bool prefilled = false;
    for (const auto& c : plan.chunks) {
      const Seq* s = find(c.id);
      prefilled = prefilled || (s && s->priority == p && (c.n_tokens > 1 || c.pos < s->n_prompt));
    }
    if (prefilled && config_.priority_levels > 1) break;
  }
  return plan;
}

void Scheduler::on_computed(const StepPlan& plan) {
  const int32_t bs = pool_.block_size();
  for (const auto& c : plan.chunks) {
    auto it = seqs_.find(c.id);
    if (it == seqs_.end()) continue;  // removed since the plan was made
    Seq& s = it->second;
    AG_CHECK(s.n_computed == c.pos, "chunk at %d but %d computed", c.pos, s.n_computed);
    s.n_computed += c.n_tokens;
    if (!config_.prefix_cache) continue;
    while ((s.n_committed + 1) * bs <= s.n_computed) {
      const auto block_tokens =
          std::span<const int32_t>(s.tokens).subspan(static_cast<size_t>(s.n_committed) * bs, bs);
      s.last_hash = pool_.commit(s.blocks[static_cast<size_t>(s.n_committed)], s.last_hash, block_tokens);
      ++s.n_committed;
    }
  }
}

void Scheduler::append_token(RequestId id, int32_t token) {
  Seq& s = seq(id);
  AG_CHECK(s.n_computed == static_cast<int32_t>(s.tokens.size()),
           "appending a token before the previous ones were computed");
  s.tokens.push_back(token);
}

bool Scheduler::remove(RequestId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return false;
  Seq& s = it->second;
  if (s.state == SeqState::Running) {
    running_.erase(std::find(running_.begin(), running_.end(), id));
  } else {
    dequeue(s);
    if (!s.started) --n_queued_[static_cast<size_t>(s.priority - 1)];
  }
  pool_.release(s.blocks);
  seqs_.erase(it);
  return true;
}

int32_t Scheduler::n_waiting() const {
  int32_t n = 0;
  for (const auto& level : levels_) n += static_cast<int32_t>(level.punctual.size() + level.delayed.size());
  return n;
}

int32_t Scheduler::n_waiting(int32_t priority) const {
  AG_CHECK(priority >= 1 && priority <= config_.priority_levels, "priority %d", priority);
  const Level& level = levels_[static_cast<size_t>(priority - 1)];
  return static_cast<int32_t>(level.punctual.size() + level.delayed.size());
}

int32_t Scheduler::n_queued(int32_t priority) const {
  AG_CHECK(priority >= 1 && priority <= config_.priority_levels, "priority %d", priority);
  return n_queued_[static_cast<size_t>(priority - 1)];
}

int64_t Scheduler::next_deadline_us() const {
  int64_t next = -1;
  for (const auto& level : levels_)
    for (RequestId id : level.punctual) {
      const Seq& s = seqs_.at(id);
      if (!s.started && s.deadline_us > 0 && (next < 0 || s.deadline_us < next)) next = s.deadline_us;
    }
  return next;
}

}  // namespace ag::engine
