#include "app/node_drain.hpp"

#include "app/placement.hpp"

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

drain_disposition disposition_at_deadline(const drain_deadline_context& context) {
  if (context.peer_stream_url && !context.peer_stream_url->empty() && context.can_update_calls)
    return drain_disposition::hand_over;
  return drain_disposition::goodbye;
}

std::optional<std::string> choose_stream_peer(const std::vector<actors::cluster_member>& members) {
  auto peer = choose_handover_peer(members);
  if (!peer)
    return std::nullopt;
  return std::move(peer->stream_url);
}

std::optional<stream_peer> choose_handover_peer(
    const std::vector<actors::cluster_member>& members) {
  // Placement's own rule (app/placement.hpp), seen from a draining node: peers only.
  local_node_status self;
  self.draining = true;
  for (const auto& member : members) {
    if (member.self)
      self.id = member.id;
  }
  for (auto& target : placement_order(members, self, nullptr, {})) {
    if (!target.self)
      return stream_peer{std::move(target.node_id), std::move(target.stream_url)};
  }
  return std::nullopt;
}

}  // namespace switchboard::app
