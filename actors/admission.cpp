#include "actors/admission.hpp"

namespace switchboard::actors {

std::string_view to_string(admission_refusal refusal) {
  return refusal == admission_refusal::full ? "full" : "overloaded";
}

void admission_policy::observe_lag(std::chrono::microseconds lag) {
  if (limits_.max_lag.count() <= 0)
    return;
  if (lag > limits_.max_lag) {
    calm_in_a_row_ = 0;
    if (++late_in_a_row_ >= limits_.trip_samples)
      overloaded_ = true;
    return;
  }
  late_in_a_row_ = 0;
  // Only a lag well under the bound counts as recovered: at the bound itself the node is as
  // loaded as when it stopped admitting, and one more call would tip it over again.
  if (lag * 2 > limits_.max_lag) {
    calm_in_a_row_ = 0;
    return;
  }
  if (++calm_in_a_row_ >= limits_.recovery_samples)
    overloaded_ = false;
}

std::optional<admission_refusal> admission_policy::decide(std::size_t calls_now) const {
  if (limits_.max_calls != 0 && calls_now >= limits_.max_calls)
    return admission_refusal::full;
  if (overloaded_)
    return admission_refusal::overloaded;
  return std::nullopt;
}

std::optional<admission_refusal> call_admission::reserve(const std::string& key,
                                                         clock::time_point now,
                                                         clock::duration hold) {
  std::lock_guard lock(mutex_);
  expire(now);
  if (auto held = promised_.find(key); held != promised_.end()) {
    held->second = now + hold;
    return std::nullopt;
  }
  if (auto refused = policy_.decide(streaming_ + promised_.size()))
    return refused;
  promised_.emplace(key, now + hold);
  return std::nullopt;
}

void call_admission::release(std::string_view key) {
  std::lock_guard lock(mutex_);
  if (auto held = promised_.find(key); held != promised_.end())
    promised_.erase(held);
}

std::optional<admission_refusal> call_admission::start(std::string_view key,
                                                       clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  if (auto held = promised_.find(key); held != promised_.end()) {
    // The place was promised when the call was admitted: keep the promise even if the node has
    // become loaded since (the caller is already connected to us).
    promised_.erase(held);
    ++streaming_;
    return std::nullopt;
  }
  if (auto refused = policy_.decide(streaming_ + promised_.size()))
    return refused;
  ++streaming_;
  return std::nullopt;
}

void call_admission::end() {
  std::lock_guard lock(mutex_);
  if (streaming_ > 0)
    --streaming_;
}

bool call_admission::observe_lag(std::chrono::microseconds lag) {
  std::lock_guard lock(mutex_);
  const bool before = policy_.overloaded();
  policy_.observe_lag(lag);
  return policy_.overloaded() != before;
}

bool call_admission::overloaded() const {
  std::lock_guard lock(mutex_);
  return policy_.overloaded();
}

std::string call_admission::why_no_room() const {
  std::lock_guard lock(mutex_);
  const auto& limits = policy_.configured();
  if (policy_.overloaded()) {
    return "overloaded, its io threads late by more than MAX_LOOP_LAG_MS (" +
           std::to_string(
               std::chrono::duration_cast<std::chrono::milliseconds>(limits.max_lag).count()) +
           " ms)";
  }
  // The same rule as reserve() and start(): the policy's.
  if (policy_.decide(streaming_ + promised_.size()) == admission_refusal::full)
    return "full, MAX_CALLS " + std::to_string(limits.max_calls) + " calls";
  return "taking no new calls";
}

std::optional<admission_refusal> call_admission::refusal_now(clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  return policy_.decide(streaming_ + promised_.size());
}

std::size_t call_admission::streaming() const {
  std::lock_guard lock(mutex_);
  return streaming_;
}

bool call_admission::every_place_streaming() const {
  std::lock_guard lock(mutex_);
  const auto max = policy_.configured().max_calls;
  return max > 0 && streaming_ >= max;
}

std::size_t call_admission::promised(clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  return promised_.size();
}

void call_admission::expire(clock::time_point now) {
  std::erase_if(promised_, [now](const auto& held) { return held.second <= now; });
}

std::string call_admission_key(std::string_view call_sid, std::string_view dial_id) {
  return dial_id.empty() ? std::string(call_sid) : "dial:" + std::string(dial_id);
}

}  // namespace switchboard::actors
