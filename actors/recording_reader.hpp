#pragma once
// The recording_reader actor: the files of this node's ended calls, read for the call API of
// another node (GET /calls/{sid}/recordings/{file} on any node of the cluster), one bounded
// chunk per request. Spawned detached by the node actor, which hands it the requests of peers:
// the disk is read on its own thread, never on an io thread that runs the actors.
//
//   peer's API ──recording_chunk_request──▶ peer's node actor ──▶ this node actor
//   this node actor ──delegate──▶ recording_reader ──recording_chunk──▶ the peer's asker

#include "actors/call_directory.hpp"
#include "actors/interfaces.hpp"
#include "actors/messages.hpp"

#include <memory>

namespace switchboard::actors {

/// The chunk of `request.file` of this node's call `request.call_sid` from `request.offset`, as
/// `calls` knows the call: only a file its view lists (the names the call wrote, so no path
/// from the request is ever opened), only once the call has ended. Blocking (reads the disk).
recording_chunk read_recording_chunk(const call_directory& calls,
                                     const recording_chunk_request& request);

/// Spawn detached (it blocks on the disk).
recording_reader_actor::behavior_type recording_reader(recording_reader_actor::pointer self,
                                                       std::shared_ptr<const call_directory> calls);

}  // namespace switchboard::actors
