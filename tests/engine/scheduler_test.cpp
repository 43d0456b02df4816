// Scheduler: budgets, chunked prefill mixed with decodes, max_running, priorities, queue policy
// (size, timeouts REJECT / DELAY, overrides), batching delay, preemption, cancellation, prefix
// hits — all without a model.
#include "engine/scheduler.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace ag::engine {
namespace {

std::vector<int32_t> tokens(int n, int start = 1) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), start);
  return t;
}

SeqSpec spec(RequestId id, int n_prompt, int priority = 1, int start = 1, int64_t timeout = 0) {
  return SeqSpec{id, priority, tokens(n_prompt, start), timeout};
}

const ScheduledChunk* chunk_of(const StepPlan& plan, RequestId id) {
  for (const auto& c : plan.chunks)
    if (c.id == id) return &c;
  return nullptr;
}

// Runs a plan as the engine would: computes it, then gives every request that wants logits its
// next token (a function of its length), or removes it once it generated `n_gen[id]` tokens.
struct Driver {
  Scheduler& s;
  std::map<RequestId, int> n_gen;  // tokens to generate per request
  std::vector<RequestId> finished;
  void step_done(const StepPlan& plan) {
    s.on_computed(plan);
    for (const auto& c : plan.chunks) {
      if (!c.want_logits) continue;
      const Seq* q = s.find(c.id);
      const int generated = static_cast<int>(q->tokens.size()) - q->n_prompt;
      if (generated + 1 >= n_gen[c.id]) {  // this step's token is the last one
        finished.push_back(c.id);
        s.remove(c.id);
      } else {
        s.append_token(c.id, 1000 + static_cast<int32_t>(q->tokens.size()));
      }
    }
  }
  StepPlan step(int64_t now = 0) {
    StepPlan plan = s.schedule(now);
    step_done(plan);
    return plan;
  }
};

SchedulerConfig config(int max_batch_tokens, int max_running, int levels = 1) {
  SchedulerConfig c;
  c.max_batch_tokens = max_batch_tokens;
  c.max_running = max_running;
  c.priority_levels = levels;
  return c;
}

TEST(QueuePolicy, ValidateNamesTheSetting) {
  SchedulerConfig c = config(0, 1);
  EXPECT_NE(c.validate().error().message.find("max_batch_tokens"), std::string::npos);
  c = config(8, 1, 2);
  c.default_priority = 3;
  EXPECT_NE(c.validate().error().message.find("default_priority"), std::string::npos);
  c.default_priority = 2;
  EXPECT_TRUE(c.validate().ok());
  c.levels.resize(3);
  EXPECT_FALSE(c.validate().ok());
  c.levels.resize(2);
  c.levels[1].default_timeout_us = -1;
  EXPECT_NE(c.validate().error().message.find("level 2"), std::string::npos);
  EXPECT_EQ(*parse_timeout_action("delay"), TimeoutAction::Delay);
  EXPECT_EQ(*parse_timeout_action("REJECT"), TimeoutAction::Reject);
  EXPECT_FALSE(parse_timeout_action("drop").ok());
}

TEST(QueuePolicy, TimeoutOverride) {
  SchedulerConfig c = config(8, 1, 3);
  c.levels.resize(3);
  c.levels[0] = {0, 1000, TimeoutAction::Reject, true};   // default, override allowed
  c.levels[1] = {0, 1000, TimeoutAction::Reject, false};  // default, no override
  c.levels[2] = {0, 0, TimeoutAction::Reject, true};      // no default, override allowed
  EXPECT_EQ(*resolve_queue_timeout(c, 1, std::nullopt), 1000);
  EXPECT_EQ(*resolve_queue_timeout(c, 1, 500), 500);
  EXPECT_EQ(*resolve_queue_timeout(c, 1, 5000), 1000);  // only shorter
  EXPECT_EQ(*resolve_queue_timeout(c, 2, std::nullopt), 1000);
  EXPECT_FALSE(resolve_queue_timeout(c, 2, 500).ok());
  EXPECT_EQ(*resolve_queue_timeout(c, 3, std::nullopt), 0);
  EXPECT_EQ(*resolve_queue_timeout(c, 3, 700), 700);  // unlike Triton: no default needed
  EXPECT_FALSE(resolve_queue_timeout(c, 3, 0).ok());
}

