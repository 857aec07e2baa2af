#pragma once
// The production model link: a WebSocket (wss:// with certificate and host-name checks, or ws://
// for local peers) to OPENAI_REALTIME_URL with `Authorization: Bearer`. Frames and connection
// events are handed to the openai_session actor by message from the io thread. A link is opened
// on the shard of the thread that asks for it (net/io_shards.hpp): the session actor's own, so
// that the call's model socket lives on its Twilio socket's thread.

#include "actors/bridge_environment.hpp"
#include "net/io_shards.hpp"
#include "net/tls.hpp"

namespace switchboard::actors {

class websocket_model_links final : public model_link_factory {
 public:
  websocket_model_links(net::io_shards& shards, std::shared_ptr<net::tls_context> tls,
                        std::string url, std::string api_key,
                        std::shared_ptr<metrics::bridge_metrics> metrics)
      : shards_(shards),
        tls_(std::move(tls)),
        url_(std::move(url)),
        api_key_(std::move(api_key)),
        metrics_(std::move(metrics)) {}

  std::shared_ptr<model_link> open(openai_session_actor session, std::uint32_t link_id) override;

 private:
  net::io_shards& shards_;
  std::shared_ptr<net::tls_context> tls_;
  std::string url_;
  std::string api_key_;
  std::shared_ptr<metrics::bridge_metrics> metrics_;
};

}  // namespace switchboard::actors
