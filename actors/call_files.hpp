#pragma once
// The files a call leaves in RECORDINGS_DIR/<date>/<CallSid>/: making its directory, and
// writing its small files (transcript.jsonl, call.json) whole or not at all. Blocking file I/O:
// called from the call's finaliser and the node's call_file_retrier (both on threads of their
// own), and from the supervisor for the directory.

#include "actors/messages.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace switchboard::actors {

/// RECORDINGS_DIR/<date>/<CallSid>, or <CallSid>-2, -3, ... if taken: nothing is overwritten.
/// Part N > 1 of a handed-over call (actors/call_handover.hpp) is <CallSid>-part<N>: its earlier
/// parts are on other nodes' disks under <CallSid>, and the names stay apart where the parts
/// meet (a shared RECORDINGS_DIR, the bucket of README "Recordings in object storage").
/// The CallSid comes from the wire: only its letters and digits make the name. Empty path and
/// `error` set when the directory cannot be made.
std::filesystem::path make_call_directory(const std::filesystem::path& root,
                                          const std::string& date, const std::string& call_sid,
                                          std::string& error, std::uint32_t part = 1);

/// Every call directory under RECORDINGS_DIR (<date>/<name>), days in order and the calls of a
/// day in name order; unreadable days and what is not a directory are skipped. Blocking: for
/// start-up scans (recovery, pending uploads) on threads of their own.
std::vector<std::filesystem::path> call_directories(const std::filesystem::path& root);

/// Writes a new file whole or not at all (never replacing one); returns an error text or "".
std::string write_new_file(const std::filesystem::path& path, const std::string& content);

/// What one try at writing deferred files did.
struct deferred_write_result {
  std::vector<std::string> written;  // names written by this try, in order
  std::vector<std::string> dropped;  // names given up for good (already there: never replaced)
  std::string error;                 // why the rest is still pending; "" when nothing is
  bool done() const { return error.empty(); }
};

/// Writes what `pending` still holds, in order (call.json last), removing each file written or
/// dropped; makes the call's directory first when it has none. Stops at the first file the disk
/// refuses: what follows it stays pending, so a call.json on disk means every file it names is
/// there too.
deferred_write_result write_deferred_call_files(deferred_call_files& pending);

}  // namespace switchboard::actors