TEST(Scheduler, ChunkedPrefillUnderTokenBudget) {
  kv::BlockPool pool(64, 4);
  Scheduler s(config(16, 4), pool);
  ASSERT_EQ(s.add(spec(1, 20), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(2, 6, 1, 100), 0), AddResult::Ok);
  Driver d{s, {{1, 3}, {2, 3}}};
  StepPlan p = d.step();
  ASSERT_EQ(p.chunks.size(), 1u);  // request 1 takes the whole budget
  EXPECT_EQ(p.chunks[0].n_tokens, 16);
  EXPECT_FALSE(p.chunks[0].want_logits);
  EXPECT_EQ(s.find(1)->blocks.size(), 4u);
  p = d.step();  // the rest of 1 (4) and a first chunk of 2 (6), 10 <= 16
  ASSERT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(*chunk_of(p, 1), (ScheduledChunk{1, 16, 4, true}));
  EXPECT_EQ(*chunk_of(p, 2), (ScheduledChunk{2, 0, 6, true}));
  p = d.step();  // two decodes
  EXPECT_EQ(p.n_tokens(), 2);
  EXPECT_EQ(*chunk_of(p, 1), (ScheduledChunk{1, 20, 1, true}));
  p = d.step();
  EXPECT_EQ(d.finished, (std::vector<RequestId>{1, 2}));
  EXPECT_FALSE(s.has_work());
  EXPECT_EQ(pool.n_free(), 64);
}

TEST(Scheduler, DecodesKeepRunningDuringLongPrefill) {
  kv::BlockPool pool(64, 4);
  Scheduler s(config(8, 4), pool);
  ASSERT_EQ(s.add(spec(1, 3), 0), AddResult::Ok);
  Driver d{s, {{1, 100}, {2, 2}}};
  d.step();  // 1 prefilled, now decoding
  ASSERT_EQ(s.add(spec(2, 40, 1, 50), 0), AddResult::Ok);
  for (int i = 0; i < 5; ++i) {
    StepPlan p = d.step();
    ASSERT_NE(chunk_of(p, 1), nullptr) << "decode stalled at step " << i;
    EXPECT_EQ(chunk_of(p, 1)->n_tokens, 1);
    EXPECT_EQ(chunk_of(p, 2)->n_tokens, 7);
    EXPECT_LE(p.n_tokens(), 8);
  }
}

TEST(Scheduler, MaxRunningCapsAdmission) {
  kv::BlockPool pool(64, 4);
  Scheduler s(config(100, 2), pool);
  for (RequestId id = 1; id <= 3; ++id) ASSERT_EQ(s.add(spec(id, 4, 1, int(id) * 10), 0), AddResult::Ok);
  Driver d{s, {{1, 2}, {2, 5}, {3, 5}}};
  StepPlan p = d.step();
  EXPECT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(s.n_running(), 2);
  EXPECT_EQ(s.n_waiting(), 1);
  p = d.step();  // 1 finishes here
  EXPECT_EQ(chunk_of(p, 3), nullptr);
  p = d.step();
  EXPECT_NE(chunk_of(p, 3), nullptr);  // its slot is free now
}

TEST(Scheduler, StrictPrioritiesFifoWithinLevel) {
  kv::BlockPool pool(64, 4);
  SchedulerConfig c = config(100, 1, 3);
  c.background_batch_tokens = 100;  // whole prompts per step, so each request shows once
  Scheduler s(c, pool);
  ASSERT_EQ(s.add(spec(1, 4, 3), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(2, 4, 2), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(3, 4, 2), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(4, 4, 1), 0), AddResult::Ok);
  EXPECT_EQ(s.n_waiting(2), 2);
  Driver d{s, {{1, 1}, {2, 1}, {3, 1}, {4, 1}}};
  std::vector<RequestId> order;
  while (s.has_work()) {
    StepPlan p = d.step();
    ASSERT_EQ(p.chunks.size(), 1u);
    order.push_back(p.chunks[0].id);
  }
  EXPECT_EQ(order, (std::vector<RequestId>{4, 2, 3, 1}));
}

