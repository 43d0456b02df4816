#pragma once
// The scheduler: pure logic over token counts and KV block ids, no model and no memory.
//
// Each step it decides which requests advance and by how many tokens, under a token budget
// (max_batch_tokens) and a cap on requests holding KV (max_running). Decodes and chunked prefills
// mix in one step: there is no prefill phase that stalls decoding.
//
//   1. Queue timeouts: a waiting request that was never scheduled and passed its deadline is
//      rejected (REJECT) or moved behind its level's punctual requests (DELAY).
//   2. Running requests, highest priority first, then oldest: each takes what it still has to
//      compute (1 token for a decode, a chunk of prompt otherwise) while budget lasts. When the
//      pool has no block for it, the last request of that order (lowest priority, newest) is
//      preempted: its blocks are released and it waits again, to be recomputed from its tokens
//      (prefix-cache hits make that cheap). A prefill shrinks its chunk before preempting itself.
//   3. If nothing was preempted in 2, waiting requests are admitted in strict priority order,
//      FIFO within a level (punctual queue, then delayed queue). A waiting request may preempt
//      running requests of strictly lower priority for a max_running slot or for blocks. On
//      admission its prompt is matched against the prefix cache; only the rest is computed.
//
// When nothing runs and max_queue_delay_us is set, the first arrival waits up to that long for
// company (unless the waiting work already fills a step).
//
// Never silently truncates: a request that could not fit the pool even alone is the caller's to
// reject before add() (see fits_alone()).
#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/queue_policy.h"
#include "kv/block_pool.h"

namespace ag::engine {

using RequestId = uint64_t;

struct SeqSpec {
  RequestId id = 0;
  int32_t priority = 1;         // 1..priority_levels (resolved by the caller)
  std::vector<int32_t> prompt;  // token ids, at least one
  int64_t timeout_us = 0;       // queue timeout (resolve_queue_timeout), 0 = none
};

enum class SeqState { Waiting, Running };

// A request as the scheduler sees it. Read-only outside the scheduler.
struct Seq {
  RequestId id = 0;
  int32_t priority = 1;
  uint64_t order = 0;        // arrival order: FIFO within a level, "newest" for preemption
  int64_t arrival_us = 0;
  int64_t deadline_us = 0;   // queue deadline, 0 = none; only before the first schedule
  std::vector<int32_t> tokens;  // [n_prompt + n_generated] prompt, then accepted output
  int32_t n_prompt = 0;
  int32_t n_computed = 0;       // leading tokens whose K/V are in `blocks`
  std::vector<kv::BlockId> blocks;  // block table: position p is in blocks[p / block_size]
  int32_t n_committed = 0;          // leading blocks made findable in the prefix cache
  kv::BlockHash last_hash = kv::kRootHash;  // chain hash of block n_committed - 1
  SeqState state = SeqState::Waiting;
  bool started = false;  // scheduled at least once (no queue timeout, not counted as queued)
  bool delayed = false;  // timed out with DELAY: waits behind punctual requests of its level
  int32_t n_preemptions = 0;
  int32_t n_cached_tokens = 0;  // prompt tokens served from the prefix cache at first admission
};

// One request's share of a step: tokens [pos, pos + n_tokens) of its sequence.
struct ScheduledChunk {
  RequestId id = 0;
  int32_t pos = 0;
  int32_t n_tokens = 0;
  bool want_logits = false;  // the chunk ends at the last known token: sample the next one
  bool operator==(const ScheduledChunk&) const = default;
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;  // batch order: running requests, then admissions
  std::vector<RequestId> preempted;    // running → waiting in this step (blocks released)
  std::vector<RequestId> timed_out;    // rejected by a REJECT queue timeout and removed
  int64_t wait_until_us = -1;          // >= 0: batching delay; nothing scheduled before then

  int32_t n_tokens() const;
  bool empty() const { return chunks.empty(); }
};

enum class AddResult { Ok, QueueFull };

class Scheduler {
 public:
  // `config` must be valid (SchedulerConfig::validate). The pool outlives the scheduler.
  Scheduler(const SchedulerConfig& config, kv::BlockPool& pool);

  const SchedulerConfig& config() const { return config_; }
  const kv::BlockPool& pool() const { return pool_; }

  // Whether a sequence of n_tokens positions fits the pool when it runs alone.
  bool fits_alone(int64_t n_tokens) const;

  // Queues a request (id unique among live requests). QueueFull when its level already holds
  // max_queue_size requests that have not started.
  AddResult add(SeqSpec spec, int64_t now_us);

  StepPlan schedule(int64_t now_us);

  // The forward pass of `plan` wrote K/V for every chunk: advances n_computed and makes newly
  // filled blocks findable in the prefix cache.
  void on_computed(const StepPlan& plan);

  // Appends a sampled token to a running request (it is computed in a later step).
  void append_token(RequestId id, int32_t token);

  // Removes a request in any state (finished, cancelled, failed) and releases its blocks.
  // Returns false when the id is unknown.
  bool remove(RequestId id);

  const Seq* find(RequestId id) const;

  int32_t n_running() const { return static_cast<int32_t>(running_.size()); }
  int32_t n_waiting() const;
  int32_t n_waiting(int32_t priority) const;  // all waiting at the level, preempted included
  int32_t n_queued(int32_t priority) const;   // never started: what max_queue_size bounds
  bool has_work() const { return !seqs_.empty(); }
  // Earliest queue deadline among waiting requests, or -1.
  int64_t next_deadline_us() const;

  // Counters since construction.
  uint64_t n_preempted_total() const { return n_preempted_total_; }
  uint64_t prefix_query_tokens() const { return prefix_query_tokens_; }
  uint64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }

 private:
  struct Level {
    std::deque<RequestId> punctual;  // FIFO by Seq::order
    std::deque<RequestId> delayed;
  };

  Seq& seq(RequestId id);
  int32_t blocks_for(int64_t n_tokens) const;
  void enqueue(Seq& s);          // into its level's queue, kept sorted by order
  void dequeue(const Seq& s);    // out of its level's queue
  void expire_timeouts(int64_t now_us, StepPlan& plan);
  // Releases a running request's blocks and puts it back in the queue; drops its chunk from
  // `plan` (refunding `budget`) when it was already scheduled in this step.
  void preempt(RequestId id, StepPlan& plan, int32_t& budget);
  // Running requests, highest priority first, then oldest.
  void sort_running();
  bool try_admit(Seq& s, StepPlan& plan, int32_t& budget);

  SchedulerConfig config_;
  kv::BlockPool& pool_;
  std::unordered_map<RequestId, Seq> seqs_;
  std::vector<Level> levels_;         // [priority_levels]
  std::vector<int32_t> n_queued_;     // [priority_levels] waiting and never started
  std::vector<RequestId> running_;
  uint64_t next_order_ = 0;
  uint64_t n_preempted_total_ = 0;
  uint64_t prefix_query_tokens_ = 0;
  uint64_t prefix_hit_tokens_ = 0;
};

}  // namespace ag::engine
