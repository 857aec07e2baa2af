#pragma once
// Every type that crosses between cluster nodes, registered in one place. A type missing on
// either side is not an error in CAF 0.17.6: the sender prints "cannot serialize message" and
// the receiver silently drops the message (a request then hangs to its timeout). So every node
// calls this one function, and tests/cluster sends each type between two real processes.

#include <caf/actor_system_config.hpp>

namespace switchboard::actors {

/// Adds every cross-node message type (actors/messages.hpp, interfaces.hpp) to `config`, under
/// the same names on every node. Call before the actor system is built.
void add_cluster_message_types(caf::actor_system_config& config);

}  // namespace switchboard::actors
