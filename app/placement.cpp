#include "app/placement.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>

namespace switchboard::app {

void placement_tally::placed(const std::string& node_id, clock::time_point now) {
  std::lock_guard lock(mutex_);
  placed_.emplace_back(now, node_id);
}

std::uint32_t placement_tally::unreported(const std::string& node_id, clock::time_point reported_at,
                                          clock::time_point now) {
  std::lock_guard lock(mutex_);
  while (!placed_.empty() && now - placed_.front().first > memory)
    placed_.pop_front();
  return static_cast<std::uint32_t>(std::count_if(
      placed_.begin(), placed_.end(),
      [&](const auto& entry) { return entry.second == node_id && entry.first >= reported_at; }));
}

namespace {

struct candidate {
  placement_target target;
  std::uint32_t occupied = 0;  // what the rank counts: reported, and reserved since
  std::uint32_t capacity = 0;
  double load = 0;
  std::uint32_t known_occupied = 0;  // what the node itself said (or this node knows of itself)

  // Room as the node itself last said: a place this node reserved since (the tally) only moves
  // it down the order, since the tally may count one its heartbeat already shows; the node's
  // answer to the reservation is what decides.
  bool has_room() const { return capacity == 0 || known_occupied < capacity; }
  double share() const {
    return capacity == 0 ? 0.0 : static_cast<double>(occupied) / static_cast<double>(capacity);
  }
  auto rank() const {
    return std::tuple(share(), occupied, !target.self, load, std::string_view(target.name));
  }
};

/// The ready peers with room, as the rule ranks them: those with a NODE_STREAM_URL only when
/// the call's stream is to go there.
std::vector<candidate> peers_with_room(const std::vector<actors::cluster_member>& members,
                                       const std::string& self_id, placement_tally* tally,
                                       std::chrono::steady_clock::time_point now,
                                       bool need_stream_url) {
  std::vector<candidate> peers;
  for (const auto& member : members) {
    const auto& report = member.report;
    if (member.self || member.id == self_id || member.state != actors::node_state::ready ||
        (need_stream_url && report.stream_url.empty())) {
      continue;
    }
    std::uint32_t unreported = 0;
    if (tally != nullptr) {
      // Never heard: every reservation counts.
      const auto reported_at = member.heartbeat_age ? now - *member.heartbeat_age
                                                    : std::chrono::steady_clock::time_point{};
      unreported = tally->unreported(member.id, reported_at, now);
    }
    const auto reported = report.active_calls + report.promised_calls;
    candidate peer{{member.id, report.name, report.stream_url, false},
                   reported + unreported,
                   report.capacity,
                   report.load,
                   reported};
    if (peer.has_room())
      peers.push_back(std::move(peer));
  }
  return peers;
}

bool by_rank(const candidate& a, const candidate& b) {
  return a.rank() < b.rank();
}

}  // namespace

std::vector<placement_target> placement_order(const std::vector<actors::cluster_member>& members,
                                              const local_node_status& self, placement_tally* tally,
                                              std::chrono::steady_clock::time_point now) {
  const auto peers = peers_with_room(members, self.id, tally, now, true);
  const candidate here{{self.id, self.name, {}, true},
                       self.ranked_occupied.value_or(self.occupied),
                       self.capacity,
                       self.load,
                       self.occupied};
  std::vector<candidate> ranked = peers;
  const bool self_ranked = !self.draining && self.has_stream_url && here.has_room();
  if (self_ranked)
    ranked.push_back(here);
  std::stable_sort(ranked.begin(), ranked.end(), by_rank);

  std::vector<placement_target> order;
  // Without a stream URL of its own this node keeps what lands on it; draining, it is the last
  // resort.
  if (!self.draining && !self.has_stream_url && here.has_room())
    order.push_back(here.target);
  for (auto& entry : ranked)
    order.push_back(std::move(entry.target));
  if (self.draining && here.has_room())
    order.push_back(here.target);
  return order;
}

std::vector<placement_target> hosting_order(const std::vector<actors::cluster_member>& members,
                                            const std::string& self_id,
                                            std::chrono::steady_clock::time_point now) {
  auto peers = peers_with_room(members, self_id, nullptr, now, false);
  std::stable_sort(peers.begin(), peers.end(), by_rank);
  std::vector<placement_target> order;
  for (auto& peer : peers)
    order.push_back(std::move(peer.target));
  return order;
}

std::string dial_budget_keeper(const std::vector<actors::cluster_member>& members) {
  std::string keeper;
  for (const auto& member : members) {
    if (member.state != actors::node_state::down && (keeper.empty() || member.id < keeper))
      keeper = member.id;
  }
  return keeper;
}

}  // namespace switchboard::app
