#include "actors/media_stream_endpoint.hpp"

#include "actors/call_supervisor.hpp"
#include "actors/frame_ingress.hpp"

namespace switchboard::actors {

namespace {

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
    system_.spawn(call_supervisor, env_, std::weak_ptr<net::websocket_connection>(connection),
                  ingress_);
  }
  void on_message(std::string message, bool is_text) override {
    ingress_->deliver(twilio_frame{std::move(message), is_text, metrics::steady_now_ns()});
  }
  void on_close(net::websocket_closed why) override {
    if (opened_)
      env_->metrics->websockets_open(metrics::websocket_peer::twilio).Decrement();
    ingress_->closed(why.reason.empty() ? (why.clean ? "closed by Twilio" : "connection lost")
                                        : why.reason);
  }

 private:
  caf::actor_system& system_;
  bridge_environment_ptr env_;
  std::shared_ptr<frame_ingress> ingress_;
  bool opened_ = false;  // io thread only
};

}  // namespace

std::shared_ptr<net::websocket_handler> make_media_stream_handler(caf::actor_system& system,
                                                                  bridge_environment_ptr env) {
  return std::make_shared<media_stream_handler>(system, std::move(env));
}

}  // namespace switchboard::actors
