#include "actors/call_directory.hpp"

#include <algorithm>
#include <map>

namespace switchboard::actors {

namespace {

using system_clock = std::chrono::system_clock;

std::int64_t to_ms(system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

system_clock::time_point from_ms(std::int64_t ms) {
  return system_clock::time_point(std::chrono::milliseconds(ms));
}

template <class Views>
void keep_newest(Views& views, std::size_t limit) {
  while (views.size() > limit)
    views.pop_back();
}

}  // namespace

std::string_view to_string(call_state state) {
  switch (state) {
    case call_state::live:
      return "live";
    case call_state::ending:
      return "ending";
    case call_state::ended:
      return "ended";
  }
  return "unknown";
}

std::optional<call_state> parse_call_state(std::string_view text) {
  for (auto state : {call_state::live, call_state::ending, call_state::ended}) {
    if (to_string(state) == text)
      return state;
  }
  return std::nullopt;
}

shared_call_view share(const call_view& view, bool with_transcript) {
  shared_call_view shared;
  shared.identity = view.identity;
  shared.direction = view.direction;
  shared.state = std::string(to_string(view.state));
  shared.started_at_ms = to_ms(view.started_at);
  shared.ended_at_ms = view.state == call_state::ended ? to_ms(view.ended_at) : 0;
  shared.barge_ins = view.barge_ins;
  shared.end_reason = view.end_reason;
  shared.files = view.files;
  if (with_transcript)
    shared.transcript = view.transcript;
  shared.revision = view.revision;
  return shared;
}

std::optional<call_view> unshare(shared_call_view shared, std::string node_name) {
  const auto state = parse_call_state(shared.state);
  if (!state)
    return std::nullopt;
  call_view view;
  view.identity = std::move(shared.identity);
  view.direction = std::move(shared.direction);
  view.state = *state;
  view.started_at = from_ms(shared.started_at_ms);
  view.ended_at = from_ms(shared.ended_at_ms);
  view.barge_ins = shared.barge_ins;
  view.transcript = std::move(shared.transcript);
  view.end_reason = std::move(shared.end_reason);
  view.files = std::move(shared.files);
  view.node = std::move(node_name);
  view.revision = shared.revision;
  return view;
}

// -- remote_call_book ------------------------------------------------------------------------

bool remote_call_book::ended_at_least(std::string_view call_sid, std::uint64_t revision) const {
  return std::any_of(recent_.begin(), recent_.end(), [&](const call_view& view) {
    return view.identity.call_sid == call_sid && view.revision >= revision;
  });
}

void remote_call_book::remember_ended(call_view view) {
  view.transcript.clear();
  std::erase_if(recent_, [&](const call_view& old) {
    return old.identity.call_sid == view.identity.call_sid;
  });
  // Newest first by end time: a late announcement goes where its end puts it.
  const auto at = std::find_if(recent_.begin(), recent_.end(),
                               [&](const call_view& old) { return old.ended_at <= view.ended_at; });
  recent_.insert(at, std::move(view));
  keep_newest(recent_, recent_limit);
}

bool remote_call_book::announced(const std::string& node_id, const std::string& node_name,
                                 shared_call_view call) {
  if (lost_.contains(node_id))
    return false;
  auto view = unshare(std::move(call), node_name);
  if (!view || view->identity.call_sid.empty())
    return false;
  view->transcript.clear();  // the list shows none; GET /calls/{sid} asks the call's node
  auto& node = nodes_[node_id];
  node.name = node_name;
  const auto& sid = view->identity.call_sid;
  const auto known = node.live.find(sid);
  if (known != node.live.end() && known->second.revision >= view->revision)
    return false;
  if (ended_at_least(sid, view->revision))
    return false;
  if (view->state == call_state::ended) {
    if (known != node.live.end())
      node.live.erase(known);
    remember_ended(std::move(*view));
    return true;
  }
  if (known == node.live.end() && node.live.size() >= max_live_per_node)
    return false;
  node.live.insert_or_assign(sid, std::move(*view));
  return true;
}

void remote_call_book::snapshot(const std::string& node_id, const std::string& node_name,
                                std::vector<shared_call_view> calls) {
  if (lost_.erase(node_id) != 0) {
    // Marked down, then linked again under the same id (a node frozen past the timeouts, then
    // thawed): its snapshot says which of its calls still run; they leave the "node lost" list.
    std::erase(lost_order_, node_id);
    std::erase_if(recent_, [&](const call_view& view) {
      return view.end_reason == lost_reason &&
             std::any_of(calls.begin(), calls.end(), [&](const shared_call_view& call) {
               return call.identity.call_sid == view.identity.call_sid;
             });
    });
  }
  auto& node = nodes_[node_id];
  node.name = node_name;
  // What is not in it ended while the link was not there to say so.
  node.live.clear();
  for (auto& call : calls)
    announced(node_id, node_name, std::move(call));
}

std::size_t remote_call_book::node_lost(const std::string& node_id, system_clock::time_point at) {
  if (lost_.insert(node_id).second) {
    lost_order_.push_back(node_id);
    if (lost_order_.size() > max_lost_nodes) {
      lost_.erase(lost_order_.front());
      lost_order_.pop_front();
    }
  }
  const auto node = nodes_.find(node_id);
  if (node == nodes_.end())
    return 0;
  const auto count = node->second.live.size();
  for (auto& [sid, view] : node->second.live) {
    view.state = call_state::ended;
    view.end_reason = std::string(lost_reason);
    view.ended_at = at;
    remember_ended(std::move(view));
  }
  nodes_.erase(node);
  return count;
}

std::vector<call_view> remote_call_book::live() const {
  std::vector<call_view> views;
  for (const auto& [id, node] : nodes_) {
    for (const auto& [sid, view] : node.live)
      views.push_back(view);
  }
  return views;
}

std::optional<call_view> remote_call_book::find(std::string_view call_sid) const {
  for (const auto& [id, node] : nodes_) {
    if (const auto found = node.live.find(call_sid); found != node.live.end())
      return found->second;
  }
  for (const auto& view : recent_) {
    if (view.identity.call_sid == call_sid)
      return view;
  }
  return std::nullopt;
}

std::optional<std::string> remote_call_book::node_of(std::string_view call_sid) const {
  for (const auto& [id, node] : nodes_) {
    if (node.live.contains(call_sid))
      return id;
  }
  return std::nullopt;
}

std::optional<std::string> remote_call_book::recorded_by(std::string_view call_sid) const {
  const auto ended = std::find_if(recent_.begin(), recent_.end(), [&](const call_view& view) {
    return view.identity.call_sid == call_sid;
  });
  if (ended == recent_.end())
    return std::nullopt;
  // A restarted process of the same name is a new node id: the one linked now has the disk.
  for (const auto& [id, node] : nodes_) {
    if (node.name == ended->node)
      return id;
  }
  return std::nullopt;
}

// -- call_directory --------------------------------------------------------------------------

void call_directory::join_cluster(std::string node_name,
                                  std::function<void(std::string)> announcer) {
  std::lock_guard lock(mutex_);
  node_name_ = std::move(node_name);
  announcer_ = std::move(announcer);
}

void call_directory::announce(std::string call_sid) const {
  std::function<void(std::string)> announcer;
  {
    std::lock_guard lock(mutex_);
    announcer = announcer_;
  }
  if (announcer)
    announcer(std::move(call_sid));
}

call_directory::live_call* call_directory::part_entry(std::string_view call_sid,
                                                      std::uint64_t part) {
  if (const auto found = live_.find(call_sid); found != live_.end() && found->second.part == part)
    return &found->second;
  const auto aside = ending_earlier_parts_.find({std::string(call_sid), part});
  return aside == ending_earlier_parts_.end() ? nullptr : &aside->second;
}

void call_directory::started(call_supervisor_actor supervisor, call_view view, std::uint64_t part) {
  auto sid = view.identity.call_sid;
  {
    std::lock_guard lock(mutex_);
    view.node = node_name_;
    view.revision += 1;  // past the part's base
    if (const auto earlier = live_.find(sid); earlier != live_.end() && earlier->second.part < part)
      ending_earlier_parts_.insert_or_assign({sid, earlier->second.part},
                                             std::move(earlier->second));
    live_.insert_or_assign(sid, live_call{std::move(supervisor), std::move(view), part});
  }
  announce(std::move(sid));
}

void call_directory::update(std::string_view call_sid,
                            const std::function<void(call_view&)>& change, std::uint64_t part) {
  bool tell_peers = false;
  {
    std::lock_guard lock(mutex_);
    auto* entry = part_entry(call_sid, part);
    if (entry == nullptr)
      return;
    auto& view = entry->view;
    // Peers hear of what they show (state, end reason, barge-ins); a transcript line stays
    // here until someone asks for the call. An earlier part set aside is no longer shown.
    const auto state = view.state;
    const auto barge_ins = view.barge_ins;
    const auto end_reason = view.end_reason;
    change(view);
    const bool newest = entry == &live_.find(call_sid)->second;
    tell_peers =
        newest && announcer_ &&
        (state != view.state || barge_ins != view.barge_ins || end_reason != view.end_reason);
    if (tell_peers)
      ++view.revision;
  }
  if (tell_peers)
    announce(std::string(call_sid));
}

void call_directory::ended(std::string_view call_sid, std::string end_reason,
                           std::filesystem::path directory, std::vector<std::string> files,
                           system_clock::time_point at, std::uint64_t part) {
  bool newest = false;
  {
    std::lock_guard lock(mutex_);
    call_view view;
    if (const auto found = live_.find(call_sid);
        found != live_.end() && found->second.part == part) {
      newest = true;
      view = std::move(found->second.view);
      live_.erase(found);
    } else if (const auto aside = ending_earlier_parts_.find({std::string(call_sid), part});
               aside != ending_earlier_parts_.end()) {
      // Its successor is the call's live view here, and what peers hear of the call.
      view = std::move(aside->second.view);
      ending_earlier_parts_.erase(aside);
    } else {
      return;
    }
    view.state = call_state::ended;
    view.end_reason = std::move(end_reason);
    view.directory = std::move(directory);
    view.files = std::move(files);
    view.ended_at = at;
    ++view.revision;
    recent_.push_front(std::move(view));
    keep_newest(recent_, recent_limit);
  }
  if (newest)
    announce(std::string(call_sid));
}

void call_directory::recovered(call_view view) {
  const auto call_sid = view.identity.call_sid;
  {
    std::lock_guard lock(mutex_);
    view.state = call_state::ended;
    view.node = node_name_;
    ++view.revision;
    // Newest first: it ended before the calls this process has seen end, most likely.
    const auto place = std::find_if(recent_.begin(), recent_.end(), [&](const call_view& other) {
      return other.ended_at < view.ended_at;
    });
    recent_.insert(place, std::move(view));
    keep_newest(recent_, recent_limit);
  }
  announce(call_sid);
}

void call_directory::peer_announced(const std::string& node_id, const std::string& node_name,
                                    shared_call_view call) {
  std::lock_guard lock(mutex_);
  peers_.announced(node_id, node_name, std::move(call));
}

void call_directory::peer_snapshot(const std::string& node_id, const std::string& node_name,
                                   std::vector<shared_call_view> calls) {
  std::lock_guard lock(mutex_);
  peers_.snapshot(node_id, node_name, std::move(calls));
}

void call_directory::peer_lost(const std::string& node_id, system_clock::time_point at) {
  std::lock_guard lock(mutex_);
  peers_.node_lost(node_id, at);
}

std::vector<shared_call_view> call_directory::local_live() const {
  std::lock_guard lock(mutex_);
  std::vector<shared_call_view> views;
  views.reserve(live_.size());
  for (const auto& [sid, call] : live_)
    views.push_back(share(call.view, false));
  return views;
}

std::vector<call_supervisor_actor> call_directory::local_supervisors() const {
  std::lock_guard lock(mutex_);
  std::vector<call_supervisor_actor> supervisors;
  supervisors.reserve(live_.size());
  for (const auto& [sid, call] : live_)
    supervisors.push_back(call.supervisor);
  for (const auto& [key, call] : ending_earlier_parts_)
    supervisors.push_back(call.supervisor);
  return supervisors;
}

std::optional<shared_call_view> call_directory::local_call(std::string_view call_sid,
                                                           bool with_transcript) const {
  std::lock_guard lock(mutex_);
  if (const auto found = live_.find(call_sid); found != live_.end())
    return share(found->second.view, with_transcript);
  for (const auto& view : recent_) {
    if (view.identity.call_sid == call_sid)
      return share(view, with_transcript);
  }
  return std::nullopt;
}

std::size_t call_directory::local_live_count() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

std::vector<call_view> call_directory::live() const {
  std::lock_guard lock(mutex_);
  auto views = peers_.live();
  views.reserve(views.size() + live_.size());
  for (const auto& [sid, call] : live_)
    views.push_back(call.view);
  std::sort(views.begin(), views.end(),
            [](const call_view& a, const call_view& b) { return a.started_at < b.started_at; });
  return views;
}

std::vector<call_view> call_directory::recent() const {
  std::lock_guard lock(mutex_);
  std::vector<call_view> views(recent_.begin(), recent_.end());
  const auto& remote = peers_.recent();
  if (remote.empty())
    return views;  // no cluster: exactly the order the calls ended in here
  views.insert(views.end(), remote.begin(), remote.end());
  // A handed-over call has ended parts on several nodes: the list shows its last (the highest
  // revision: part_revision_base), once.
  std::map<std::string, std::uint64_t, std::less<>> last_part;
  for (const auto& view : views) {
    auto& revision = last_part[view.identity.call_sid];
    revision = std::max(revision, view.revision);
  }
  std::erase_if(views, [&](const call_view& view) {
    return view.revision < last_part.find(view.identity.call_sid)->second;
  });
  std::stable_sort(views.begin(), views.end(),
                   [](const call_view& a, const call_view& b) { return a.ended_at > b.ended_at; });
  if (views.size() > recent_limit)
    views.resize(recent_limit);
  return views;
}

std::optional<call_view> call_directory::find_local(std::string_view call_sid) const {
  std::lock_guard lock(mutex_);
  if (auto found = live_.find(call_sid); found != live_.end())
    return found->second.view;
  const auto ended = std::find_if(recent_.begin(), recent_.end(), [&](const call_view& view) {
    return view.identity.call_sid == call_sid;
  });
  if (ended != recent_.end())
    return *ended;
  return std::nullopt;
}

std::optional<call_view> call_directory::find(std::string_view call_sid) const {
  if (auto local = find_local(call_sid))
    return local;
  std::lock_guard lock(mutex_);
  return peers_.find(call_sid);
}

std::optional<call_supervisor_actor> call_directory::supervisor_of(
    std::string_view call_sid) const {
  std::lock_guard lock(mutex_);
  const auto found = live_.find(call_sid);
  if (found == live_.end() || found->second.view.state != call_state::live)
    return std::nullopt;
  return found->second.supervisor;
}

std::optional<std::string> call_directory::peer_of(std::string_view call_sid) const {
  std::lock_guard lock(mutex_);
  return peers_.node_of(call_sid);
}

std::optional<std::string> call_directory::recorded_on_peer(std::string_view call_sid) const {
  std::lock_guard lock(mutex_);
  const bool ours = live_.contains(call_sid) ||
                    std::any_of(recent_.begin(), recent_.end(), [&](const call_view& view) {
                      return view.identity.call_sid == call_sid;
                    });
  if (ours)
    return std::nullopt;
  return peers_.recorded_by(call_sid);
}

}  // namespace switchboard::actors
