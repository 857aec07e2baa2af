#include "app/node_drain.hpp"

#include <algorithm>
#include <tuple>

namespace switchboard::app {

std::string_view to_string(drain_phase phase) {
  switch (phase) {
    case drain_phase::serving:
      return "serving";
    case drain_phase::draining:
      return "draining";
    case drain_phase::ending_calls:
      return "ending_calls";
    case drain_phase::done:
      return "done";
  }
  return "unknown";
}

drain_state::request_outcome drain_state::request(drain_trigger trigger, clock::time_point now) {
  const bool repeated_signal = trigger == drain_trigger::signal && signals_ > 0;
  if (trigger == drain_trigger::signal)
    ++signals_;
  if (phase_ == drain_phase::serving) {
    phase_ = drain_phase::draining;
    deadline_ = now + timeout_;
    return request_outcome::started;
  }
  if (repeated_signal) {
    phase_ = drain_phase::done;
    return request_outcome::stop_now;
  }
  return request_outcome::already_draining;
}

drain_state::step drain_state::poll(clock::time_point now, std::size_t calls_remaining) {
  step due;
  switch (phase_) {
    case drain_phase::serving:
      return due;
    case drain_phase::done:
      due.stop = true;
      return due;
    case drain_phase::draining:
    case drain_phase::ending_calls:
      break;
  }
  if (calls_remaining == 0) {
    phase_ = drain_phase::done;
    due.stop = true;
    return due;
  }
  if (phase_ == drain_phase::draining && deadline_ && now >= *deadline_)
    phase_ = drain_phase::ending_calls;
  // Every poll past the deadline: a call that started since (a stream answered just before)
  // is ended too; the caller of poll() tells each call once.
  due.end_calls = phase_ == drain_phase::ending_calls;
  return due;
}

drain_disposition disposition_at_deadline(const drain_deadline_context&) {
  return drain_disposition::goodbye;
}

std::optional<std::string> choose_stream_peer(const std::vector<actors::cluster_member>& members) {
  const actors::cluster_member* best = nullptr;
  const auto share = [](const actors::cluster_member& member) {
    const auto& report = member.report;
    return report.capacity == 0
               ? 0.0
               : static_cast<double>(report.active_calls) / static_cast<double>(report.capacity);
  };
  const auto rank = [&](const actors::cluster_member& member) {
    return std::tuple(share(member), member.report.active_calls, member.report.load,
                      std::string_view(member.report.name));
  };
  for (const auto& member : members) {
    const auto& report = member.report;
    const bool has_room = report.capacity == 0 || report.active_calls < report.capacity;
    if (member.self || member.state != actors::node_state::ready || report.stream_url.empty() ||
        !has_room) {
      continue;
    }
    if (best == nullptr || rank(member) < rank(*best))
      best = &member;
  }
  if (best == nullptr)
    return std::nullopt;
  return best->report.stream_url;
}

}  // namespace switchboard::app
