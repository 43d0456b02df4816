#include "engine/request.h"

#include "engine/engine.h"

namespace ag::engine {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
  }
  return "?";
}

const char* reject_reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::None: return "none";
    case RejectReason::Invalid: return "invalid";
    case RejectReason::QueueFull: return "queue_full";
    case RejectReason::QueueTimeout: return "queue_timeout";
    case RejectReason::ShuttingDown: return "shutting_down";
    case RejectReason::Internal: return "internal";
  }
  return "?";
}

void EventChannel::push(Event e) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

std::optional<Event> EventChannel::pop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::vector<Event> EventChannel::drain() {
  std::lock_guard lock(mu_);
  std::vector<Event> out(std::make_move_iterator(events_.begin()),
                         std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

RequestHandle::~RequestHandle() {
  if (!ended_) engine_->cancel(id_);
}

std::optional<Event> RequestHandle::next(std::chrono::milliseconds timeout) {
  if (ended_) return std::nullopt;
  auto e = channel_->pop(timeout);
  if (e && e->kind != Event::Kind::Delta) ended_ = true;
  return e;
}

void RequestHandle::cancel() {
  if (!ended_) engine_->cancel(id_);
}

}  // namespace ag::engine