TEST(Scheduler, QueueFullRejectsPerLevel) {
  kv::BlockPool pool(64, 4);
  SchedulerConfig c = config(100, 1, 2);
  c.levels = {{2, 0, TimeoutAction::Reject, false}, {}};
  Scheduler s(c, pool);
  EXPECT_EQ(s.add(spec(1, 4), 0), AddResult::Ok);
  EXPECT_EQ(s.add(spec(2, 4), 0), AddResult::Ok);
  EXPECT_EQ(s.add(spec(3, 4), 0), AddResult::QueueFull);
  EXPECT_EQ(s.add(spec(4, 4, 2), 0), AddResult::Ok);  // level 2 is unbounded
  EXPECT_EQ(s.find(3), nullptr);
  Driver d{s, {{1, 10}, {2, 10}, {4, 10}}};
  d.step();  // 1 starts: no longer queued
  EXPECT_EQ(s.n_queued(1), 1);
  EXPECT_EQ(s.add(spec(3, 4), 0), AddResult::Ok);
  EXPECT_EQ(s.add(spec(5, 4), 0), AddResult::QueueFull);
  EXPECT_TRUE(s.remove(2));  // a cancelled waiting request frees its place
  EXPECT_EQ(s.add(spec(5, 4), 0), AddResult::Ok);
}

TEST(Scheduler, QueueTimeoutReject) {
  kv::BlockPool pool(64, 4);
  SchedulerConfig c = config(100, 1);
  c.levels = {{0, 1000, TimeoutAction::Reject, true}};
  Scheduler s(c, pool);
  ASSERT_EQ(s.add(spec(1, 4, 1, 1, 1000), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(2, 4, 1, 1, 1000), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(3, 4, 1, 1, 300), 0), AddResult::Ok);
  EXPECT_EQ(s.next_deadline_us(), 300);
  Driver d{s, {{1, 50}, {2, 1}, {3, 1}}};
  StepPlan p = d.step(0);  // 1 starts: no timeout from now on
  EXPECT_TRUE(p.timed_out.empty());
  p = d.step(300);
  EXPECT_EQ(p.timed_out, (std::vector<RequestId>{3}));
  EXPECT_EQ(s.find(3), nullptr);
  p = d.step(999);
  EXPECT_TRUE(p.timed_out.empty());
  p = d.step(5000);
  EXPECT_EQ(p.timed_out, (std::vector<RequestId>{2}));
  EXPECT_NE(chunk_of(p, 1), nullptr);  // the running request is unaffected
  EXPECT_EQ(s.next_deadline_us(), -1);
}

TEST(Scheduler, QueueTimeoutDelayGoesBehindPunctualRequests) {
  kv::BlockPool pool(64, 4);
  SchedulerConfig c = config(100, 1, 2);
  c.levels = {{0, 1000, TimeoutAction::Delay, false}, {}};
  Scheduler s(c, pool);
  ASSERT_EQ(s.add(spec(1, 4, 1, 1, 1000), 0), AddResult::Ok);  // runs first
  ASSERT_EQ(s.add(spec(2, 4, 1, 1, 1000), 0), AddResult::Ok);  // will time out: delayed
  ASSERT_EQ(s.add(spec(9, 4, 2, 1, 0), 0), AddResult::Ok);     // lower level
  Driver d{s, {{1, 3}, {2, 1}, {3, 1}, {9, 1}}};
  d.step(0);
  d.step(1500);  // 2 times out (DELAY)
  ASSERT_NE(s.find(2), nullptr);
  EXPECT_TRUE(s.find(2)->delayed);
  ASSERT_EQ(s.add(spec(3, 4, 1, 1, 1000), 1600), AddResult::Ok);  // punctual, arrived later
  std::vector<RequestId> order;
  for (int64_t t = 1700; s.has_work(); t += 10) {
    StepPlan p = d.step(t);
    EXPECT_TRUE(p.timed_out.empty());
    for (const auto& ch : p.chunks)
      if (ch.pos == 0) order.push_back(ch.id);
  }
  EXPECT_EQ(order, (std::vector<RequestId>{3, 2, 9}));  // delayed: after 3, still before level 2
}

