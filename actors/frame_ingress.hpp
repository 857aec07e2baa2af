#pragma once
// The door between an io thread and the twilio_socket actor of a call. The WebSocket is
// accepted (and frames may arrive) before the call's actors exist; the io thread must never
// block or wait for them. Frames that arrive before the actor attaches are kept, in order, and
// handed over when it does; afterwards each frame goes straight to the actor's mailbox.

#include "actors/interfaces.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::actors {

class frame_ingress {
 public:
  /// io thread: a frame arrived.
  void deliver(twilio_frame frame);
  /// io thread: the socket is gone.
  void closed(std::string reason);
  /// twilio_socket actor: from now on, send everything to `target` (the held frames first).
  void attach(const twilio_socket_actor& target);
  /// Frames held before attach() that were dropped because too many waited.
  std::size_t dropped() const;

  static constexpr std::size_t max_held_frames = 512;

 private:
  mutable std::mutex mutex_;
  std::optional<twilio_socket_actor> target_;
  std::vector<twilio_frame> held_;
  std::optional<std::string> closed_reason_;
  std::size_t dropped_ = 0;
};

}  // namespace switchboard::actors
