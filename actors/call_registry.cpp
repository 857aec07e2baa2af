#include "actors/bridge_environment.hpp"

namespace switchboard::actors {

void call_registry::call_opened() {
  std::lock_guard lock(mutex_);
  ++active_;
  changed_.notify_all();
}

void call_registry::call_finished(call_outcome outcome) {
  std::lock_guard lock(mutex_);
  if (active_ > 0)
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

}  // namespace switchboard::actors
