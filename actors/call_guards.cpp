#include "actors/call_guards.hpp"

#include <algorithm>
#include <utility>

namespace switchboard::actors {

call_guards::call_guards(guard_settings settings, guard_clock::time_point started)
    : settings_(settings), started_(started), last_activity_(started) {}

void call_guards::caller_activity(guard_clock::time_point now) {
  last_activity_ = std::max(last_activity_, now);
  asked_ = false;
}

void call_guards::agent_activity(guard_clock::time_point now) {
  last_activity_ = std::max(last_activity_, now);
}

std::chrono::milliseconds call_guards::warning_lead(std::chrono::milliseconds max_duration) {
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(30), max_duration / 2);
}

std::optional<guard_clock::time_point> call_guards::idle_deadline() const {
  if (ended_ || settings_.idle_timeout.count() <= 0)
    return std::nullopt;
  return last_activity_ + settings_.idle_timeout;
}

std::optional<guard_clock::time_point> call_guards::length_deadline() const {
  if (ended_ || settings_.max_duration.count() <= 0)
    return std::nullopt;
  const auto end = started_ + settings_.max_duration;
  return warned_ ? end : end - warning_lead(settings_.max_duration);
}

std::optional<guard_clock::time_point> call_guards::next_deadline() const {
  const auto idle = idle_deadline();
  const auto length = length_deadline();
  if (idle && length)
    return std::min(*idle, *length);
  return idle ? idle : length;
}

guard_action call_guards::due(guard_clock::time_point now) {
  if (const auto length = length_deadline(); length && now >= *length) {
    if (!warned_) {
      warned_ = true;
      // A call that was already past its warning point (e.g. a stalled process) still gets its
      // warning first; the end follows at the next check.
      return guard_action::warn_of_time_limit;
    }
    ended_ = true;
    return guard_action::end_at_time_limit;
  }
  if (const auto idle = idle_deadline(); idle && now >= *idle) {
    if (!asked_) {
      asked_ = true;
      last_activity_ = now;  // the caller gets a full timeout to answer
      return guard_action::ask_if_still_there;
    }
    ended_ = true;
    return guard_action::end_for_silence;
  }
  return guard_action::none;
}

std::optional<std::string> keypad_gatherer::press(char digit, guard_clock::time_point now) {
  digits_.push_back(digit);
  last_press_ = now;
  if (digit == '#' || digits_.size() >= max_digits)
    return std::exchange(digits_, {});
  return std::nullopt;
}

std::optional<guard_clock::time_point> keypad_gatherer::deadline() const {
  if (digits_.empty())
    return std::nullopt;
  return last_press_ + pause_;
}

std::optional<std::string> keypad_gatherer::due(guard_clock::time_point now) {
  if (digits_.empty() || now < last_press_ + pause_)
    return std::nullopt;
  return std::exchange(digits_, {});
}

}  // namespace switchboard::actors
