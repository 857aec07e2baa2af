#pragma once
// What an operator sees of the calls on this node: a view of every live call (kept current by
// its supervisor) and of the last calls that ended, with a handle to each live call's supervisor
// so that the call-control API (app/call_control.*) can steer it by message.
//
// The supervisors write, HTTP handlers read; a mutex guards both. The view is plain data, so a
// cluster can later describe and move it between nodes.

#include "actors/interfaces.hpp"
#include "actors/messages.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::actors {

enum class call_state : std::uint8_t { live, ending, ended };
std::string_view to_string(call_state state);

struct call_view {
  call_identity identity;
  std::string direction;  // "inbound" | "outbound" (placed by POST /calls)
  call_state state = call_state::live;
  std::chrono::system_clock::time_point started_at;
  std::chrono::system_clock::time_point ended_at;  // when state is ended
  std::uint64_t barge_ins = 0;
  std::vector<transcript_entry> transcript;
  std::string end_reason;           // once ending
  std::filesystem::path directory;  // ended: where its files are (empty: none)
  std::vector<std::string> files;   // ended: the files written there
};

class live_calls {
 public:
  /// How many ended calls are kept for GET /calls (newest first).
  static constexpr std::size_t recent_limit = 50;

  // -- Supervisors --------------------------------------------------------------------------
  void started(call_supervisor_actor supervisor, call_view view);
  /// Applies `change` to the live call's view; nothing when the call is not live here.
  void update(std::string_view call_sid, const std::function<void(call_view&)>& change);
  /// The call is over and its files are written: it leaves the live calls for the recent ones.
  void ended(std::string_view call_sid, std::string end_reason, std::filesystem::path directory,
             std::vector<std::string> files, std::chrono::system_clock::time_point at);

  // -- The call-control API ---------------------------------------------------------------------
  std::vector<call_view> live() const;
  std::vector<call_view> recent() const;
  std::optional<call_view> find(std::string_view call_sid) const;
  /// The supervisor of a call that is live (not ending), to steer it.
  std::optional<call_supervisor_actor> supervisor_of(std::string_view call_sid) const;

 private:
  struct live_call {
    call_supervisor_actor supervisor;
    call_view view;
  };
  mutable std::mutex mutex_;
  std::map<std::string, live_call, std::less<>> live_;
  std::deque<call_view> recent_;  // newest first
};

}  // namespace switchboard::actors
