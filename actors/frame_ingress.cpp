#include "actors/frame_ingress.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace switchboard::actors {

void frame_ingress::deliver(twilio_frame frame) {
  std::lock_guard lock(mutex_);
  if (target_) {
    caf::anon_send(*target_, std::move(frame));
  } else if (held_.size() < max_held_frames) {
    held_.push_back(std::move(frame));
  } else {
    ++dropped_;
  }
}

void frame_ingress::closed(std::string reason) {
  std::lock_guard lock(mutex_);
  if (target_) {
    caf::anon_send(*target_, twilio_socket_closed{std::move(reason)});
  } else {
    closed_reason_ = std::move(reason);
  }
}

void frame_ingress::attach(const twilio_socket_actor& target) {
  std::lock_guard lock(mutex_);
  // Under the lock, so that no frame can overtake the held ones.
  for (auto& frame : held_)
    caf::anon_send(target, std::move(frame));
  held_.clear();
  if (closed_reason_)
    caf::anon_send(target, twilio_socket_closed{*closed_reason_});
  target_ = target;
}

std::size_t frame_ingress::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace switchboard::actors