TEST(Scheduler, BatchingDelayWhenIdle) {
  kv::BlockPool pool(64, 4);
  SchedulerConfig c = config(16, 4);
  c.max_queue_delay_us = 500;
  Scheduler s(c, pool);
  ASSERT_EQ(s.add(spec(1, 4), 100), AddResult::Ok);
  StepPlan p = s.schedule(200);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.wait_until_us, 600);
  ASSERT_EQ(s.add(spec(2, 4), 300), AddResult::Ok);
  p = s.schedule(600);  // the delay is over: both in the first batch
  EXPECT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(p.wait_until_us, -1);
  s.on_computed(p);
  s.append_token(1, 7);
  s.append_token(2, 7);
  // Not idle: new arrivals are not delayed.
  ASSERT_EQ(s.add(spec(3, 4), 700), AddResult::Ok);
  p = s.schedule(700);
  EXPECT_EQ(p.chunks.size(), 3u);

  // A waiting set that already fills a step starts at once.
  kv::BlockPool pool2(64, 4);
  Scheduler s2(c, pool2);
  ASSERT_EQ(s2.add(spec(1, 20), 0), AddResult::Ok);
  p = s2.schedule(1);
  EXPECT_EQ(p.chunks.size(), 1u);
}

TEST(Scheduler, PreemptsNewestWhenPoolIsExhausted) {
  // 6 blocks of 2 tokens = 12 positions; two requests of 4 prompt tokens growing to 12 each.
  kv::BlockPool pool(6, 2);
  Scheduler s(config(64, 4), pool);
  ASSERT_EQ(s.add(spec(1, 4, 1, 1), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(2, 4, 1, 100), 0), AddResult::Ok);
  Driver d{s, {{1, 8}, {2, 8}}};
  std::vector<RequestId> preempted;
  int steps = 0;
  while (s.has_work() && steps++ < 100) {
    StepPlan p = d.step();
    preempted.insert(preempted.end(), p.preempted.begin(), p.preempted.end());
    EXPECT_LE(pool.n_used(), 6);
  }
  EXPECT_FALSE(s.has_work());
  ASSERT_FALSE(preempted.empty());
  EXPECT_EQ(preempted.front(), 2u);  // the newer one
  EXPECT_EQ(s.n_preempted_total(), preempted.size());
  EXPECT_EQ(d.finished, (std::vector<RequestId>{1, 2}));
  EXPECT_EQ(pool.n_free(), 6);
}

TEST(Scheduler, PreemptedRequestResumesWithItsTokensAndPrefixHits) {
  kv::BlockPool pool(5, 2);
  Scheduler s(config(64, 4), pool);
  ASSERT_EQ(s.add(spec(1, 4, 1, 1), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(2, 4, 1, 100), 0), AddResult::Ok);
  Driver d{s, {{1, 3}, {2, 4}}};  // 1 ends without evicting what 2 cached
  StepPlan p;
  do {
    p = d.step();
  } while (p.preempted.empty());
  const Seq* q = s.find(2);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->state, SeqState::Waiting);
  EXPECT_TRUE(q->blocks.empty());
  EXPECT_EQ(q->n_computed, 0);
  const std::vector<int32_t> kept = q->tokens;  // prompt + what it generated so far
  EXPECT_GT(kept.size(), 4u);
  // When it is back, the recompute covers exactly its tokens, partly from its cached blocks.
  while (s.find(2) && s.find(2)->state == SeqState::Waiting) p = d.step();
  ASSERT_NE(s.find(2), nullptr);
  const ScheduledChunk* c = chunk_of(p, 2);
  ASSERT_NE(c, nullptr);
  EXPECT_GT(c->pos, 0);  // prefix cache hit on its own committed blocks
  EXPECT_EQ(c->pos + c->n_tokens, static_cast<int32_t>(kept.size()));
  EXPECT_TRUE(c->want_logits);
  EXPECT_EQ(std::vector<int32_t>(s.find(2)->tokens.begin(), s.find(2)->tokens.begin() + kept.size()), kept);
  while (s.has_work()) d.step();
  EXPECT_EQ(pool.n_free(), 5);
}

