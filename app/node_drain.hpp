#pragma once
// Draining a node (README "Drain"): what SIGTERM and POST /drain set going, as plain logic with
// no clock, thread or I/O of its own. app/bridge_server applies it: /readyz, the heartbeat's
// state, where webhooks send new calls, the drain deadline and the exit.
//
//   serving ──SIGTERM, SIGINT or POST /drain──▶ draining ──DRAIN_TIMEOUT──▶ ending_calls
//   draining, ending_calls ──no call left──▶ done (the process exits 0)
//   draining, ending_calls ──a second signal──▶ done at once (calls are cut; recordings stay
//                                               readable, finished on the next start)
//
// While draining, live calls run on untouched. In ending_calls each call still live gets what
// disposition_at_deadline() decides: handed over to a ready peer (Twilio's call update points
// the call at the peer's stream, the call's state moved there by actor message), or, with no
// peer or no Twilio credentials, the agent says DRAIN_MESSAGE and hangs up.

#include "actors/cluster_membership.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::app {

enum class drain_phase { serving, draining, ending_calls, done };
std::string_view to_string(drain_phase phase);

/// What asked the node to drain: a signal (SIGTERM, SIGINT) or POST /drain.
enum class drain_trigger { signal, api };

class drain_state {
 public:
  using clock = std::chrono::steady_clock;

  explicit drain_state(clock::duration timeout) : timeout_(timeout) {}

  enum class request_outcome {
    started,           // the drain begins now
    already_draining,  // nothing changes
    stop_now,          // a second signal: stop at once
  };
  /// A request to drain. Only a second *signal* stops at once: a repeated POST /drain, or the
  /// SIGTERM that Kubernetes sends after an operator's POST /drain, leaves the drain as it is.
  request_outcome request(drain_trigger trigger, clock::time_point now);

  struct step {
    bool end_calls = false;  // the deadline has passed: end every call still live
    bool stop = false;       // no call remains (or stop_now): stop the node
  };
  /// What is due at `now` with `calls_remaining` calls on the node: live, ending (their files
  /// not yet written), or answered and about to stream.
  step poll(clock::time_point now, std::size_t calls_remaining);

  drain_phase phase() const { return phase_; }
  bool draining() const { return phase_ != drain_phase::serving; }
  /// When live calls are ended; nullopt while serving.
  std::optional<clock::time_point> deadline() const { return deadline_; }

 private:
  clock::duration timeout_;
  drain_phase phase_ = drain_phase::serving;
  std::optional<clock::time_point> deadline_;
  unsigned signals_ = 0;
};

/// After the last call (RECORDINGS_BUCKET_URL): the drain waits for the node's uploads, up to
/// `wait` from the first poll that found no call left, then the process exits and says what it
/// leaves behind (those calls stay marked; the next start uploads them). The default fits in
/// the 30 s Kubernetes' grace period gives past DRAIN_TIMEOUT (k8s/README.md).
class upload_drain {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds default_wait{25};

  explicit upload_drain(clock::duration wait = default_wait) : wait_(wait) {}

  /// True while the exit should wait: uploads are pending and the wait has not run out.
  bool keep_waiting(clock::time_point now, std::size_t files_waiting) {
    if (files_waiting == 0)
      return false;
    if (!since_)
      since_ = now;
    return now - *since_ < wait_;
  }
  /// When the wait began; nullopt while it has not.
  std::optional<clock::time_point> since() const { return since_; }

 private:
  clock::duration wait_;
  std::optional<clock::time_point> since_;
};

/// What becomes of a call still live at the drain deadline.
enum class drain_disposition {
  goodbye,    // the agent says DRAIN_MESSAGE, the caller hears it, the bridge hangs up
  hand_over,  // the call's state goes to a ready peer, Twilio is asked to stream the call there;
              // if either refuses, `goodbye` after all
};

/// What the decision may weigh: where the call could go, and whether Twilio can be asked.
struct drain_deadline_context {
  std::optional<std::string> peer_stream_url;  // choose_stream_peer()
  bool can_update_calls = false;               // Twilio credentials for the REST call update
};

/// The one place that decides what happens to a call at the drain deadline: `hand_over` when a
/// peer can take the call and Twilio can be asked to send it there, else `goodbye`.
drain_disposition disposition_at_deadline(const drain_deadline_context& context);

/// The peer a call goes to: its node id (where the call's state is sent) and its stream URL
/// (where Twilio is told to stream the call).
struct stream_peer {
  std::string node_id;
  std::string stream_url;
};
/// Placement's choice among the peers for a draining node (see choose_stream_peer).
std::optional<stream_peer> choose_handover_peer(const std::vector<actors::cluster_member>& members);

/// The stream URL of the peer a draining node sends new calls to: placement's choice among the
/// peers (app/placement.hpp: ready, a stream URL, room counting promised places; the least
/// loaded). nullopt: no peer can take a call.
std::optional<std::string> choose_stream_peer(const std::vector<actors::cluster_member>& members);

}  // namespace switchboard::app
