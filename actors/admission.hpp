#pragma once
// Admission control: whether this node takes one more call.
//
// Two limits protect the calls a node already carries:
//   - MAX_CALLS, a fixed number (0 = none): past it a call is refused as `full`;
//   - the io threads' event-loop lag (app/loop_lag_monitor): past MAX_LOOP_LAG_MS the node is
//     `overloaded` and refuses new calls until the lag has come down and stayed down
//     (hysteresis: entering takes `trip_samples` late samples in a row, leaving takes
//     `recovery_samples` samples in a row at or under half the bound), so that admitted calls
//     keep a round trip a conversation survives instead of every call degrading together.
//
// admission_policy is the decision alone (no clock, no lock, no I/O), unit-tested directly.
// call_admission holds what it is applied to: the calls streaming now, and the places promised
// by a webhook (or POST /calls) to a stream that has not started yet. A promised place is held
// until the stream starts or the promise expires; a stream that starts without one (its webhook
// was answered by another node, or too long ago) is admitted only if there is room.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::actors {

/// Why a call is refused; the `reason` label of switchboard_calls_refused_total.
enum class admission_refusal : std::uint8_t {
  full,        // MAX_CALLS calls (streaming or promised) already
  overloaded,  // the io threads' event-loop lag is over MAX_LOOP_LAG_MS
};
std::string_view to_string(admission_refusal refusal);

class admission_policy {
 public:
  struct limits {
    std::size_t max_calls = 0;             // 0: no fixed limit
    std::chrono::microseconds max_lag{0};  // 0: lag is not watched
    unsigned trip_samples = 2;             // late samples in a row that mean overloaded
    unsigned recovery_samples = 20;        // calm samples in a row that end it
  };

  admission_policy() = default;
  explicit admission_policy(limits given) : limits_(given) {}

  /// One measurement of the event-loop lag.
  void observe_lag(std::chrono::microseconds lag);
  /// Admit one more call on top of `calls_now`? nullopt: yes.
  std::optional<admission_refusal> decide(std::size_t calls_now) const;

  bool overloaded() const { return overloaded_; }
  const limits& configured() const { return limits_; }

 private:
  limits limits_;
  bool overloaded_ = false;
  unsigned late_in_a_row_ = 0;
  unsigned calm_in_a_row_ = 0;
};

/// The node's admission, shared by the webhook, POST /calls, every call's supervisor and the
/// lag monitor. Thread-safe. Keys name a call before its stream starts: the CallSid for an
/// inbound call, "dial:<dial id>" for an outbound one (call_admission_key).
class call_admission {
 public:
  using clock = std::chrono::steady_clock;

  call_admission() = default;
  explicit call_admission(admission_policy::limits limits) : policy_(limits) {}

  /// The webhook or POST /calls: a place for `key`'s stream until it starts or `hold` passes.
  /// Asking again for the same key renews its place (Twilio retries a webhook) without taking
  /// another.
  std::optional<admission_refusal> reserve(const std::string& key, clock::time_point now,
                                           clock::duration hold);
  /// The promise is void (the dial failed): its place is free again.
  void release(std::string_view key);
  /// A stream started: it takes its promised place, or a new one if there is room.
  std::optional<admission_refusal> start(std::string_view key, clock::time_point now);
  /// A call that start() admitted has ended.
  void end();

  /// One lag sample; true when it changed whether the node is overloaded (the caller logs it:
  /// an operator needs to see a node stop and start taking calls).
  bool observe_lag(std::chrono::microseconds lag);
  bool overloaded() const;
  /// Why this node takes no new call now, in words for a log line or a 503 ("overloaded, its io
  /// threads late by more than MAX_LOOP_LAG_MS (20 ms)", "full, MAX_CALLS 50 calls"), else
  /// "taking no new calls" (a drain, or a peer's answer).
  std::string why_no_room() const;
  /// Why a new call would be refused now (for /readyz); nullopt: one would be admitted.
  std::optional<admission_refusal> refusal_now(clock::time_point now);

  std::size_t streaming() const;
  /// MAX_CALLS calls are streaming: a stream that opens now cannot be admitted here, whatever
  /// it was promised (a promise counts only while its stream has not started).
  bool every_place_streaming() const;
  std::size_t promised(clock::time_point now);
  std::size_t max_calls() const { return policy_.configured().max_calls; }

 private:
  void expire(clock::time_point now);  // mutex_ held

  mutable std::mutex mutex_;
  admission_policy policy_;
  std::size_t streaming_ = 0;
  std::map<std::string, clock::time_point, std::less<>> promised_;  // key → expiry
};

/// The key a call's stream is admitted under: "dial:<id>" for an outbound call (its TwiML is
/// written before Twilio names it), else its CallSid.
std::string call_admission_key(std::string_view call_sid, std::string_view dial_id);

}  // namespace switchboard::actors
