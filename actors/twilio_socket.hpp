#pragma once
// The twilio_socket actor: Twilio's side of one call.
//
//   awaiting_start ──start (token ok)──▶ streaming ──stop / socket closed / hangup──▶ ended
//        │  └──token of another node──▶ claiming ──granted──▶ streaming (held frames first)
//        └── start with a bad token, or closed before start ──▶ ended (refused)
//
// Every frame is parsed here (net::parse_twilio_message); a malformed one is counted, logged
// with the call id, and dropped — the call goes on. Caller audio goes to the model frame by
// frame and to the caller recorder five frames at a time (the rest before the stream's end is
// reported); agent audio comes from the silence clock as a `media` and its `mark`,
// written together.

#include "actors/bridge_environment.hpp"
#include "actors/caller_timeline.hpp"
#include "actors/frame_ingress.hpp"
#include "actors/interfaces.hpp"
#include "metrics/call_log.hpp"
#include "net/websocket.hpp"

#include <memory>

namespace switchboard::actors {

struct twilio_socket_state {
  static inline const char* name = "twilio_socket";

  bridge_environment_ptr env;
  std::weak_ptr<net::websocket_connection> connection;
  std::shared_ptr<frame_ingress> ingress;
  std::optional<call_peers> peers;
  bool peers_remote = false;  // the call is hosted by a peer (README "Cluster")
  call_overrides overrides;   // an outbound call's, from its checked `start`

  bool started = false;
  bool claiming = false;                  // the token's issuer has not answered yet
  std::vector<twilio_frame> held_frames;  // arrived while claiming, handled after
  bool ended = false;
  metrics::call_ids ids;  // known from `start`
  std::uint64_t caller_end_ms = 0;
  caller_timeline caller_clock;  // bounds the caller's timestamps by the clock
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t malformed_frames = 0;
  std::uint64_t marks_echoed = 0;
  caller_audio_batch for_recorder;  // caller frames not yet handed to the caller recorder
  std::string outbound;             // reused serialisation buffer
};

twilio_socket_actor::behavior_type twilio_socket(
    twilio_socket_actor::stateful_pointer<twilio_socket_state> self, bridge_environment_ptr env,
    std::weak_ptr<net::websocket_connection> connection, std::shared_ptr<frame_ingress> ingress);

/// Spawns the twilio_socket of `connection`, which waits for its call_peers from the call's
/// supervisor (here, or on the peer that hosts the call). If the actor fails, or dies with its
/// supervisor's failure (a linked exit: the hosting node lost, a kill at stop), the socket is
/// closed with 1011 on the way out: nothing else would close it.
twilio_socket_actor spawn_twilio_socket(caf::actor_system& system, bridge_environment_ptr env,
                                        std::weak_ptr<net::websocket_connection> connection,
                                        std::shared_ptr<frame_ingress> ingress);

}  // namespace switchboard::actors
