#include "actors/cluster_message_types.hpp"

#include "actors/interfaces.hpp"
#include "actors/messages.hpp"

namespace switchboard::actors {

void add_cluster_message_types(caf::actor_system_config& config) {
  // The messages themselves; what they hold (call_identity, transcript_entry, ...) goes with
  // their inspect.
  config.add_message_type<node_heartbeat>("node_heartbeat");
  config.add_message_type<call_announcement>("call_announcement");
  config.add_message_type<call_snapshot>("call_snapshot");
  config.add_message_type<remote_call_request>("remote_call_request");
  config.add_message_type<remote_call_answer>("remote_call_answer");
  config.add_message_type<call_token_claim>("call_token_claim");
  config.add_message_type<call_token_verdict>("call_token_verdict");
  config.add_message_type<place_request>("place_request");
  config.add_message_type<place_verdict>("place_verdict");
  config.add_message_type<dial_budget_request>("dial_budget_request");
  config.add_message_type<call_handover_offer>("call_handover_offer");
  config.add_message_type<call_handover_answer>("call_handover_answer");
  config.add_message_type<recording_chunk_request>("recording_chunk_request");
  config.add_message_type<recording_chunk>("recording_chunk");
  // A call hosted by a peer (host_call_request): everything between its twilio_socket, on the
  // node with the socket, and its other actors on the host (actors/interfaces.hpp).
  config.add_message_type<host_call_request>("host_call_request");
  config.add_message_type<call_peers>("call_peers");
  config.add_message_type<call_started>("call_started");
  config.add_message_type<call_stream_ended>("call_stream_ended");
  config.add_message_type<caller_audio>("caller_audio");
  config.add_message_type<caller_audio_batch>("caller_audio_batch");
  config.add_message_type<caller_keypress>("caller_keypress");
  config.add_message_type<mark_echoed>("mark_echoed");
  config.add_message_type<play_to_caller>("play_to_caller");
  config.add_message_type<close_stream>("close_stream");
  config.add_message_type<drain_call>("drain_call");
}

}  // namespace switchboard::actors
