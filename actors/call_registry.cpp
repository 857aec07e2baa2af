#include "actors/bridge_environment.hpp"

#include <algorithm>

namespace switchboard::actors {

void call_registry::call_opened() {
  std::lock_guard lock(mutex_);
  ++active_;
  changed_.notify_all();
}

void call_registry::call_finished(call_outcome outcome) {
  std::lock_guard lock(mutex_);
  if (outcome.started && active_ > 0)
    --active_;
  finished_.push_back(std::move(outcome));
  changed_.notify_all();
}

std::size_t call_registry::active_calls() const {
  std::lock_guard lock(mutex_);
  return active_;
}

std::size_t call_registry::finished_calls() const {
  std::lock_guard lock(mutex_);
  return finished_.size();
}

std::vector<call_outcome> call_registry::wait_for_finished(std::size_t count,
                                                           std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return finished_.size() >= count; });
  return finished_;
}

void dial_overrides::put(std::string dial_id, overrides changes) {
  std::lock_guard lock(mutex_);
  if (pending_.size() >= max_pending && !order_.empty()) {
    pending_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(dial_id);
  pending_.insert_or_assign(std::move(dial_id), std::move(changes));
}

std::optional<dial_overrides::overrides> dial_overrides::take(std::string_view dial_id) {
  std::lock_guard lock(mutex_);
  const auto found = pending_.find(dial_id);
  if (found == pending_.end())
    return std::nullopt;
  auto changes = std::move(found->second);
  pending_.erase(found);
  order_.erase(std::find(order_.begin(), order_.end(), dial_id));
  return changes;
}

}  // namespace switchboard::actors
