#include "actors/cluster_membership.hpp"

#include <algorithm>

namespace switchboard::actors {

std::string_view to_string(node_state state) {
  switch (state) {
    case node_state::joining:
      return "joining";
    case node_state::ready:
      return "ready";
    case node_state::draining:
      return "draining";
    case node_state::down:
      return "down";
  }
  return "down";
}

std::optional<node_state> parse_reported_state(std::string_view text) {
  if (text == "joining")
    return node_state::joining;
  if (text == "ready")
    return node_state::ready;
  if (text == "draining")
    return node_state::draining;
  return std::nullopt;
}

std::string_view to_string(membership_change change) {
  switch (change) {
    case membership_change::none:
      return "none";
    case membership_change::joined:
      return "joined";
    case membership_change::ready:
      return "ready";
    case membership_change::rejoined:
      return "rejoined";
    case membership_change::lost:
      return "lost";
  }
  return "none";
}

cluster_membership::cluster_membership(std::string self_id, node_report self, limits bounds)
    : self_id_(std::move(self_id)), self_(std::move(self)), limits_(bounds) {}

void cluster_membership::update_self(node_report self) {
  self_ = std::move(self);
}

membership_change cluster_membership::linked(const std::string& id, clock::time_point now) {
  if (id == self_id_)
    return membership_change::none;
  auto [it, inserted] = peers_.try_emplace(id);
  auto& entry = it->second;
  if (!inserted && entry.state != node_state::down)
    return membership_change::none;
  entry.state = node_state::joining;
  entry.heard = false;
  entry.since = now;
  return membership_change::joined;
}

void cluster_membership::replace_down_namesake(const std::string& id, const std::string& name,
                                               std::vector<membership_change>& changes) {
  for (auto it = peers_.begin(); it != peers_.end(); ++it) {
    if (it->first != id && it->second.state == node_state::down && it->second.report.name == name) {
      peers_.erase(it);
      changes.push_back(membership_change::rejoined);
      return;
    }
  }
}

std::vector<membership_change> cluster_membership::heard(const std::string& id, node_report report,
                                                         clock::time_point now) {
  std::vector<membership_change> changes;
  if (id == self_id_ || report.state == node_state::down)
    return changes;
  if (auto change = linked(id, now); change != membership_change::none)
    changes.push_back(change);
  auto& entry = peers_[id];
  if (!entry.heard || entry.report.name != report.name)
    replace_down_namesake(id, report.name, changes);
  const bool was_ready = entry.state == node_state::ready;
  if (entry.state != report.state)
    entry.since = now;
  entry.state = report.state;
  entry.report = std::move(report);
  entry.heard = true;
  entry.last_heard = now;
  if (!was_ready && entry.state == node_state::ready)
    changes.push_back(membership_change::ready);
  return changes;
}

membership_change cluster_membership::lost(const std::string& id, clock::time_point now) {
  auto it = peers_.find(id);
  if (it == peers_.end() || it->second.state == node_state::down)
    return membership_change::none;
  it->second.state = node_state::down;
  it->second.since = now;
  return membership_change::lost;
}

std::vector<std::string> cluster_membership::expire(clock::time_point now) {
  std::vector<std::string> silent;
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto& entry = it->second;
    if (entry.state == node_state::down) {
      if (now - entry.since >= limits_.forget_after) {
        it = peers_.erase(it);
        continue;
      }
    } else {
      // A peer linked but never heard counts from when it linked.
      const auto last = entry.heard ? entry.last_heard : entry.since;
      if (now - last >= limits_.silence_limit) {
        entry.state = node_state::down;
        entry.since = now;
        silent.push_back(it->first);
      }
    }
    ++it;
  }
  return silent;
}

bool cluster_membership::is_live(const std::string& id) const {
  auto it = peers_.find(id);
  return it != peers_.end() && it->second.state != node_state::down;
}

std::vector<cluster_member> cluster_membership::members(clock::time_point now) const {
  std::vector<cluster_member> out;
  out.push_back({self_id_, self_, self_.state, true, clock::duration::zero()});
  for (const auto& [id, entry] : peers_) {
    std::optional<clock::duration> age;
    if (entry.heard)
      age = now - entry.last_heard;
    out.push_back({id, entry.report, entry.state, false, age});
  }
  std::sort(out.begin() + 1, out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.report.name, a.id) < std::tie(b.report.name, b.id);
  });
  return out;
}

std::map<node_state, std::size_t> cluster_membership::counts() const {
  std::map<node_state, std::size_t> out{{node_state::joining, 0},
                                        {node_state::ready, 0},
                                        {node_state::draining, 0},
                                        {node_state::down, 0}};
  ++out[self_.state];
  for (const auto& [id, entry] : peers_)
    ++out[entry.state];
  return out;
}

std::vector<std::string> cluster_membership::live_addresses() const {
  std::vector<std::string> out;
  for (const auto& [id, entry] : peers_) {
    if (entry.state != node_state::down && !entry.report.address.empty())
      out.push_back(entry.report.address);
  }
  return out;
}

}  // namespace switchboard::actors
