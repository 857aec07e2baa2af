#pragma once
// The call_file_retrier actor: the one owner of the node's deferred call files
// (call_file_retries). A call's finaliser hands it the transcript.jsonl and call.json that the
// disk refused; it writes them when the disk takes them (retrying with backoff while the node
// runs), logs each outcome with the path, keeps switchboard_call_files_pending current, and tells
// the status book where a late call.json is so that Twilio's later statuses still reach it.
// On flush_atom (the node stopping) it tries everything once more and reports what is lost.

#include "actors/call_file_retries.hpp"
#include "actors/call_status_book.hpp"
#include "actors/interfaces.hpp"
#include "metrics/bridge_metrics.hpp"

#include <memory>
#include <optional>

namespace switchboard::actors {

struct call_file_retrier_state {
  static inline const char* name = "call_file_retrier";

  std::optional<call_file_retries> queue;
  call_file_retries::writer write;
  std::shared_ptr<call_status_book> statuses;  // may be null
  std::shared_ptr<metrics::bridge_metrics> metrics;
  /// RECORDINGS_BUCKET_URL: told of a call whose call.json is now written (null: local only).
  recording_uploader_actor uploader;
  /// When the retry_atom in flight fires; nullopt: none in flight.
  std::optional<call_file_retries::clock::time_point> wakeup;
};

/// Spawn detached. `write` is write_deferred_call_files in production; tests may pass another.
/// `uploader` (may be null) is told of each call whose late call.json completes its directory.
call_file_retrier_actor::behavior_type call_file_retrier(
    call_file_retrier_actor::stateful_pointer<call_file_retrier_state> self,
    call_file_retries::limits limits, call_file_retries::writer write,
    std::shared_ptr<call_status_book> statuses, std::shared_ptr<metrics::bridge_metrics> metrics,
    recording_uploader_actor uploader);

}  // namespace switchboard::actors
