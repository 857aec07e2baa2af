#pragma once
// The cluster as this node sees it: every peer's state, what it last reported and when. Plain
// logic, no actors and no clock of its own: the node actor (app/cluster_node.cpp) feeds it what
// the network says, with the time, and tests feed it explicit times.
//
// A peer is `joining` from the moment a link to it opens until it reports itself ready, then
// whatever it reports (ready, draining), and `down` when its link drops or it falls silent.
// A restarted process is a new node id (CAF): when a new id arrives under the name of a node
// that is down, it takes that node's place in the table (a rejoin). Down entries are
// forgotten after a while.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::actors {

enum class node_state { joining, ready, draining, down };

std::string_view to_string(node_state state);
/// A state a node may report about itself (joining, ready, draining); nullopt otherwise: a peer
/// never reports itself down, and any other text is hostile.
std::optional<node_state> parse_reported_state(std::string_view text);

/// What a node reports about itself (the payload of its heartbeat).
struct node_report {
  std::string name;
  node_state state = node_state::joining;
  std::uint32_t active_calls = 0;
  std::uint32_t promised_calls = 0;  // places promised to calls whose stream has not started
  std::uint32_t capacity = 0;
  double load = 0;
  std::string stream_url;
  std::string address;  // host:port of its cluster port
};

/// One node of the table, as /cluster shows it.
struct cluster_member {
  std::string id;  // CAF node id, text
  node_report report;
  node_state state = node_state::joining;
  bool self = false;
  std::optional<std::chrono::steady_clock::duration> heartbeat_age;  // nullopt: never heard
};

/// What a call changed, for the link-event metric and the log.
enum class membership_change {
  none,
  joined,    // a node not in the table (or down) is now linked
  ready,     // a peer reported ready for the first time since it joined
  rejoined,  // a new node id took the place of a down node with the same name
  lost,      // a live peer went down
};
std::string_view to_string(membership_change change);

class cluster_membership {
 public:
  using clock = std::chrono::steady_clock;
  struct limits {
    // A live peer not heard from for this long is down: the last line of defence when the
    // transport itself notices nothing (its heartbeats are the first).
    clock::duration silence_limit = std::chrono::seconds(4);
    // A down node stays listed this long (or until it rejoins).
    clock::duration forget_after = std::chrono::minutes(5);
  };

  cluster_membership(std::string self_id, node_report self, limits bounds);

  const std::string& self_id() const { return self_id_; }
  void update_self(node_report self);

  /// A link to `id` opened (our connect answered, or its first heartbeat arrived).
  membership_change linked(const std::string& id, clock::time_point now);
  /// A heartbeat from `id`. A report claiming to be down is ignored.
  std::vector<membership_change> heard(const std::string& id, node_report report,
                                       clock::time_point now);
  /// The link to `id` dropped (its actor's down message).
  membership_change lost(const std::string& id, clock::time_point now);
  /// Marks silent peers down (returns their ids) and forgets long-down ones.
  std::vector<std::string> expire(clock::time_point now);

  bool is_live(const std::string& id) const;
  /// Every node, this one first, then by name.
  std::vector<cluster_member> members(clock::time_point now) const;
  /// How many nodes are in each state, this one included (every state present, maybe 0).
  std::map<node_state, std::size_t> counts() const;
  /// The cluster addresses of live peers (what this node gossips).
  std::vector<std::string> live_addresses() const;

 private:
  struct peer {
    node_report report;
    node_state state = node_state::joining;
    bool heard = false;
    clock::time_point last_heard{};
    clock::time_point since{};  // last change of state
  };
  void replace_down_namesake(const std::string& id, const std::string& name,
                             std::vector<membership_change>& changes);

  std::string self_id_;
  node_report self_;
  limits limits_;
  std::map<std::string, peer> peers_;
};

}  // namespace switchboard::actors
