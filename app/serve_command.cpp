// `switchboard serve`: configuration, logging, the io threads and the HTTP server.
// Today the server answers its health endpoints only; the call bridge mounts here next.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "app/commands.hpp"
#include "config/settings.hpp"
#include "metrics/logging.hpp"
#include "net/http_server.hpp"

namespace switchboard::app {

namespace {

/// The routes of the server. /healthz: the process is alive. /readyz: it takes calls (false
/// while draining, so a load balancer stops sending new ones).
net::http_response route(const net::http_request& request, const std::atomic<bool>& ready) {
  const auto path = request.path();
  if (request.method != "GET" && request.method != "HEAD") {
    if (path == "/healthz" || path == "/readyz") {
      return net::http_response::text(405, "method not allowed\n");
    }
  }
  if (path == "/healthz") return net::http_response::text(200, "ok\n");
  if (path == "/readyz") {
    return ready ? net::http_response::text(200, "ready\n")
                 : net::http_response::text(503, "draining\n");
  }
  return net::http_response::text(404, "not found\n");
}

unsigned io_thread_count(const config::settings& settings) {
  if (settings.io_threads != 0) return settings.io_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

int run_serve(std::span<const std::string> arguments) {
  if (config::help_requested(arguments)) {
    std::cout << "switchboard serve [--flags]\n\n" << config::flags_help();
    return 0;
  }
  auto loaded = config::load(arguments, config::process_environment(), ".env");
  if (!loaded) {
    std::cerr << "switchboard: the configuration is invalid:\n"
              << config::format_errors(loaded.error());
    return 2;
  }
  const config::settings& settings = *loaded;
  if (auto logging = metrics::configure_logging(config::to_string(settings.log_format),
                                                config::to_string(settings.log_level));
      !logging) {
    std::cerr << "switchboard: " << logging.error() << "\n";
    return 2;
  }
  for (const auto& line : config::describe(settings)) spdlog::info("setting {}", line);

  boost::asio::io_context io;
  std::atomic<bool> ready{false};
  auto server = net::http_server::start(
      io, {.bind_address = settings.bind_address, .port = settings.port},
      {.on_request = [&ready](const net::http_request& request) { return route(request, ready); },
       .on_upgrade = {}});
  if (!server) {
    spdlog::critical("{}", server.error());
    return 1;
  }
  // Tests and scripts read the bound port from this line (PORT=0 binds an ephemeral port).
  spdlog::info("listening on {}:{}", settings.bind_address, (*server)->port());
  spdlog::warn("health endpoints only (/healthz, /readyz): the call bridge is not part of this "
               "build yet");
  ready = true;

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signal_number);
    ready = false;
    (*server)->stop();
    io.stop();
  });

  const unsigned thread_count = io_thread_count(settings);
  std::vector<std::thread> threads;
  threads.reserve(thread_count - 1);
  for (unsigned i = 1; i < thread_count; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : threads) thread.join();
  spdlog::info("stopped");
  return 0;
}

int run_settings(std::span<const std::string> arguments) {
  if (!arguments.empty()) {
    std::cerr << "switchboard settings: takes no arguments\n";
    return 2;
  }
  std::cout << config::settings_markdown_table();
  return 0;
}

}  // namespace switchboard::app
