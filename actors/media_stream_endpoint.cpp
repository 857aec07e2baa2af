#include "actors/media_stream_endpoint.hpp"

#include "actors/call_supervisor.hpp"
#include "actors/frame_ingress.hpp"
#include "actors/twilio_socket.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <optional>
#include <utility>

namespace switchboard::actors {

namespace {

/// Whether this stream is one whose call a peer hosts, in the node's book of them (the drain
/// waits for them). The peer's answer and the socket's close come on io threads in either
/// order: a stream closed before the answer is never entered.
class relayed_stream {
 public:
  void hosted(relayed_streams& book, const twilio_socket_actor& socket) {
    std::lock_guard lock(mutex_);
    if (closed_)
      return;
    socket_ = socket;
    book.add(socket);
  }
  void closed(relayed_streams& book) {
    std::lock_guard lock(mutex_);
    closed_ = true;
    if (socket_)
      book.remove(*std::exchange(socket_, std::nullopt));
  }

 private:
  std::mutex mutex_;
  bool closed_ = false;
  std::optional<twilio_socket_actor> socket_;
};

class media_stream_handler final : public net::websocket_handler {
 public:
  media_stream_handler(caf::actor_system& system, bridge_environment_ptr env)
      : system_(system), env_(std::move(env)), ingress_(std::make_shared<frame_ingress>()) {}

  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    env_->metrics
        ->websocket_connections(metrics::websocket_peer::twilio, metrics::websocket_outcome::opened)
        .Increment();
    env_->metrics->websockets_open(metrics::websocket_peer::twilio).Increment();
    opened_ = true;
    std::weak_ptr<net::websocket_connection> weak = connection;
    if (!env_->remote_hosts || !env_->admission->every_place_streaming()) {
      spawn_local_call(system_, env_, std::move(weak), ingress_);
      return;
    }
    // Every place here is streaming: a peer with room hosts the call, the socket stays here
    // (README "Cluster"). None will: a supervisor here refuses the stream at `start` (1013).
    auto twilio = spawn_twilio_socket(system_, env_, weak, ingress_);
    env_->remote_hosts->host(twilio, [system = &system_, env = env_, twilio,
                                      relay = relay_](std::optional<std::string> peer) {
      if (!peer) {
        system->spawn(call_supervisor, env, twilio);
        return;
      }
      env->metrics->calls_placed(metrics::placement_where::remote_spawn).Increment();
      spdlog::info("a stream landed with every place taken: its call is hosted by {}", *peer);
      relay->hosted(*env->relayed, twilio);
    });
  }
  void on_message(std::string message, bool is_text) override {
    ingress_->deliver(twilio_frame{std::move(message), is_text, metrics::steady_now_ns()});
  }
  void on_close(net::websocket_closed why) override {
    if (opened_)
      env_->metrics->websockets_open(metrics::websocket_peer::twilio).Decrement();
    relay_->closed(*env_->relayed);
    ingress_->closed(why.reason.empty() ? (why.clean ? "closed by Twilio" : "connection lost")
                                        : why.reason);
  }

 private:
  caf::actor_system& system_;
  bridge_environment_ptr env_;
  std::shared_ptr<frame_ingress> ingress_;
  std::shared_ptr<relayed_stream> relay_ = std::make_shared<relayed_stream>();
  bool opened_ = false;  // io thread only
};

}  // namespace

std::shared_ptr<net::websocket_handler> make_media_stream_handler(caf::actor_system& system,
                                                                  bridge_environment_ptr env) {
  return std::make_shared<media_stream_handler>(system, std::move(env));
}

}  // namespace switchboard::actors
