#pragma once
// The end of a call, after its actors have stopped: list the recordings, mix the two tracks,
// write transcript.jsonl and call.json (whole or not at all), count and log the outcome, move the
// call from the live view to the recent one, and report it to the call registry. Blocking file
// I/O and mixing: it runs on a detached actor of its own (spawn_call_finaliser), never on the io
// threads.
//
// With RECORDINGS_BUCKET_URL the call's directory gets its upload marker (upload.pending) before
// call.json is written, so a kill at any point leaves a marker the next start finds; once
// call.json is on disk the node's uploader is told (actors/recording_uploader.hpp).
//
// A file the disk refuses (full, a quota, an I/O error) is not lost: it goes, with call.json
// after it, to the node's call_file_retrier, which writes them when the disk takes them. A call
// whose directory could not be made when it began (a full disk then) gets one now, or later.

#include "actors/bridge_environment.hpp"
#include "actors/call_summary.hpp"
#include "actors/interfaces.hpp"

#include <caf/actor_system.hpp>

#include <filesystem>
#include <memory>

namespace switchboard::actors {

/// What a finaliser needs of the node, and nothing more.
struct call_finaliser_context {
  bool record_audio = true;               // RECORDINGS: the tracks exist only when on
  std::filesystem::path recordings_root;  // RECORDINGS_DIR
  std::shared_ptr<call_registry> calls;
  std::shared_ptr<metrics::bridge_metrics> metrics;
  std::shared_ptr<call_status_book> statuses;
  std::shared_ptr<call_directory> directory;
  call_file_retrier_actor file_retrier;  // null: files the disk refuses are lost (and logged)
  /// RECORDINGS_BUCKET_URL: the node's uploader (null: recordings stay local only). The
  /// directory is marked for upload before call.json is written, and handed over after.
  recording_uploader_actor uploader;
  std::string node_name;  // in the upload marker

  static call_finaliser_context of(const bridge_environment& env);
};

/// Finalises the call on a detached actor. `started`: the stream started and was admitted (only
/// then is anything written); `directory`: the call's directory, empty if it could not be made.
void spawn_call_finaliser(caf::actor_system& system, call_record record, bool started,
                          std::filesystem::path directory, call_finaliser_context context);

/// The work itself, on the calling thread (tests call it directly).
void finalize_call(call_record record, bool started, std::filesystem::path directory,
                   const call_finaliser_context& context);

}  // namespace switchboard::actors
