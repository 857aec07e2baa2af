#pragma once
// Recordings in object storage (issue 15, README "Recordings in object storage"): the decisions
// of the node's uploader, as plain functions with no actor and no thread. What of a finished
// call's directory goes up and under which key; the durable marker that makes the queue of
// pending uploads survive kill -9; how long to wait before trying a file again; and how
// call.json records where each file went.
//
// The queue is the disk, not memory: a call's directory holds `upload.pending` from before its
// call.json is written until every file is confirmed in the bucket, call.json records the
// uploads and the local copies are gone. A node that starts finds the markers its earlier
// processes left (under its NODE_NAME) and uploads those calls again from the start: a PUT of the
// same bytes under the same key is idempotent, so a file confirmed before the crash costs one
// more upload, never a wrong object.
//
// A permanent refusal (403 AccessDenied, 404 NoSuchBucket, a 400) or a retryable failure that
// outlasted max_attempts leaves every local file where it is and the marker in place, now saying
// why in "failed": the next start of the node (after the operator fixed the credentials or the
// bucket) tries the call again. Nothing is ever deleted before call.json says where it went.
//
// Blocking file I/O in the functions that take paths: call them from the node's file thread or
// a thread of their own, never from an io thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::actors {

/// The marker's file name in a call's directory.
inline constexpr std::string_view upload_marker_name = "upload.pending";

/// One file of a call to upload.
struct upload_file {
  std::string name;          // "caller.wav"
  std::string key;           // "<prefix>/<UTC date>/<CallSid>/caller.wav"
  std::string content_type;  // "audio/wav"
  std::uint64_t size = 0;    // bytes on disk when the plan was made
};

/// What the marker says.
struct upload_marker {
  std::string node;    // NODE_NAME of the node that recorded the call and uploads it
  std::string failed;  // "" while pending; why the last try gave up (kept for the next start)
};

/// "audio/wav", "application/json", "application/x-ndjson"; "application/octet-stream" else.
std::string_view upload_content_type(std::string_view file_name);

/// The key of a call's directory in the bucket: `prefix/<date>/<name>` where `<date>/<name>` is
/// the directory under RECORDINGS_DIR (the UTC date of the call's start and its CallSid; a
/// handed-over call's later part is <CallSid>-part<N> and a second stream of a CallSid on one
/// disk <CallSid>-2, so that parts recorded on different nodes never overwrite each other in the
/// bucket). Nullopt when the directory is not two levels under `root`.
std::optional<std::string> call_key_base(std::string_view prefix, const std::filesystem::path& root,
                                         const std::filesystem::path& directory);

/// The call's index in the bucket: `prefix/calls/<name>.json`, a copy of the call.json of the
/// directory `<name>` (the CallSid; `<CallSid>-part<N>` for a handed-over call's later part),
/// put last, once every file and call.json itself are confirmed. A node that never had the call
/// (a peer, or the pod that replaced the one that recorded it) finds the call's files through it
/// without knowing the date the call started: the call API serves recordings from the bucket by
/// CallSid alone.
std::string call_index_key(std::string_view prefix, std::string_view directory_name);

/// True for the files of a call that go up: not the markers, not hidden temporary files.
bool is_uploaded_file(std::string_view file_name);

/// The files to upload, `base` + "/" + name as keys, ordered by name with call.json last (it
/// records where the others went, so it is written, then uploaded, after they are confirmed).
/// `listing` is name and size of each regular file in the directory.
std::vector<upload_file> plan_call_upload(
    std::string_view base, const std::vector<std::pair<std::string, std::uint64_t>>& listing);

/// plan_call_upload over the directory as it is on disk (blocking).
std::vector<upload_file> plan_call_upload(std::string_view base,
                                          const std::filesystem::path& directory);

/// "s3://bucket/key", what call.json records under "uploaded".
std::string bucket_url(std::string_view bucket, std::string_view key);

// -- The marker --------------------------------------------------------------------------------

std::string upload_marker_json(const upload_marker& marker);
/// Nullopt when the text is not a marker (markers are written whole: a torn one is not ours).
std::optional<upload_marker> parse_upload_marker(std::string_view text);
std::optional<upload_marker> read_upload_marker(const std::filesystem::path& directory);
/// Writes (or replaces) the marker whole: a temporary file, synced, renamed. "" or the error.
std::string write_upload_marker(const std::filesystem::path& directory,
                                const upload_marker& marker);
/// Marks the directory pending for `node_name` unless a marker is there already (a pending one,
/// or a given-up one whose reason must stay). "" or the error.
std::string ensure_upload_marker(const std::filesystem::path& directory,
                                 std::string_view node_name);
/// Errors ignored: a marker left over next to uploaded files costs one more upload next start.
void remove_upload_marker(const std::filesystem::path& directory);

/// Call directories under root/<date>/ holding a marker of `node_name` and a call.json: calls
/// this node has not finished uploading. Oldest date first. A directory without call.json yet
/// (its call.json waits for the disk) is left for a later start.
std::vector<std::filesystem::path> find_pending_uploads(const std::filesystem::path& root,
                                                        std::string_view node_name);

// -- Retries -----------------------------------------------------------------------------------

struct upload_retry_policy {
  std::chrono::milliseconds first_delay{1000};
  std::chrono::milliseconds max_delay{60'000};
  double jitter = 0.25;       // ±25 %: many files failing together do not retry in lockstep
  unsigned max_attempts = 8;  // per file, the first included: about 4 minutes of an outage
};

/// The wait before the next try of a file that failed `failures` times (1 = the first try
/// failed): first_delay doubling per failure up to max_delay, then scaled by
/// 1 + jitter * (2 * unit_random - 1), unit_random in [0, 1).
std::chrono::milliseconds upload_backoff(const upload_retry_policy& policy, unsigned failures,
                                         double unit_random);

// -- call.json ---------------------------------------------------------------------------------

/// Adds `uploaded` to the "uploaded": {file: "s3://bucket/key", ...} object of the call.json at
/// `path` (entries already there stay), keeping every other field (twilio_status included):
/// read, changed, written whole and renamed over. "" or the error. Run on the node's file thread,
/// where the status book's twilio_status rewrites run too, so the two read-modify-writes never
/// interleave.
std::string record_uploads_in_call_json(const std::filesystem::path& path,
                                        const std::map<std::string, std::string>& uploaded);

/// The "uploaded" entry of `file` in call.json's text; nullopt when absent or not a string.
std::optional<std::string> uploaded_url_of(std::string_view call_json_text, std::string_view file);

/// "s3://bucket/key" split; nullopt when not of that form.
std::optional<std::pair<std::string, std::string>> split_bucket_url(std::string_view url);

}  // namespace switchboard::actors
