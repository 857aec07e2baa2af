#pragma once
// What an operator sees of the calls: this node's own (a view of every live call, kept current
// by its supervisor, with a handle to the supervisor so that the call-control API can steer it
// by message, and the last calls that ended) and, in a cluster, every peer's, as the peers
// announce them (app/cluster_node.cpp): one directory per node, kept in step with the others.
//
//   a supervisor ──started / update / ended──▶ call_directory ──announcer(sid)──▶ node actor
//   node actor ◀──call_announcement / call_snapshot── peers;  peer lost ──▶ its calls end here
//
// The supervisors and the node actor write, HTTP handlers read; a mutex guards it all. The merge
// rules for peers' calls are the plain remote_call_book (unit-tested on its own).

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
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::actors {

enum class call_state : std::uint8_t { live, ending, ended };
std::string_view to_string(call_state state);
std::optional<call_state> parse_call_state(std::string_view text);

struct call_view {
  call_identity identity;
  std::string direction;  // "inbound" | "outbound" (placed by POST /calls)
  call_state state = call_state::live;
  std::chrono::system_clock::time_point started_at;
  std::chrono::system_clock::time_point ended_at;  // when state is ended
  std::uint64_t barge_ins = 0;
  std::vector<transcript_entry> transcript;
  std::string end_reason;           // once ending
  std::filesystem::path directory;  // ended, this node's calls: where its files are (empty: none)
  std::vector<std::string> files;   // ended: the files written there
  std::string node;                 // the name of the call's node; "" without a cluster
  std::uint64_t revision = 0;       // grows with every change announced to the peers
};

/// Where the revisions of a call's part begin: a call handed over to another node goes on there
/// as its next part, whose announcements must count as newer than everything the earlier
/// part's node said, its "handed over" end included. Each part has its own 2^32 revisions.
constexpr std::uint64_t part_revision_base(std::uint64_t part_number) {
  return part_number <= 1 ? 0 : (part_number - 1) << 32;
}

/// A call as it crosses to another node (no directory path; times as integers).
shared_call_view share(const call_view& view, bool with_transcript);
/// A peer's call as this node keeps it; nullopt when its state is not one of ours (hostile).
std::optional<call_view> unshare(shared_call_view shared, std::string node_name);

/// The merge rules for the calls of peers, by node id (one per process). Plain data, no lock.
///   - an announcement counts only when its revision is newer than what is known of that call;
///     a call announced ended moves to the recent list (an end never seen started too);
///   - a snapshot replaces what is known of that node's live calls;
///   - a node lost ends its live calls ("node lost") and is ignored from then on (a restarted
///     process is a new node id).
class remote_call_book {
 public:
  static constexpr std::size_t recent_limit = 50;
  // Bounds against a peer gone wrong: beyond them, new calls of that node are not listed.
  static constexpr std::size_t max_live_per_node = 10'000;
  static constexpr std::size_t max_lost_nodes = 1'000;
  static constexpr std::string_view lost_reason = "node lost";

  /// True when the book changed.
  bool announced(const std::string& node_id, const std::string& node_name, shared_call_view call);
  void snapshot(const std::string& node_id, const std::string& node_name,
                std::vector<shared_call_view> calls);
  /// The node's live calls end at `at`; returns how many.
  std::size_t node_lost(const std::string& node_id, std::chrono::system_clock::time_point at);

  /// Live calls of every peer (any order).
  std::vector<call_view> live() const;
  /// Ended calls of peers, newest first.
  const std::deque<call_view>& recent() const { return recent_; }
  std::optional<call_view> find(std::string_view call_sid) const;
  /// The node id of a peer's call that is live or ending.
  std::optional<std::string> node_of(std::string_view call_sid) const;
  /// The node id of the linked peer that recorded the ended call `call_sid` (its last part):
  /// nullopt when the call is not a peer's ended call, or its node is gone.
  std::optional<std::string> recorded_by(std::string_view call_sid) const;

 private:
  struct node_calls {
    std::string name;
    std::map<std::string, call_view, std::less<>> live;
  };
  void remember_ended(call_view view);
  bool ended_at_least(std::string_view call_sid, std::uint64_t revision) const;

  std::map<std::string, node_calls> nodes_;
  std::deque<call_view> recent_;  // newest first
  std::set<std::string> lost_;
  std::deque<std::string> lost_order_;  // oldest first, for the bound
};

class call_directory {
 public:
  /// How many ended calls GET /calls lists (newest first).
  static constexpr std::size_t recent_limit = 50;

  /// In a cluster: the name this node's calls carry, and who hears of their changes (the node
  /// actor, told the call's sid; it reads the call back from here). Set before calls start.
  void join_cluster(std::string node_name, std::function<void(std::string call_sid)> announcer);

  // -- Supervisors --------------------------------------------------------------------------
  /// A call's part begins here (1: a new call; later: a call handed over or continued after
  /// its stream was lost): its first revision is one past `view.revision` (part_revision_base
  /// of the part). An earlier part of the same call still ending on this node (its socket
  /// broke a moment ago, and the call's next stream came straight back) is kept aside until
  /// it ends: the new part is the call's live view from now on.
  void started(call_supervisor_actor supervisor, call_view view, std::uint64_t part = 1);
  /// Applies `change` to the view of the call's part `part`; nothing when that part is not
  /// live here. Only the newest part's changes are announced.
  void update(std::string_view call_sid, const std::function<void(call_view&)>& change,
              std::uint64_t part = 1);
  /// The call's part is over and its files are written: it leaves the live calls for the
  /// recent ones. An earlier part set aside by its successor ends there without touching it.
  void ended(std::string_view call_sid, std::string end_reason, std::filesystem::path directory,
             std::vector<std::string> files, std::chrono::system_clock::time_point at,
             std::uint64_t part = 1);
  /// A call that ended here without running here: one an earlier process of this node left
  /// unfinished, finished now (call_recovery), or one handed here whose stream never came
  /// (unclaimed_handover_view). It joins the recent calls in the order of its end, as far as
  /// the limit allows, one revision past `view.revision`.
  void recovered(call_view view);

  // -- The cluster node -----------------------------------------------------------------------
  void peer_announced(const std::string& node_id, const std::string& node_name,
                      shared_call_view call);
  void peer_snapshot(const std::string& node_id, const std::string& node_name,
                     std::vector<shared_call_view> calls);
  void peer_lost(const std::string& node_id, std::chrono::system_clock::time_point at);
  /// This node's live calls, as peers see them.
  std::vector<shared_call_view> local_live() const;
  /// One of this node's calls (live or recent), as peers see it.
  std::optional<shared_call_view> local_call(std::string_view call_sid, bool with_transcript) const;
  std::size_t local_live_count() const;

  // -- The call-control API ---------------------------------------------------------------------
  /// Every live call of the cluster, oldest first.
  std::vector<call_view> live() const;
  /// The last calls that ended anywhere in the cluster, newest first.
  std::vector<call_view> recent() const;
  /// A call of this node, else of a peer.
  std::optional<call_view> find(std::string_view call_sid) const;
  /// A call of this node only.
  std::optional<call_view> find_local(std::string_view call_sid) const;
  /// The supervisor of a call that is live (not ending) on this node, to steer it.
  std::optional<call_supervisor_actor> supervisor_of(std::string_view call_sid) const;
  /// The supervisors of this node's calls, live or ending: what a stop that cannot wait for
  /// them ends.
  std::vector<call_supervisor_actor> local_supervisors() const;
  /// The node id of a call live (or ending) on a peer.
  std::optional<std::string> peer_of(std::string_view call_sid) const;
  /// The node id of the linked peer that holds the files of an ended call of the cluster
  /// (remote_call_book::recorded_by); nullopt for this node's calls too.
  std::optional<std::string> recorded_on_peer(std::string_view call_sid) const;

 private:
  struct live_call {
    call_supervisor_actor supervisor;
    call_view view;
    std::uint64_t part = 1;
  };
  void announce(std::string call_sid) const;
  /// The entry of `call_sid`'s part `part`, live or set aside; null when there is none.
  live_call* part_entry(std::string_view call_sid, std::uint64_t part);  // mutex_ held

  mutable std::mutex mutex_;
  std::map<std::string, live_call, std::less<>> live_;  // each call's newest part here
  // Earlier parts still ending here when their call's next part started here, by CallSid and
  // part number.
  std::map<std::pair<std::string, std::uint64_t>, live_call> ending_earlier_parts_;
  std::deque<call_view> recent_;  // newest first
  std::string node_name_;
  std::function<void(std::string)> announcer_;
  remote_call_book peers_;
};

}  // namespace switchboard::actors
