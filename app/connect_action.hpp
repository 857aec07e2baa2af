#pragma once
// POST /connect-action: Twilio's <Connect action> request when a call's media stream ended
// (README "Reliability"). Any node answers it, whichever node the stream was on:
//
//   signed request (403 / 400 as the webhook) ─▶ what is known of the call: this node's own
//   record when the call was here, else the cluster's view (a peer announces a call ending,
//   with its reason, before it closes the socket; a lost node's calls end as "node lost")
//     ─▶ ended on purpose, or over ─▶ <Hangup/>
//     ─▶ lost ─▶ placement finds a ready node with room ─▶ that node keeps the call's state
//        (its hand-over book, as at a drain) ─▶ <Connect action><Stream url=that node> with the
//        key and a call token ─▶ the stream starts there as the call's next part
//     ─▶ lost, and no node has room ─▶ FULL_MESSAGE, and the call ends
//
// The decision and the state are pure logic (actors/stream_continuation.hpp); this is the
// asynchronous plumbing, on the io threads, never blocking.

#include "actors/call_handover.hpp"
#include "net/http_types.hpp"
#include "net/twilio_webhook.hpp"

#include <chrono>
#include <functional>
#include <memory>

namespace switchboard::actors {
class call_directory;
}
namespace switchboard::metrics {
class bridge_metrics;
}

namespace switchboard::app {

class call_placer;
class cluster_node;

class connect_action_handler : public std::enable_shared_from_this<connect_action_handler> {
 public:
  struct options {
    const net::twilio_webhook_settings* webhook = nullptr;  // outlives the handler
    const net::call_token_issuer* tokens = nullptr;         // outlives the handler
    std::shared_ptr<call_placer> placer;
    std::shared_ptr<actors::call_directory> directory;
    std::shared_ptr<metrics::bridge_metrics> metrics;
    std::function<std::chrono::system_clock::time_point()> wall_clock;
    /// Keeps a call's state on this node for its next stream (the node's hand-over book).
    std::function<actors::call_handover_answer(actors::call_handover_state)> keep_here;
  };
  explicit connect_action_handler(options given) : options_(std::move(given)) {}

  /// Hands calls to peers from now on (null: this node only).
  void join_cluster(std::shared_ptr<const cluster_node> cluster) { cluster_ = std::move(cluster); }

  /// True when `request` is the action's (answered through `respond`, once).
  bool handle(const net::http_request& request, const net::http_responder& respond);

 private:
  void decide(net::incoming_call call, std::optional<actors::call_view> last_known,
              std::string action_url, std::string own_stream_url, net::http_responder respond);
  void continue_call(net::incoming_call call, std::optional<actors::call_view> last_known,
                     std::string action_url, std::string own_stream_url,
                     net::http_responder respond);

  options options_;
  std::shared_ptr<const cluster_node> cluster_;
};

}  // namespace switchboard::app
