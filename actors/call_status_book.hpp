#pragma once
// Twilio's status of the outbound calls, by CallSid: what POST /calls placed, and what Twilio's
// status callbacks (POST /call-status, protocols.md §A7) have said since. Twilio does not
// promise their order ("callbacks can arrive out of order"), so a call's status only moves
// forward, and may skip steps (busy straight after queued, canceled while ringing):
//
//   queued (= initiated) ─▶ ringing ─▶ in-progress ─▶ completed | busy | no-answer | failed |
//   canceled
//
// A callback that would move it back, repeats it, or comes after a final status is stale and
// ignored. The rank decides, not SequenceNumber: a lost or reordered callback must not hold a
// call back, and the rank cannot be wrong. SequenceNumber and Timestamp are kept for the logs.
//
// call.json: the call's supervisor writes it when the stream ends, which is usually before
// Twilio's `completed` arrives (Twilio ends the call after its stream). So the book learns
// where each call.json is, and rewrites its "twilio_status" when a later callback changes it:
// temp file + rename, so that a reader never sees a torn file.
//
// Thread-safe: written by the status endpoint and the dialer (io threads) and the finalisers
// (their own threads); read by the call-control API. Bounded: past `capacity` calls the oldest
// finished ones are forgotten first. Given the node's file thread, a callback's rewrite of
// call.json runs there (its error logged there): the io thread that took the callback answers
// Twilio without waiting on the disk.

#include "actors/file_work.hpp"
#include "net/twilio_signature.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::actors {

/// CallStatus of the calls resource. Twilio's "initiated" is queued here: the call-control API
/// reports no state between them.
enum class twilio_call_status : std::uint8_t {
  queued,
  ringing,
  in_progress,
  completed,
  busy,
  no_answer,
  failed,
  canceled,
};

/// Twilio's spelling: "queued", "in-progress", "no-answer", ...
std::string_view to_string(twilio_call_status status);
/// Twilio's CallStatus text ("initiated" is queued); nullopt for anything else.
std::optional<twilio_call_status> parse_twilio_call_status(std::string_view text);
bool is_final(twilio_call_status status);
/// How far along a call is: queued 0, ringing 1, in-progress 2, any final status 3.
int progress_rank(twilio_call_status status);
/// True when a call at `current` may move to `incoming`: strictly further along.
bool moves_forward(twilio_call_status current, twilio_call_status incoming);

/// One status callback, as read from its form.
struct status_callback {
  std::string call_sid;
  twilio_call_status status = twilio_call_status::queued;
  std::string from;
  std::string to;
  std::optional<std::uint64_t> sequence_number;  // SequenceNumber: from 0, per call
  std::string timestamp;                         // Timestamp (RFC 2822), as sent
  std::optional<std::uint64_t> call_duration_s;  // CallDuration: on final statuses
};

/// Reads a status callback's form parameters; the error says which field is missing or bad.
boost::system::result<status_callback, std::string> parse_status_callback(
    std::span<const net::form_parameter> params);

/// What the book knows of one call.
struct outbound_call_status {
  using time_point = std::chrono::system_clock::time_point;

  std::string call_sid;
  std::string to;
  std::string from;
  std::string direction = "outbound";
  twilio_call_status status = twilio_call_status::queued;
  /// When each status this call took reached this node, in order.
  std::vector<std::pair<twilio_call_status, time_point>> arrivals;
  /// When POST /calls created it here; nullopt when only its callbacks were seen here (another
  /// node may have dialled it).
  std::optional<time_point> dialled_at;
  std::optional<std::uint64_t> call_duration_s;  // from the final callback
  std::optional<std::uint64_t> sequence_number;  // the highest SequenceNumber seen
  std::string twilio_timestamp;                  // Timestamp of the callback that set `status`
  std::filesystem::path call_json;               // empty until its summary is written here
};

enum class status_outcome {
  accepted,              // the call moved forward
  stale,                 // ignored: the call is already this far, or further
  unknown_call_created,  // a call not dialled here: recorded with this status
};
std::string_view to_string(status_outcome outcome);

struct status_applied {
  status_outcome outcome = status_outcome::accepted;
  twilio_call_status status = twilio_call_status::queued;  // the call's status afterwards
  std::string call_json_error;  // a call.json that could not be rewritten, in words (only when
                                // the book has no file thread: it rewrites in apply() then)
};

