#include "actors/response_turns.hpp"

#include <utility>

namespace switchboard::actors {

std::optional<wanted_response> response_turns::next_to_request() {
  if (requested_ || active_ || wanted_.empty())
    return std::nullopt;
  requested_ = std::move(wanted_.front());
  wanted_.pop_front();
  return requested_;
}

const wanted_response* response_turns::created(const std::string& response_id) {
  if (active_ && active_->id.empty() && !requested_) {
    // The one the model said was running (a refused duplicate told us so).
    active_->id = response_id;
    return active_->request ? &*active_->request : nullptr;
  }
  active_ = active_response{response_id, std::exchange(requested_, std::nullopt)};
  return active_->request ? &*active_->request : nullptr;
}

void response_turns::refused_as_duplicate() {
  // A plain request (answer the caller, a keypad entry, a tool's result) is answered by the
  // response the server is giving, which sees the same conversation: asking again would make
  // the agent answer twice. One with words of its own (say, goodbye, a continuation) is asked
  // again first.
  const auto again = [&](wanted_response request) {
    if (!request.instructions.empty() || !request.tag.empty())
      wanted_.push_front(std::move(request));
  };
  if (requested_) {
    again(std::move(*requested_));
    requested_.reset();
  } else if (active_ && active_->request) {
    // The server's response.created crossed our response.create and took its request: that
    // response is the server's own, ours was refused.
    again(std::move(*active_->request));
    active_->request.reset();
  }
  if (!active_)
    active_ = active_response{};
}

bool response_turns::audio(const std::string& response_id) {
  if (!active_ || (active_->id != response_id && !active_->id.empty()))
    return true;  // not the one we track: nothing says it was interrupted
  if (active_->cancelled) {
    ++active_->late_deltas_dropped;
    return false;
  }
  active_->spoke = true;
  return true;
}

bool response_turns::interrupt() {
  if (!active_ || active_->cancelled)
    return false;
  active_->cancelled = true;
  return true;
}

response_turns::finished response_turns::done(const std::string& response_id) {
  if (!active_ || (!active_->id.empty() && active_->id != response_id))
    return {};
  finished result{active_->request ? active_->request->tag : std::string{}, active_->cancelled,
                  active_->late_deltas_dropped};
  active_.reset();
  return result;
}

std::optional<response_turns::lost_response> response_turns::link_lost() {
  std::optional<lost_response> lost;
  if (active_) {
    lost =
        lost_response{std::move(active_->request), active_->spoke, active_->cancelled, active_->id};
  } else if (requested_) {
    lost = lost_response{std::move(requested_), false, false, {}};
  }
  active_.reset();
  requested_.reset();
  return lost;
}

}  // namespace switchboard::actors
