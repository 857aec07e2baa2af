#include "actors/cluster_message_types.hpp"

#include "actors/interfaces.hpp"
#include "actors/messages.hpp"

namespace switchboard::actors {

void add_cluster_message_types(caf::actor_system_config& config) {
  config.add_message_type<node_heartbeat>("node_heartbeat");
}

}  // namespace switchboard::actors
