#pragma once
// One node in process for end-to-end tests: the bridge_server (the same assembly `switchboard
// serve` runs), the Realtime model stand-in and simulated Twilio calls, all over real sockets on
// ports the kernel picks. Calls are awaited through futures and the call registry, never by
// sleeping.

#include "app/bridge_server.hpp"
#include "config/settings.hpp"
#include "net/http_client.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_caller.hpp"
#include "support/temporary_directory.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>

namespace switchboard::testing {

using switchboard::testing::temporary_directory;

class bridge_harness {
 public:
  struct options {
    sim::model_options model;
    bool model_over_tls = false;  // wss:// with a self-signed CA trusted via SSL_CERT_FILE
    std::optional<std::filesystem::path> recordings_dir;  // default: a fresh temporary one
    std::optional<std::uint16_t> metrics_port;            // METRICS_PORT (0: any free port)
    std::string node_name = "harness-node";               // NODE_NAME
    bool recordings = true;                               // RECORDINGS
    /// Last word on the server's settings (e.g. the outbound-call ones).
    std::function<void(config::settings&)> configure;
    actors::reconnect_policy reconnect{.max_attempts = 3,
                                       .first_delay = std::chrono::milliseconds(50),
                                       .max_delay = std::chrono::milliseconds(200)};
    /// The Realtime session's lifetime as the bridge plans for it (production: 60 minutes).
    actors::model_session_limits model_session;
    /// The listener's limits for hostile-client tests (bridge_server::overrides); unset: the
    /// production ones.
    std::optional<std::chrono::seconds> http_read_timeout;
    std::optional<net::websocket_limits> websocket_limits;
  };

  explicit bridge_harness(options given);
  bridge_harness() : bridge_harness(options{}) {}
  ~bridge_harness();

  /// A call as Twilio would place it (signed with the server's auth token).
  sim::twilio_caller_options call(std::vector<sim::caller_step> script) const;
  sim::twilio_call_result place(sim::twilio_caller_options call);
  /// The same, without waiting: the result arrives when the call has ended.
  std::future<sim::twilio_call_result> start(sim::twilio_caller_options call);
  /// GET http://127.0.0.1:<port><path> from the bridge; fails the test when nothing answers.
  net::http_client_response get(std::uint16_t port, const std::string& path);
  /// Any request to http://127.0.0.1:<port><path>.
  net::http_client_response send(std::uint16_t port, const std::string& path,
                                 net::http_client_request request);
  boost::asio::io_context& sim_io() { return sim_io_; }

  app::bridge_server& server() { return *server_; }
  sim::realtime_model_server& model() { return *model_; }
  const std::filesystem::path& recordings() const { return recordings_.path(); }
  const std::string& auth_token() const { return auth_token_; }

 private:
  temporary_directory recordings_;
  temporary_directory certificates_;
  std::string auth_token_ = "harness-auth-token";
  boost::asio::io_context sim_io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(sim_io_);
  std::thread sim_thread_;
  std::unique_ptr<sim::realtime_model_server> model_;
  std::unique_ptr<app::bridge_server> server_;
};

/// The first `duration` of a speech fixture (all of it when shorter).
std::span<const std::uint8_t> first(sim::speech_fixture fixture,
                                    std::chrono::milliseconds duration);

/// The bytes of a μ-law WAV's data chunk.
std::vector<std::uint8_t> wav_audio(const std::filesystem::path& path);

}  // namespace switchboard::testing
