#pragma once
// The one owner of the call's response state: which response the model is giving, which the
// bridge has asked for and not yet seen start, which the caller interrupted (their late deltas
// are dropped), and the responses still wanted (say, greeting, keypad entries, tool results,
// a continuation after a reconnect). The model gives one response at a time, so each wanted
// response waits until none is active.
//
//   idle ──next_to_request──▶ requested ──created──▶ active ──done──▶ idle
//                                 │ refused as a duplicate            │ interrupt: cancelled,
//                                 ▼ (asked again first)               ▼ its late deltas dropped
//   the server's own responses (turn detection) go idle ──created──▶ active directly.
//   link_lost: what was requested or active is gone with the session; the caller of link_lost
//   decides what the next session is asked (again, or to continue).
//
// A wanted response carries a tag that comes back when it finishes (response_finished.tag), so
// that whoever asked (the supervisor's goodbye) waits for that response and no other, across
// reconnects too. Plain data: no actor, no clock.

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>

namespace switchboard::actors {

struct wanted_response {
  std::string instructions;  // response.instructions; empty: the session's
  std::string tag;           // reported back when it finishes; empty: nobody waits for it
  std::string say_text;      // a say request's words, for the conversation
  friend bool operator==(const wanted_response&, const wanted_response&) = default;
};

class response_turns {
 public:
  void want(wanted_response request) { wanted_.push_back(std::move(request)); }
  void want_first(wanted_response request) { wanted_.push_front(std::move(request)); }

  /// The response to ask for now: one is wanted and none is requested or active. It is
  /// requested from here on.
  std::optional<wanted_response> next_to_request();

  /// response.created: the response asked for (if any) is this one. Returns that request.
  const wanted_response* created(const std::string& response_id);

  /// The model refused our response.create (conversation_already_has_active_response): its own
  /// response is active. Ours is asked again first when that one is done, unless it was a plain
  /// request (no instructions, no tag), which the server's response answers.
  void refused_as_duplicate();

  /// A delta of `response_id`: false when it must not reach the caller (interrupted).
  bool audio(const std::string& response_id);

  /// The caller started speaking: true when a response is active and not yet cancelled (send
  /// response.cancel); its late deltas are dropped from now on.
  bool interrupt();

  struct finished {
    std::string tag;
    bool interrupted = false;
    std::uint64_t late_deltas_dropped = 0;
  };
  /// response.done.
  finished done(const std::string& response_id);

  struct lost_response {
    std::optional<wanted_response> request;  // what we had asked for, if we had
    bool spoke = false;                      // the caller heard some of it
    bool interrupted = false;                // the caller had cut it
    std::string response_id;                 // empty: it had not started
  };
  /// The link is gone, and with it whatever was requested or active.
  std::optional<lost_response> link_lost();

  bool active() const { return active_.has_value() || requested_.has_value(); }
  std::size_t wanted() const { return wanted_.size(); }
  const std::deque<wanted_response>& queue() const { return wanted_; }

 private:
  struct active_response {
    std::string id;  // empty: one the model said it runs, whose id we have not seen
    std::optional<wanted_response> request;
    bool spoke = false;
    bool cancelled = false;
    std::uint64_t late_deltas_dropped = 0;
  };

  std::deque<wanted_response> wanted_;
  std::optional<wanted_response> requested_;  // response.create sent, no response.created yet
  std::optional<active_response> active_;
};

}  // namespace switchboard::actors
