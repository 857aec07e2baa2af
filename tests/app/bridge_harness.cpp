#include "bridge_harness.hpp"

#include "audio_test_support.hpp"
#include "sim/self_signed_ca.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

namespace switchboard::testing {

bridge_harness::bridge_harness(options given) {
  sim_thread_ = std::thread([this] { sim_io_.run(); });
  given.model.expected_api_key = "sk-harness";
  if (given.model_over_tls) {
    auto files = sim::write_self_signed_ca(certificates_.path());
    REQUIRE(files.has_value());
    // The bridge's TLS client trusts OpenSSL's default store, which honours SSL_CERT_FILE.
    ::setenv("SSL_CERT_FILE", files->ca_certificate.c_str(), 1);
    auto tls = net::tls_context::server(files->server_certificate_chain, files->server_key);
    REQUIRE(tls.has_value());
    given.model.tls = *tls;
  }
  auto model = sim::realtime_model_server::start(sim_io_, given.model);
  REQUIRE(model.has_value());
  model_ = std::move(*model);

  config::settings settings;
  settings.port = 0;
  settings.bind_address = "127.0.0.1";
  settings.twilio_auth_token = auth_token_;
  settings.openai_api_key = "sk-harness";
  settings.openai_realtime_url = model_->url() + "?model=gpt-realtime";
  settings.recordings_dir = given.recordings_dir.value_or(recordings_.path());
  settings.metrics_port = given.metrics_port;
  settings.node_name = given.node_name;
  settings.recordings = given.recordings;
  // The tests check behaviour, not capacity: a test machine busy with other work must not turn
  // calls away for event-loop lag (tests of admission set it themselves).
  settings.max_loop_lag_ms = 0;
  if (given.configure)
    given.configure(settings);
  auto server = app::bridge_server::start(settings, {.model_links = nullptr,
                                                     .reconnect = given.reconnect,
                                                     .model_session = given.model_session,
                                                     .http_read_timeout = given.http_read_timeout,
                                                     .websocket_limits = given.websocket_limits});
  if (given.model_over_tls)
    ::unsetenv("SSL_CERT_FILE");
  REQUIRE(server.has_value());
  server_ = std::move(*server);
}

bridge_harness::~bridge_harness() {
  server_->stop();
  server_.reset();
  model_->stop();
  sim_io_.stop();
  sim_thread_.join();
}

sim::twilio_caller_options bridge_harness::call(std::vector<sim::caller_step> script) const {
  const auto port = std::to_string(server_->port());
  sim::twilio_caller_options call;
  call.webhook_url = "http://127.0.0.1:" + port + "/incoming-call";
  call.auth_token = auth_token_;
  call.stream_connect_address = "127.0.0.1:" + port;
  call.script = std::move(script);
  return call;
}

sim::twilio_call_result bridge_harness::place(sim::twilio_caller_options call) {
  return start(std::move(call)).get();
}

std::future<sim::twilio_call_result> bridge_harness::start(sim::twilio_caller_options call) {
  return sim::twilio_caller::run(sim_io_, std::move(call));
}

net::http_client_response bridge_harness::get(std::uint16_t port, const std::string& path) {
  return send(port, path, {});
}

net::http_client_response bridge_harness::send(std::uint16_t port, const std::string& path,
                                               net::http_client_request request) {
  request.url = "http://127.0.0.1:" + std::to_string(port) + path;
  std::promise<net::http_client_result> answer;
  auto future = answer.get_future();
  net::http_request_async(sim_io_, std::move(request), [&answer](net::http_client_result result) {
    answer.set_value(std::move(result));
  });
  auto result = future.get();
  REQUIRE(result.has_value());
  return std::move(*result);
}

std::span<const std::uint8_t> first(sim::speech_fixture fixture,
                                    std::chrono::milliseconds duration) {
  const auto audio = sim::fixture_audio(fixture);
  return audio.first(
      std::min<std::size_t>(audio.size(), static_cast<std::size_t>(duration.count()) * 8));
}

std::vector<std::uint8_t> wav_audio(const std::filesystem::path& path) {
  auto audio = audio::test::wav_data(path.string());
  REQUIRE(audio.has_value());
  return std::move(*audio);
}

}  // namespace switchboard::testing
