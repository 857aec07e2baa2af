// bench_forwarder: the floor switchboard is measured against (issue 14 §2). A bare bridge from
// Twilio Media Streams to the Realtime model built from the project's own codecs and net/
// wrappers, on ONE io thread, with nothing else: no actors, no recordings, no metrics, no logs
// per call, no admission control, no reconnects.
//
//   POST /incoming-call  → TwiML <Connect><Stream url="/media-stream"/></Connect>
//   GET /media-stream    → upgrade (accepted unchecked), then one model connection per call:
//     caller `media`     → decode the base64 payload → input_audio_buffer.append (encoded again)
//     model audio delta  → decode the base64 delta → `media` (encoded again) + `mark`
//     caller `stop` or close → close the model; model close → close the caller
//
// It answers `switchboard loadgen --target` exactly as switchboard does (webhook first, then the
// media stream), so that the same load generator drives both (bench/floor). What it skips and a
// real bridge must not: the webhook's X-Twilio-Signature, the upgrade's signature and the call
// token (switchboard's <Parameter>s), session.created before the first append. Frames the
// caller sends before the model connection opens are held and sent when it does, as switchboard
// holds them.
//
// --pass-base64 forwards the payloads as the base64 text they arrived in (what switchboard does
// on its frame path) instead of decoding and encoding them again.

#include "net/base64.hpp"
#include "net/http_server.hpp"
#include "net/realtime_messages.hpp"
#include "net/tls.hpp"
#include "net/twilio_messages.hpp"
#include "net/twiml.hpp"
#include "net/websocket_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace net = switchboard::net;

constexpr std::string_view usage_text =
    R"(usage: bench_forwarder --model-url ws[s]://HOST:PORT/PATH [--listen HOST:PORT] [--pass-base64]

A bare Twilio Media Streams ↔ Realtime forwarder on one thread, for bench/floor. Answers
POST /incoming-call with <Connect><Stream url="/media-stream"/> and forwards each call's audio
to its own model connection. Prints "bench_forwarder: listening on HOST:PORT" once bound.
wss:// trusts OpenSSL's default store (SSL_CERT_FILE).

  --model-url URL    the Realtime endpoint, e.g. wss://127.0.0.1:9000/v1/realtime
  --listen HOST:PORT where the webhook and the streams are served (default 127.0.0.1:0)
  --pass-base64      forward the base64 text as it came, without decoding and encoding it
)";

struct forwarder_options {
  std::string model_url;
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;
  bool pass_base64 = false;
};

/// What every call shares: the io_context and the model endpoint.
struct forwarder_context {
  asio::io_context& io;
  forwarder_options options;
  std::shared_ptr<net::tls_context> model_tls;  // wss:// only
};

/// One call: both of its connections (owned by their sessions, not by the call) and the buffers
/// reused for every frame. Touched only on the io thread.
struct call {
  explicit call(std::shared_ptr<const forwarder_context> shared) : context(std::move(shared)) {}

  std::shared_ptr<const forwarder_context> context;
  std::weak_ptr<net::websocket_connection> caller, model;
  std::string stream_sid;
  bool model_open = false;
  bool ended = false;
  std::vector<std::string> held_appends;  // caller audio before the model connection opened
  std::uint64_t marks_sent = 0;
  std::string outbound;
  std::vector<std::uint8_t> audio;

  void end() {
    if (ended)
      return;
    ended = true;
    if (auto connection = model.lock())
      connection->close(net::close_code::normal, "call ended");
    if (auto connection = caller.lock())
      connection->close(net::close_code::normal, "call ended");
  }

  void on_caller_media(const net::twilio_media& media) {
    outbound.clear();
    if (context->options.pass_base64) {
      net::append_realtime_audio_append(outbound, media.payload_base64);
    } else {
      audio.clear();
      if (!net::append_decoded_base64(media.payload_base64, audio))
        return;  // the parser checked it already; a bare bridge drops what it cannot read
      net::append_realtime_audio_append(outbound, std::span<const std::uint8_t>(audio));
    }
    if (!model_open) {
      held_appends.push_back(outbound);
      return;
    }
    if (auto connection = model.lock())
      connection->send_text(outbound);
  }

  void on_model_audio(const net::realtime_audio_delta& delta) {
    auto connection = caller.lock();
    if (!connection || stream_sid.empty())
      return;
    outbound.clear();
    if (context->options.pass_base64) {
      net::append_twilio_media(outbound, stream_sid, delta.delta_base64);
    } else {
      audio.clear();
      if (!net::append_decoded_base64(delta.delta_base64, audio))
        return;
      net::append_twilio_media(outbound, stream_sid, std::span<const std::uint8_t>(audio));
    }
    connection->send_text(outbound);
    // Twilio echoes the mark once the media before it has played (the caller's playout).
    outbound.clear();
    net::append_twilio_mark(outbound, stream_sid, std::to_string(++marks_sent));
    connection->send_text(outbound);
  }
};

