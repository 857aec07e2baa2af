#pragma once
// Calls a crashed node left half-written, and their finishing. Blocking file I/O: run on a
// thread of its own (the node's start-up recovery actor, `switchboard repair DIR`), never on
// the io threads.
//
// A call's directory holds `call.running` from the moment it is made until its call.json is
// written (the finaliser, or the retrier for a call.json the disk refused, removes it). It names
// the node (NODE_NAME) and the process that ran the call, and what is known of the call at its
// start. A node that dies (kill -9, the OOM killer, a power cut) leaves the marker behind; when
// it starts again under the same NODE_NAME it finds its own markers left by an earlier process,
// and finishes those calls: the tracks' headers repaired to the audio in the file (the writer
// checkpoints every 200 ms of audio, so all but the last < 200 ms the recorder was given), the
// mixes written, and a call.json with "end_reason": "node crashed", its length taken from the
// longer track. The transcript and the counts lived in the dead process's memory: they are lost.
//
// Another node's markers (a shared RECORDINGS_DIR) are left alone: that node may be running.

#include "actors/call_directory.hpp"
#include "actors/messages.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::actors {

/// The marker's file name in a call's directory.
inline constexpr std::string_view call_marker_name = "call.running";
/// The end reason of a call its node did not live to finish.
inline constexpr std::string_view node_crashed_end_reason = "node crashed";

/// What a running call's marker says.
struct call_marker {
  std::string node;     // NODE_NAME of the node running the call
  std::string process;  // this process's instance (see process_instance_id())
  call_identity identity;
  std::string direction;  // "inbound" | "outbound"
  std::chrono::system_clock::time_point started_at;
  std::uint32_t part = 1;  // of a handed-over call: its directory is <CallSid>-part<N>
};

/// An id that differs between two processes of one node (pid, start time and randomness).
const std::string& process_instance_id();

std::string call_marker_json(const call_marker& marker);
/// Nullopt when the text is not a marker (hostile or torn: markers are written whole).
std::optional<call_marker> parse_call_marker(std::string_view text);
std::optional<call_marker> read_call_marker(const std::filesystem::path& directory);

/// Makes the call's directory (make_call_directory) and writes its marker in it. Empty path and
/// `error` set when the directory cannot be made; a marker that cannot be written is reported in
/// `error` with the directory still returned (the call is recorded; only a crash would need it).
std::filesystem::path make_marked_call_directory(const std::filesystem::path& root,
                                                 const call_marker& marker, std::string& error);

/// The call is finished (its call.json is on disk): its marker goes. Errors ignored: a marker
/// left over next to a call.json is removed by the next recovery.
void remove_call_marker(const std::filesystem::path& directory);

/// Call directories under root/<date>/ whose marker names `node_name` and a process other than
/// this one: calls an earlier process of this node did not finish. Oldest date first.
std::vector<std::filesystem::path> find_unfinished_calls(const std::filesystem::path& root,
                                                         std::string_view node_name);

/// What finishing one directory did.
struct recovered_call {
  std::filesystem::path directory;
  bool finished_before = false;    // call.json was already there: only the marker went
  std::optional<call_view> view;   // for the recent calls (when call.json was written now)
  std::vector<std::string> notes;  // per file, in words ("caller.wav: data size 1 -> 2 bytes")
  std::string error;               // why call.json could not be written; "" when it was
};

/// Finishes a call directory (see the top of this file): `finisher` names who did it (a node,
/// or "switchboard repair") in call.json's problems; `now` is the time of the finish.
/// Without a marker (a directory of an older version) the CallSid is taken from its name.
recovered_call recover_call_directory(const std::filesystem::path& directory,
                                      std::string_view finisher,
                                      std::chrono::system_clock::time_point now);

/// What a node's start-up recovery did.
struct recovery_summary {
  std::size_t found = 0;     // unfinished directories of this node
  std::size_t finished = 0;  // call.json written now
  std::size_t failed = 0;    // call.json could not be written (logged; the marker stays)
  std::chrono::milliseconds took{0};
  std::vector<std::filesystem::path> finished_now;  // the directories whose call.json was written
};

/// Finds this node's unfinished calls under `root` and finishes each (recover_call_directory),
/// adding them to `directory`'s recent calls and logging each. Blocking: a thread of its own.
recovery_summary recover_unfinished_calls(const std::filesystem::path& root,
                                          const std::string& node_name, call_directory& directory,
                                          std::chrono::system_clock::time_point now);

/// Runs recover_unfinished_calls on a detached actor of its own: start-up goes on meanwhile.
/// `then` (may be empty) runs there afterwards, with what was done (the node's start-up
/// upload scan: it must follow the recovery, which writes the call.json it uploads).
void spawn_call_recovery(caf::actor_system& system, std::filesystem::path root,
                         std::string node_name, std::shared_ptr<call_directory> directory,
                         std::function<void(const recovery_summary&)> then = {});

}  // namespace switchboard::actors
