#pragma once
// The assembled server of one node: io threads + HTTP/WebSocket listener (net/), the actor
// system with each call's actors (actors/), the model link, and the routes:
//   POST|GET /incoming-call   Twilio voice webhook → TwiML with the media stream
//   GET /media-stream         WebSocket upgrade → a call
//   GET /healthz, /readyz     liveness, readiness
//   GET /metrics              Prometheus metrics (on METRICS_PORT instead, when that is set)
//   POST /calls               an outbound call through Twilio's REST API (API_TOKEN)
//   GET /calls[/{sid}], POST /calls/{sid}/hangup|transfer|say   call control (API_TOKEN)
//   POST /call-status         Twilio's status callbacks for those calls (signed)
//   POST /drain               drain the node, as SIGTERM does (API_TOKEN; README "Drain")
// Used by `switchboard serve`, the demo and the integration tests (in process).

#include "actors/bridge_environment.hpp"
#include "config/settings.hpp"
#include "net/http_types.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace switchboard::app {

class bridge_server {
 public:
  /// For tests and the demo: replace how calls reach the model (default: a WebSocket to
  /// OPENAI_REALTIME_URL).
  struct overrides {
    std::shared_ptr<actors::model_link_factory> model_links;
    actors::reconnect_policy reconnect;
    /// The Realtime session's lifetime and when the next one opens (tests shorten them).
    actors::model_session_limits model_session;
    /// For tests of hostile peers: the public listener cuts off a slow request (slowloris) or
    /// a peer that stops reading within seconds instead of the production limits
    /// (net::http_server_options), which take minutes to trip at a call's rates.
    std::optional<std::chrono::seconds> http_read_timeout;
    std::optional<net::websocket_limits> websocket_limits;
  };

  static boost::system::result<std::unique_ptr<bridge_server>, std::string> start(
      const config::settings& settings, overrides options);
  static boost::system::result<std::unique_ptr<bridge_server>, std::string> start(
      const config::settings& settings) {
    return start(settings, overrides{});
  }

  virtual ~bridge_server() = default;

  virtual std::uint16_t port() const = 0;
  /// The port serving /metrics: METRICS_PORT's listener, or port() when that is not set.
  virtual std::uint16_t metrics_port() const = 0;
  virtual actors::call_registry& calls() = 0;
  virtual metrics::bridge_metrics& metrics() = 0;
  /// Blocks until the node has stopped: drained (SIGINT/SIGTERM when `handle_signals`, or POST
  /// /drain, and then no call remains), a second signal, or stop().
  virtual void wait(bool handle_signals) = 0;
  /// True from SIGTERM or POST /drain on (README "Drain").
  virtual bool draining() const = 0;
  /// Stops accepting and shuts down. Calls still running are cut off: drain first to keep them.
  virtual void stop() = 0;
};

/// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread started from it
/// afterwards (threads inherit the mask). A command that will call wait(true) calls this before
/// it starts any thread: a signal that arrives after the "listening on" line but before wait()
/// has armed its handler is then held pending instead of killing the process by its default
/// action; wait(true) unblocks it on the waiting thread once the handler is armed.
void hold_stop_signals();

}  // namespace switchboard::app