TEST(Scheduler, HigherPriorityArrivalPreemptsForSlot) {
  kv::BlockPool pool(64, 4);
  Scheduler s(config(64, 2, 2), pool);
  ASSERT_EQ(s.add(spec(1, 4, 2), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(2, 4, 2), 0), AddResult::Ok);
  Driver d{s, {{1, 50}, {2, 50}, {3, 2}, {4, 2}}};
  d.step();
  d.step();
  ASSERT_EQ(s.add(spec(4, 4, 2), 0), AddResult::Ok);  // same level: waits
  ASSERT_EQ(s.add(spec(3, 4, 1), 0), AddResult::Ok);
  StepPlan p = d.step();
  EXPECT_EQ(p.preempted, (std::vector<RequestId>{2}));  // lowest priority, newest
  EXPECT_EQ(chunk_of(p, 2), nullptr);                    // its decode was dropped from the step
  EXPECT_EQ(chunk_of(p, 1), nullptr);  // a higher level prefills: lower levels wait one step
  EXPECT_NE(chunk_of(p, 3), nullptr);
  EXPECT_EQ(chunk_of(p, 4), nullptr);
  EXPECT_EQ(s.find(2)->state, SeqState::Waiting);
  EXPECT_EQ(pool.n_used(), static_cast<int32_t>(s.find(1)->blocks.size() + s.find(3)->blocks.size()));
}

TEST(Scheduler, PriorityOneArrivalTakesTheStepAndBackgroundStepsAreShort) {
  kv::BlockPool pool(256, 4);
  SchedulerConfig c = config(64, 4, 2);
  EXPECT_EQ(c.background_step_tokens(), 8);  // automatic: 2 x max_running
  c.background_batch_tokens = 6;
  EXPECT_EQ(c.background_step_tokens(), 6);
  EXPECT_EQ(config(64, 4, 1).background_step_tokens(), 64);  // one level: no cap
  c.background_batch_tokens = 0;
  Scheduler s(c, pool);
  for (RequestId id = 1; id <= 3; ++id) ASSERT_EQ(s.add(spec(id, 20, 2, 100 * id), 0), AddResult::Ok);
  Driver d{s, {{1, 100}, {2, 100}, {3, 100}, {9, 5}}};
  // Level-2 work alone: every step stays within the background cap, prefills included.
  for (int i = 0; i < 12; ++i) EXPECT_LE(d.step().n_tokens(), 8) << "step " << i;
  ASSERT_EQ(s.n_running(), 3);
  // A level-1 arrival: its whole prompt (up to max_batch_tokens) in one step, alone.
  ASSERT_EQ(s.add(spec(9, 30, 1, 900), 0), AddResult::Ok);
  StepPlan p = d.step();
  ASSERT_EQ(p.chunks.size(), 1u);
  EXPECT_EQ(p.chunks[0], (ScheduledChunk{9, 0, 30, true}));
  // Then level-1 decodes and level-2 work share steps again (no cap while level 1 runs).
  p = d.step();
  EXPECT_NE(chunk_of(p, 9), nullptr);
  EXPECT_NE(chunk_of(p, 1), nullptr);
  EXPECT_GT(p.n_tokens(), 1);
  while (s.find(9)) d.step();
  // Level 1 gone: background steps are capped again.
  for (int i = 0; i < 4; ++i) EXPECT_LE(d.step().n_tokens(), 8);
}

TEST(Scheduler, HigherPriorityArrivalPreemptsForBlocks) {
  kv::BlockPool pool(4, 4);
  Scheduler s(config(64, 8, 2), pool);
  ASSERT_EQ(s.add(spec(1, 12, 2), 0), AddResult::Ok);
  Driver d{s, {{1, 50}, {2, 2}}};
  d.step();
  EXPECT_EQ(pool.n_free(), 1);
  ASSERT_EQ(s.add(spec(2, 8, 1, 500), 0), AddResult::Ok);  // needs 2 blocks
  StepPlan p = d.step();
  EXPECT_EQ(p.preempted, (std::vector<RequestId>{1}));
  ASSERT_NE(chunk_of(p, 2), nullptr);
  EXPECT_EQ(chunk_of(p, 2)->n_tokens, 8);
  // Equal priority does not preempt: a level-2 arrival waits for blocks.
  while (s.find(2)) d.step();
  EXPECT_NE(s.find(1), nullptr);
}