class call_status_book : public std::enable_shared_from_this<call_status_book> {
 public:
  using time_point = std::chrono::system_clock::time_point;
  static constexpr std::size_t default_capacity = 10'000;

  /// `files`: where callbacks' call.json rewrites run (the node's file thread; the book must
  /// then be owned by a shared_ptr); null: in apply(), on the caller's thread.
  explicit call_status_book(std::size_t capacity = default_capacity,
                            std::shared_ptr<file_work> files = nullptr);

  // -- The dialer and the status endpoint ----------------------------------------------------
  /// POST /calls created the call (Twilio answered 201 with `status`, normally queued). Its
  /// first callbacks may have come first: what they said is kept.
  void dialled(std::string call_sid, std::string to, std::string from, twilio_call_status status,
               time_point now);
  /// Applies a status callback; rewrites the call's call.json when it moves the status on.
  status_applied apply(const status_callback& callback, time_point now);

  // -- The call-control API --------------------------------------------------------------------
  std::optional<outbound_call_status> find(std::string_view call_sid) const;
  /// Calls not yet in a final status, oldest first.
  std::vector<outbound_call_status> unfinished() const;
  std::size_t size() const;

  // -- The call's finaliser ----------------------------------------------------------------------
  /// The status to write into call.json now; nullopt for a call this book does not know (an
  /// inbound call).
  std::optional<twilio_call_status> status_of(std::string_view call_sid) const;
  /// call.json of `call_sid` now exists at `path`, written with `written`. From now on the book
  /// keeps it current, starting at once if a callback moved the status after `written` was
  /// read. Nothing for a call the book does not know. Returns a rewrite error in words, or "".
  std::string call_json_written(std::string_view call_sid, std::filesystem::path path,
                                std::optional<twilio_call_status> written);

  /// Told after each rewrite of a call.json (RECORDINGS_BUCKET_URL: its copy in the bucket is
  /// now stale). Set once, before the book is shared; runs where the rewrite ran (the file
  /// thread or a finaliser), so it must only post or send.
  using rewrite_listener =
      std::function<void(const std::string& call_sid, const std::filesystem::path& call_json)>;
  void on_call_json_rewritten(rewrite_listener listener) { rewritten_ = std::move(listener); }
  /// Told before each rewrite of a call.json, where the rewrite runs (blocking file I/O is
  /// allowed): RECORDINGS_BUCKET_URL marks the call's directory for upload, so that a kill
  /// between the rewrite and its upload leaves the next start to send it. Set once, before the
  /// book is shared.
  using rewrite_preparer = std::function<void(const std::filesystem::path& call_json)>;
  void before_call_json_rewrite(rewrite_preparer preparer) { preparing_ = std::move(preparer); }

 private:
  struct entry {
    outbound_call_status call;
    std::uint64_t age = 0;                           // order of first sight, for the bound
    std::optional<twilio_call_status> in_call_json;  // what the file at call.call_json says
  };

  entry& insert_locked(std::string call_sid, twilio_call_status status, time_point now);
  void settle_locked(entry& call, twilio_call_status status);
  /// Brings call.json up to the call's status; "" or the error.
  std::string sync_call_json(std::string_view call_sid);

  std::size_t capacity_;
  std::shared_ptr<file_work> files_;
  mutable std::mutex mutex_;
  std::map<std::string, entry, std::less<>> calls_;
  // By age: calls still going, and finished ones (forgotten first past the bound).
  std::map<std::uint64_t, std::string> open_by_age_;
  std::map<std::uint64_t, std::string> finished_by_age_;
  std::uint64_t next_age_ = 0;
  // Serialises call.json rewrites, so the last one written carries the latest status. Taken
  // before mutex_, never while holding it.
  std::mutex rewrite_mutex_;
  rewrite_listener rewritten_;
  rewrite_preparer preparing_;
};

/// Sets "twilio_status" in the call.json at `path`: reads it, writes the changed object to a
/// temporary file beside it (synced), and renames it over the old one. "" or the error.
std::string rewrite_twilio_status(const std::filesystem::path& path, twilio_call_status status);

}  // namespace switchboard::actors
