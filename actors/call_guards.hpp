#pragma once
// The guards of a call, as plain state machines driven by the supervisor (pure logic, tested
// directly): the idle timeout, the maximum call length, and the keypad gatherer.
//
// Idle (IDLE_TIMEOUT = N):   nobody spoke for N ──▶ ask "are you still there?" once
//                            ──the caller still silent for N after the agent stopped──▶ end
//                            the caller speaking (or pressing a key) starts over.
// Length (MAX_CALL_DURATION = L): at L - warning ──▶ a spoken warning; at L ──▶ goodbye, end.
//   warning = 30 s, or half of L when L is under a minute.
//
// The supervisor asks next_deadline() when to look again and due() what to do then; a deadline
// that activity moved away yields nothing (timers are never cancelled, only outdated).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace switchboard::actors {

using guard_clock = std::chrono::steady_clock;

struct guard_settings {
  std::chrono::milliseconds idle_timeout{0};  // 0: off
  std::chrono::milliseconds max_duration{0};  // 0: off
};

enum class guard_action : std::uint8_t {
  none,
  ask_if_still_there,  // idle: the agent asks once
  end_for_silence,     // idle again after asking: goodbye and hang up
  warn_of_time_limit,  // the call nears its maximum length
  end_at_time_limit,   // the maximum length is reached: goodbye and hang up
};

class call_guards {
 public:
  call_guards(guard_settings settings, guard_clock::time_point started);

  /// The caller spoke or pressed a key: the idle guard starts over.
  void caller_activity(guard_clock::time_point now);
  /// The agent was heard (its audio played until `now`): silence is counted from here, but
  /// an idle question already asked stays asked.
  void agent_activity(guard_clock::time_point now);

  std::optional<guard_clock::time_point> next_deadline() const;
  /// The action due at `now`, each at most once per occasion; none when nothing is due.
  guard_action due(guard_clock::time_point now);

  static std::chrono::milliseconds warning_lead(std::chrono::milliseconds max_duration);

 private:
  std::optional<guard_clock::time_point> idle_deadline() const;
  std::optional<guard_clock::time_point> length_deadline() const;

  guard_settings settings_;
  guard_clock::time_point started_;
  guard_clock::time_point last_activity_;
  bool asked_ = false;   // the idle question was asked and the caller has not answered
  bool ended_ = false;   // an end action was returned: nothing more
  bool warned_ = false;  // the length warning was given
};

/// Keys pressed on the caller's keypad become one entry: digits gathered until a pause, or
/// until '#' (the usual "end of entry" key), at most max_digits.
class keypad_gatherer {
 public:
  static constexpr std::size_t max_digits = 32;
  explicit keypad_gatherer(std::chrono::milliseconds pause) : pause_(pause) {}

  /// A key. Returns the entry when this key completes it ('#', or max_digits).
  std::optional<std::string> press(char digit, guard_clock::time_point now);
  /// When the current entry completes by pause; nullopt when nothing is gathered.
  std::optional<guard_clock::time_point> deadline() const;
  /// The entry when its pause has passed at `now`.
  std::optional<std::string> due(guard_clock::time_point now);

 private:
  std::chrono::milliseconds pause_;
  std::string digits_;
  guard_clock::time_point last_press_;
};

}  // namespace switchboard::actors
