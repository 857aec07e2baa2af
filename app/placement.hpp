#pragma once
// Placement (README "Cluster"): which node takes a new call. The node that answers the webhook
// (or POST /calls) ranks the nodes it knows and asks the best one for a place; its TwiML then
// names that node's NODE_STREAM_URL. Plain logic with explicit times, no I/O: bridge_server
// applies it (app/call_placement.hpp), tests feed it tables.
//
// The rule: least loaded first. A node may take a call when it is ready (not joining, not
// draining, not down), advertises a stream URL (peers only: this node's own TwiML needs none),
// and has room under its MAX_CALLS counting the calls it carries *and* the places it has
// promised to streams not started yet. Among those, the lowest share of its capacity in use
// (unlimited counts as no share), then the fewest calls, then this node (its stream needs no
// claim at another node), then the lower CPU load, then the name.
//
// Why the least loaded and not two random choices: every node knows every peer's load from the
// heartbeats (once a second, 3 to 20 nodes), and the staleness that makes "least loaded" herd
// calls onto one node is what the promises remove: each place is reserved on the chosen node
// before the TwiML names it (a refusal moves on to the next), the heartbeat carries the places
// promised, and this node adds the places it reserved since a peer's last heartbeat
// (placement_tally). The order is then deterministic, which the tests and the demo show.
// Room is judged on what each node last said of itself; the tally only ranks (it may count a
// place twice for a moment), and the chosen node's own admission has the last word.

#include "actors/cluster_membership.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::app {

/// A node a call may go to.
struct placement_target {
  std::string node_id;     // "" without a cluster
  std::string name;        // NODE_NAME, for the log and the demo
  std::string stream_url;  // the peer's NODE_STREAM_URL; empty for this node (its own TwiML)
  bool self = false;
};

/// What the answering node knows of itself now: fresher than its own row of the table.
struct local_node_status {
  std::string id;
  std::string name;
  bool draining = false;
  bool has_stream_url = false;  // NODE_STREAM_URL set: peers can be sent calls as it is
  std::uint32_t occupied = 0;   // calls streaming + places promised, now: whether it has room
  /// What the rank counts for this node: as of its own last heartbeat plus what it placed here
  /// since, so that it is compared with its peers at the same age (their numbers are up to a
  /// heartbeat old; its live count would make it look busier than they do and send calls away
  /// that it could keep). nullopt: `occupied`.
  std::optional<std::uint32_t> ranked_occupied;
  std::uint32_t capacity = 0;  // MAX_CALLS, 0 = unlimited
  double load = 0;
};

/// The places this node reserved on peers that their heartbeats may not show yet. Thread-safe.
class placement_tally {
 public:
  using clock = std::chrono::steady_clock;
  /// Reservations older than this are forgotten (a heartbeat has long shown them).
  static constexpr clock::duration memory = std::chrono::seconds(10);

  void placed(const std::string& node_id, clock::time_point now);
  /// Places reserved on `node_id` after `reported_at` (the time of its last heartbeat).
  std::uint32_t unreported(const std::string& node_id, clock::time_point reported_at,
                           clock::time_point now);

 private:
  std::mutex mutex_;
  std::deque<std::pair<clock::time_point, std::string>> placed_;  // oldest first
};

/// The nodes to try for a new call, best first (the rule above). This node comes first when it
/// has no NODE_STREAM_URL (it keeps the calls that land on it while it has room), and last when
/// it drains (serving a call beats refusing it when no peer can take it). Empty: every node is
/// full. `tally` may be null.
std::vector<placement_target> placement_order(const std::vector<actors::cluster_member>& members,
                                              const local_node_status& self, placement_tally* tally,
                                              std::chrono::steady_clock::time_point now);

/// The peers that may host the call of a stream that landed on this node with every place
/// taken (its actors there, the socket here), best first by the same rank; a NODE_STREAM_URL
/// is not needed, since no stream goes there. Empty: no peer has room.
std::vector<placement_target> hosting_order(const std::vector<actors::cluster_member>& members,
                                            const std::string& self_id,
                                            std::chrono::steady_clock::time_point now);

/// The node that keeps the cluster's CALLS_PER_MINUTE budget: the live (not down) node with the
/// lowest id, this one included. Every node computes the same one from the same table; while
/// the tables differ (a node just joined or was lost) two may keep one for a moment.
std::string dial_budget_keeper(const std::vector<actors::cluster_member>& members);

}  // namespace switchboard::app
