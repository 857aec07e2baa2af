#include "actors/realtime_link.hpp"

#include "net/websocket_client.hpp"

#include <caf/send.hpp>

#include <mutex>

namespace switchboard::actors {

namespace {

/// Both the link (actor side) and the WebSocket handler (io side) of one connection.
class websocket_model_link final : public model_link,
                                   public net::websocket_handler,
                                   public std::enable_shared_from_this<websocket_model_link> {
 public:
  websocket_model_link(openai_session_actor session, std::uint32_t link_id,
                       std::shared_ptr<metrics::bridge_metrics> metrics)
      : session_(std::move(session)), link_id_(link_id), metrics_(std::move(metrics)) {}

  // -- model_link (actor thread) --
  void send(std::string text) override {
    if (auto connection = connection_of())
      connection->send_text(std::move(text));
  }
  void close() override {
    if (auto connection = connection_of())
      connection->close(net::close_code::normal, "call ended");
  }

  // -- websocket_handler (io thread) --
  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    {
      std::lock_guard lock(mutex_);
      connection_ = connection;
    }
    metrics_
        ->websocket_connections(metrics::websocket_peer::model, metrics::websocket_outcome::opened)
        .Increment();
    metrics_->websockets_open(metrics::websocket_peer::model).Increment();
    opened_ = true;
    caf::anon_send(session_,
                   realtime_link_event{link_id_, realtime_link_event::kind::opened, "", 0});
  }
  void on_message(std::string message, bool is_text) override {
    if (!is_text)
      return;  // the Realtime API sends JSON text only
    caf::anon_send(session_,
                   realtime_frame{link_id_, std::move(message), metrics::steady_now_ns()});
  }
  void on_close(net::websocket_closed why) override {
    if (opened_)
      metrics_->websockets_open(metrics::websocket_peer::model).Decrement();
    caf::anon_send(session_, realtime_link_event{link_id_, realtime_link_event::kind::closed,
                                                 describe(why), why.code});
  }
  void on_connect_failed(net::websocket_connect_failure why) override {
    // Refused: the model answered the upgrade with an HTTP error (key, quota); failed: no answer.
    metrics_
        ->websocket_connections(metrics::websocket_peer::model,
                                why.http_status != 0 ? metrics::websocket_outcome::refused
                                                     : metrics::websocket_outcome::failed)
        .Increment();
    caf::anon_send(session_,
                   realtime_link_event{link_id_, realtime_link_event::kind::connect_failed,
                                       why.reason, why.http_status});
  }

 private:
  static std::string describe(const net::websocket_closed& why) {
    std::string text = why.clean ? "closed by the model" : "connection lost";
    if (why.code != 0)
      text += " (code " + std::to_string(why.code) + ")";
    if (!why.reason.empty())
      text += ": " + why.reason;
    return text;
  }

  std::shared_ptr<net::websocket_connection> connection_of() {
    std::lock_guard lock(mutex_);
    return connection_.lock();
  }

  openai_session_actor session_;
  std::uint32_t link_id_;
  std::mutex mutex_;
  std::weak_ptr<net::websocket_connection> connection_;
  std::shared_ptr<metrics::bridge_metrics> metrics_;
  bool opened_ = false;  // io thread only
};

}  // namespace

std::shared_ptr<model_link> websocket_model_links::open(openai_session_actor session,
                                                        std::uint32_t link_id) {
  auto link = std::make_shared<websocket_model_link>(std::move(session), link_id, metrics_);
  net::websocket_client_options options;
  options.url = url_;
  if (!api_key_.empty())
    options.headers.emplace_back("Authorization", "Bearer " + api_key_);
  options.tls = tls_;
  // The model's audio deltas are far larger than Twilio frames.
  options.limits.max_message_bytes = 16 * 1024 * 1024;
  options.limits.idle_timeout_ms = 60'000;
  net::connect_websocket(shards_.current(), std::move(options), link);
  return link;
}

}  // namespace switchboard::actors
