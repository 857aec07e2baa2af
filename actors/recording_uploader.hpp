#pragma once
// The recording_uploader actor: the node's queue of uploads to object storage (issue 15, README
// "Recordings in object storage"). One per node, when RECORDINGS_BUCKET_URL is set. Each call it
// is told about goes through
//
//   planning ──listing──▶ uploading ──every file but call.json confirmed──▶ recording
//   recording ──call.json says where each went──▶ sending_call_json ──confirmed──▶ settling
//   settling ──local copies deleted (unless RECORDINGS_KEEP_LOCAL), marker removed──▶ done
//   any state ──permanent refusal, or retries exhausted──▶ given up (files and marker stay; the
//                                                          marker says why)
//
// Nothing here blocks: the listing, call.json's rewrite, the deletions and the marker go to the
// node's file thread (where the status book's twilio_status rewrites of call.json run too, so
// the two never interleave); each PUT goes to an upload thread, at most `concurrency` at once.
// A retryable failure (5xx, throttling, a connection error) is tried again after
// upload_backoff(); the call's other files go on meanwhile.
//
// call.json goes up under two keys: its place beside the call's files, then the call's index
// (call_index_key), through which a node that never had the call finds them by CallSid.
//
// A later twilio_status rewrite of call.json (Twilio's `completed` follows an outbound call's
// stream) sends call.json up again, whether the call is still uploading or long done; a call
// long done is marked again first (the status book marks it before the rewrite too), so that a
// kill before the new call.json is confirmed leaves the next start to send it.

#include "actors/file_work.hpp"
#include "actors/interfaces.hpp"
#include "actors/object_store.hpp"
#include "actors/upload_plan.hpp"
#include "actors/upload_workers.hpp"
#include "metrics/bridge_metrics.hpp"

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::actors {

struct recording_uploader_config {
  std::filesystem::path recordings_root;  // RECORDINGS_DIR: keys are relative to it
  std::string prefix;                     // of RECORDINGS_BUCKET_URL, no leading/trailing '/'
  std::string node_name;                  // NODE_NAME, in the markers
  bool keep_local = false;                // RECORDINGS_KEEP_LOCAL
  unsigned concurrency = 2;               // UPLOAD_CONCURRENCY: files at once
  upload_retry_policy retry;
  std::shared_ptr<object_store> store;
  std::shared_ptr<upload_workers> workers;
  std::shared_ptr<file_work> files;
  std::shared_ptr<metrics::bridge_metrics> metrics;
  /// In [0, 1): the jitter's randomness (tests pin it).
  std::function<double()> unit_random;
};

/// One call on its way to the bucket.
struct call_upload {
  enum class phase : std::uint8_t {
    planning,
    uploading,
    recording,
    sending_call_json,
    settling,
    marking,  // call_json_only: its marker goes back on before call.json goes up again
  };
  std::string call_sid;
  std::string index_key;  // call_index_key(): call.json's second key
  phase now = phase::planning;
  std::vector<upload_file> files;               // call.json last
  std::map<std::string, std::string> uploaded;  // file -> s3://bucket/key, once confirmed
  std::map<std::string, unsigned> failures;     // file -> failed tries so far
  bool call_json_again = false;                 // call.json was rewritten after its upload started
  bool call_json_only = false;  // a finished call whose call.json was rewritten: just that
};

struct recording_uploader_state {
  static inline const char* name = "recording_uploader";
  recording_uploader_config config;
  std::map<std::string, call_upload> calls;               // by directory
  std::deque<std::pair<std::string, std::string>> ready;  // (directory, file), waiting a thread
  std::size_t in_flight = 0;
  std::set<std::string> given_up;  // directories given up by this process (marked for the next)
};

/// Spawn event-based (it never blocks). `config.unit_random` may be empty: a seeded generator.
recording_uploader_actor::behavior_type recording_uploader(
    recording_uploader_actor::stateful_pointer<recording_uploader_state> self,
    recording_uploader_config config);

/// Start-up: the calls an earlier process of this node left marked (find_pending_uploads), each
/// told to `uploader` as upload_call. Blocking: run it on a thread of its own. Returns how many.
std::size_t resume_pending_uploads(const std::filesystem::path& root, const std::string& node_name,
                                   const recording_uploader_actor& uploader);

}  // namespace switchboard::actors