TEST(Scheduler, PrefillShrinksToFreeBlocksRatherThanStall) {
  kv::BlockPool pool(4, 4);
  Scheduler s(config(64, 8), pool);
  ASSERT_EQ(s.add(spec(1, 4), 0), AddResult::Ok);
  Driver d{s, {{1, 3}, {2, 1}}};
  d.step();
  ASSERT_EQ(s.add(spec(2, 20, 1, 100), 0), AddResult::Ok);  // 5 blocks: cannot fit alongside 1
  EXPECT_FALSE(s.fits_alone(17));
  EXPECT_TRUE(s.fits_alone(16));
  StepPlan p = d.step();
  ASSERT_NE(chunk_of(p, 2), nullptr);
  EXPECT_EQ(chunk_of(p, 2)->n_tokens, 8);  // 2 free blocks (1 holds request 1's 5th token)
  EXPECT_TRUE(p.preempted.empty());
}

TEST(Scheduler, RemoveFreesBlocksAtOnce) {
  kv::BlockPool pool(16, 4);
  Scheduler s(config(64, 8), pool);
  ASSERT_EQ(s.add(spec(1, 10), 0), AddResult::Ok);
  ASSERT_EQ(s.add(spec(2, 10, 1, 50), 0), AddResult::Ok);
  StepPlan p = s.schedule(0);
  EXPECT_EQ(pool.n_used(), 6);
  EXPECT_TRUE(s.remove(1));  // cancelled mid-step: the computed result is ignored
  EXPECT_EQ(pool.n_used(), 3);
  s.on_computed(p);
  EXPECT_TRUE(s.remove(2));
  EXPECT_FALSE(s.remove(2));
  EXPECT_EQ(pool.n_free(), 16);
  EXPECT_EQ(s.n_running(), 0);
}

TEST(Scheduler, RepeatedPrefixIsServedFromCache) {
  kv::BlockPool pool(32, 4);
  Scheduler s(config(256, 8), pool);
  std::vector<int32_t> file = tokens(30);
  SeqSpec a{1, 1, file, 0};
  ASSERT_EQ(s.add(a, 0), AddResult::Ok);
  Driver d{s, {{1, 2}, {2, 2}}};
  while (s.has_work()) d.step();
  EXPECT_EQ(s.prefix_query_tokens(), 30u);
  EXPECT_EQ(s.prefix_hit_tokens(), 0u);
  // Same file, new cursor: the first 28 tokens (7 full blocks) are cached.
  std::vector<int32_t> again = file;
  again.resize(29);
  again.push_back(999);
  again.push_back(998);
  ASSERT_EQ(s.add(SeqSpec{2, 1, again, 0}, 0), AddResult::Ok);
  StepPlan p = s.schedule(0);
  ASSERT_EQ(p.chunks.size(), 1u);
  EXPECT_EQ(p.chunks[0].pos, 28);
  EXPECT_EQ(p.chunks[0].n_tokens, 3);
  EXPECT_EQ(s.find(2)->n_cached_tokens, 28);
  EXPECT_EQ(s.prefix_hit_tokens(), 28u);
  d.step_done(p);
  while (s.has_work()) d.step();
  EXPECT_EQ(pool.n_free(), 32);

  // A prompt that is exactly cached still computes its last block (its logits are needed).
  std::vector<int32_t> exact(file.begin(), file.begin() + 28);
  ASSERT_EQ(s.add(SeqSpec{3, 1, exact, 0}, 0), AddResult::Ok);
  p = s.schedule(0);
  EXPECT_EQ(p.chunks[0].pos, 24);
  EXPECT_EQ(p.chunks[0].n_tokens, 4);
}

TEST(Scheduler, PrefixCacheOff) {
  kv::BlockPool pool(32, 4);
  SchedulerConfig c = config(256, 8);
  c.prefix_cache = false;
  Scheduler s(c, pool);
  Driver d{s, {{1, 1}, {2, 1}}};
  ASSERT_EQ(s.add(spec(1, 12), 0), AddResult::Ok);
  d.step();
  ASSERT_EQ(s.add(spec(2, 12), 0), AddResult::Ok);
  StepPlan p = d.step();
  EXPECT_EQ(p.chunks[0].pos, 0);
  EXPECT_EQ(pool.n_cached(), 0);
}