class model_side final : public net::websocket_handler {
 public:
  explicit model_side(std::shared_ptr<call> owner) : call_(std::move(owner)) {}

  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    call_->model = connection;
    call_->model_open = true;
    if (call_->ended) {
      connection->close(net::close_code::normal, "call ended");
      return;
    }
    // μ-law in and out (audio/pcmu), as a real model needs; the stand-in echoes either way.
    std::string update;
    net::append_realtime_session_update(update, net::realtime_session_config{});
    connection->send_text(std::move(update));
    for (auto& append : call_->held_appends)
      connection->send_text(std::move(append));
    call_->held_appends = {};
  }

  void on_message(std::string message, bool is_text) override {
    if (!is_text)
      return;
    auto event = net::parse_realtime_event(message);
    if (!event)
      return;
    if (const auto* delta = std::get_if<net::realtime_audio_delta>(&*event))
      call_->on_model_audio(*delta);
  }

  void on_close(net::websocket_closed why) override {
    if (!call_->ended)
      std::cerr << "bench_forwarder: model connection closed: " << why.reason << "\n";
    call_->end();
  }

 private:
  std::shared_ptr<call> call_;
};

class caller_side final : public net::websocket_handler {
 public:
  explicit caller_side(std::shared_ptr<call> owner) : call_(std::move(owner)) {}

  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    call_->caller = std::move(connection);
    const auto& context = *call_->context;
    net::websocket_client_options model;
    model.url = context.options.model_url;
    model.tls = context.model_tls;
    net::connect_websocket(context.io, std::move(model), std::make_shared<model_side>(call_));
  }

  void on_message(std::string message, bool is_text) override {
    if (!is_text)
      return;
    auto parsed = net::parse_twilio_message(message);
    if (!parsed)
      return;
    if (const auto* media = std::get_if<net::twilio_media>(&*parsed)) {
      call_->on_caller_media(*media);
    } else if (const auto* start = std::get_if<net::twilio_start>(&*parsed)) {
      call_->stream_sid = start->stream_sid;
    } else if (std::holds_alternative<net::twilio_stop>(*parsed)) {
      call_->end();
    }
    // connected, dtmf and the marks echoed back need nothing from a bare forwarder.
  }

  void on_close(net::websocket_closed) override { call_->end(); }

 private:
  std::shared_ptr<call> call_;
};

std::optional<forwarder_options> parse_arguments(int argc, char** argv) {
  forwarder_options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (name == "--pass-base64") {
      options.pass_base64 = true;
      continue;
    }
    if (i + 1 >= argc)
      return std::nullopt;
    const std::string_view value = argv[++i];
    if (name == "--model-url") {
      options.model_url = value;
    } else if (name == "--listen") {
      const auto colon = value.rfind(':');
      if (colon == std::string_view::npos)
        return std::nullopt;
      options.bind_address = value.substr(0, colon);
      const auto port_text = value.substr(colon + 1);
      const auto [end, ec] =
          std::from_chars(port_text.data(), port_text.data() + port_text.size(), options.port);
      if (ec != std::errc() || end != port_text.data() + port_text.size())
        return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (options.model_url.empty())
    return std::nullopt;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_arguments(argc, argv);
  if (!options) {
    std::cerr << usage_text;
    return 2;
  }
  const auto model_url = net::parse_websocket_url(options->model_url);
  if (!model_url) {
    std::cerr << "bench_forwarder: --model-url: " << model_url.error() << "\n";
    return 2;
  }

  asio::io_context io(1);
  auto context = std::make_shared<forwarder_context>(forwarder_context{io, *options, nullptr});
  if (model_url->secure) {
    auto tls = net::tls_context::client();
    if (!tls) {
      std::cerr << "bench_forwarder: TLS: " << tls.error() << "\n";
      return 1;
    }
    context->model_tls = *tls;
  }

  net::http_routes routes;
  routes.on_request = [](const net::http_request& request) {
    if (request.method != "POST" || request.path() != "/incoming-call")
      return net::http_response::text(404, "not found\n");
    // Relative: Twilio (and the stand-in) dial it on the webhook's host, as wss://.
    auto response = net::http_response::text(200, net::connect_stream_twiml("/media-stream", {}));
    response.content_type = "text/xml";
    return response;
  };
  routes.on_upgrade = [context](const net::http_request& request) {
    if (request.path() != "/media-stream")
      return net::websocket_upgrade_decision::refused(net::http_response::text(404, "not found\n"));
    return net::websocket_upgrade_decision::accepted(
        std::make_shared<caller_side>(std::make_shared<call>(context)));
  };
  net::http_server_options listen;
  listen.bind_address = options->bind_address;
  listen.port = options->port;
  auto server = net::http_server::start(io, listen, std::move(routes));
  if (!server) {
    std::cerr << "bench_forwarder: " << server.error() << "\n";
    return 1;
  }
  std::cout << "bench_forwarder: listening on " << options->bind_address << ":" << (*server)->port()
            << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    (*server)->stop();
    io.stop();
  });
  io.run();
  return 0;
}
