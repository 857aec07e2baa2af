#pragma once
// The wire text of a Twilio message or a Realtime server event, as the peers would send it: what
// the actor tests feed the twilio_socket and openai_session actors.

#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"

#include <string>

namespace switchboard::actors::testing {

inline std::string twilio_json(const net::twilio_inbound& message) {
  std::string out;
  net::append_twilio_message(out, message);
  return out;
}

inline std::string model_json(const net::realtime_server_event& event) {
  std::string out;
  net::append_realtime_server_event(out, event);
  return out;
}

}  // namespace switchboard::actors::testing