// Random load: arrivals, priorities, cancellations and a tight pool. Invariants every step:
// budget, max_running, block accounting; at the end every request finished or was cancelled or
// timed out, and every block is free.
TEST(Scheduler, RandomLoadKeepsInvariants) {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    const int bs = 4, n_blocks = 40;
    kv::BlockPool pool(n_blocks, bs);
    SchedulerConfig c = config(24, 6, 3);
    c.levels = {{8, 0, TimeoutAction::Reject, true}, {0, 3000, TimeoutAction::Delay, false},
                {12, 2000, TimeoutAction::Reject, false}};
    Scheduler s(c, pool);
    std::mt19937 rng(seed);
    Driver d{s, {}};
    std::set<RequestId> live;
    int n_rejected = 0, n_timed_out = 0, n_cancelled = 0;
    RequestId next = 1;
    int64_t now = 0;
    for (int step = 0; step < 3000 && (step < 1500 || s.has_work()); ++step, now += 100) {
      const int n_arrivals = step < 1500 ? static_cast<int>(rng() % 3) : 0;  // overload
      for (int a = 0; a < n_arrivals; ++a) {
        const int prio = 1 + static_cast<int>(rng() % 3);
        const int len = 1 + static_cast<int>(rng() % 40);
        const int base = static_cast<int>(rng() % 4) * 1000;  // shared prefixes
        SeqSpec sp{next, prio, tokens(len, base), prio == 1 ? int64_t(rng() % 5000) : 0};
        if (prio != 1) sp.timeout_us = c.levels[prio - 1].default_timeout_us;
        ASSERT_TRUE(s.fits_alone(len + 20));
        if (s.add(sp, now) == AddResult::Ok) {
          d.n_gen[next] = 1 + static_cast<int>(rng() % 20);
          live.insert(next);
        } else {
          ++n_rejected;
        }
        ++next;
      }
      if (!live.empty() && rng() % 25 == 0) {
        auto it = std::next(live.begin(), static_cast<long>(rng() % live.size()));
        ASSERT_TRUE(s.remove(*it));
        live.erase(it);
        ++n_cancelled;
      }
      StepPlan p = s.schedule(now);
      for (RequestId id : p.timed_out) {
        ASSERT_TRUE(live.erase(id));
        ++n_timed_out;
      }
      ASSERT_LE(p.n_tokens(), c.max_batch_tokens);
      ASSERT_LE(s.n_running(), c.max_running);
      std::set<RequestId> in_plan;
      for (const auto& ch : p.chunks) {
        ASSERT_TRUE(in_plan.insert(ch.id).second) << "request twice in one step";
        const Seq* q = s.find(ch.id);
        ASSERT_EQ(q->state, SeqState::Running);
        ASSERT_EQ(ch.pos, q->n_computed);
        ASSERT_GE(static_cast<int>(q->blocks.size()) * bs, ch.pos + ch.n_tokens);
      }
      const size_t before = d.finished.size();
      d.step_done(p);
      for (size_t i = before; i < d.finished.size(); ++i) live.erase(d.finished[i]);
      // Block accounting: refcounts equal the holders.
      std::vector<int> holders(n_blocks, 0);
      for (RequestId id : live) {
        const Seq* q = s.find(id);
        ASSERT_NE(q, nullptr);
        for (kv::BlockId b : q->blocks) ++holders[b];
      }
      for (int b = 0; b < n_blocks; ++b) ASSERT_EQ(pool.ref_count(b), holders[b]);
    }
    EXPECT_FALSE(s.has_work()) << "seed " << seed;
    EXPECT_TRUE(live.empty());
    EXPECT_EQ(pool.n_free(), n_blocks);
    EXPECT_GT(d.finished.size(), 100u);
    EXPECT_GT(s.prefix_hit_tokens(), 0u);
    EXPECT_GT(n_rejected, 0);
    EXPECT_GT(n_timed_out, 0);
    EXPECT_GT(n_cancelled, 0);
    EXPECT_GT(s.n_preempted_total(), 0u);
  }
}

}  // namespace
}  // namespace ag::engine
