#pragma once
// Where a Twilio media stream enters the actor world: the WebSocket handler of /media-stream.
// On open it spawns the call's supervisor; each frame goes through the call's frame_ingress to
// its twilio_socket actor. Runs on io threads: it only spawns and sends, never waits.

#include "actors/bridge_environment.hpp"
#include "net/websocket.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace switchboard::actors {

/// A handler for one accepted media-stream WebSocket.
std::shared_ptr<net::websocket_handler> make_media_stream_handler(caf::actor_system& system,
                                                                  bridge_environment_ptr env);

}  // namespace switchboard::actors
