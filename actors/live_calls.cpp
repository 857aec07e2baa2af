#include "actors/live_calls.hpp"

#include <algorithm>

namespace switchboard::actors {

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

void live_calls::started(call_supervisor_actor supervisor, call_view view) {
  std::lock_guard lock(mutex_);
  auto sid = view.identity.call_sid;
  live_.insert_or_assign(std::move(sid), live_call{std::move(supervisor), std::move(view)});
}

void live_calls::update(std::string_view call_sid, const std::function<void(call_view&)>& change) {
  std::lock_guard lock(mutex_);
  if (auto found = live_.find(call_sid); found != live_.end())
    change(found->second.view);
}

void live_calls::ended(std::string_view call_sid, std::string end_reason,
                       std::filesystem::path directory, std::vector<std::string> files,
                       std::chrono::system_clock::time_point at) {
  std::lock_guard lock(mutex_);
  const auto found = live_.find(call_sid);
  if (found == live_.end())
    return;
  auto view = std::move(found->second.view);
  live_.erase(found);
  view.state = call_state::ended;
  view.end_reason = std::move(end_reason);
  view.directory = std::move(directory);
  view.files = std::move(files);
  view.ended_at = at;
  recent_.push_front(std::move(view));
  if (recent_.size() > recent_limit)
    recent_.pop_back();
}

std::vector<call_view> live_calls::live() const {
  std::lock_guard lock(mutex_);
  std::vector<call_view> views;
  views.reserve(live_.size());
  for (const auto& [sid, call] : live_)
    views.push_back(call.view);
  std::sort(views.begin(), views.end(),
            [](const call_view& a, const call_view& b) { return a.started_at < b.started_at; });
  return views;
}

std::vector<call_view> live_calls::recent() const {
  std::lock_guard lock(mutex_);
  return {recent_.begin(), recent_.end()};
}

std::optional<call_view> live_calls::find(std::string_view call_sid) const {
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

std::optional<call_supervisor_actor> live_calls::supervisor_of(std::string_view call_sid) const {
  std::lock_guard lock(mutex_);
  const auto found = live_.find(call_sid);
  if (found == live_.end() || found->second.view.state != call_state::live)
    return std::nullopt;
  return found->second.supervisor;
}

}  // namespace switchboard::actors
