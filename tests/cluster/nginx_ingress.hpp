#pragma once
// NGINX (Debian's package) as the ingress a Kubernetes cluster would put in front of the nodes,
// run by a test as the current user on loopback: TLS termination with a sim/self_signed_ca
// certificate, WebSocket upgrade, `/` to the ready nodes (the Service) and one route per node
// for its NODE_STREAM_URL (k8s/: a route per pod), `/node/<name>/media-stream`.
//
// nginx cannot listen on port 0 and say which port it got: a free port is found by binding
// port 0 and closing it, nginx is started on it, and the start counts only once nginx answers
// /ingress-health with this ingress's nonce (another process that took the port in between
// cannot). When nginx exits instead (the port was taken), it is tried again on a new port.
// A route change (a node replaced: a new process on a new port) is a new config and SIGHUP, as
// an ingress controller does on an endpoint change; it counts once /ingress-health answers the
// new generation (nginx's new workers serve new connections; the old ones finish the
// connections they hold, so a live call's stream is not cut by a reload).

#include "sim/server_process.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

namespace switchboard::testing::cluster {

inline constexpr const char* nginx_executable = "/usr/sbin/nginx";

/// What the ingress routes: the nodes in the Service (ready ones) and every node's own route.
struct ingress_routes {
  std::map<std::string, std::uint16_t> node_ports;  // name → HTTP port on 127.0.0.1
  std::map<std::string, bool> in_service;           // name → receives `/`; absent: true
};

/// The stream URL path of a node behind the ingress.
inline std::string node_stream_path(const std::string& name) {
  return "/node/" + name + "/media-stream";
}

/// The nginx.conf for `routes` (pure: tested through the rolling-update test that runs it).
/// `prefix` holds the pid file, the temp paths and the certificate files.
inline std::string render_nginx_config(const ingress_routes& routes, std::uint16_t listen_port,
                                       const std::filesystem::path& prefix,
                                       const std::filesystem::path& certificate_chain,
                                       const std::filesystem::path& certificate_key,
                                       const std::string& health_body) {
  const auto path = [&](const char* name) {
    return (prefix / name).string();
  };
  std::string conf;
  // As root (CI containers), workers would switch to `nobody`; stay the user that started it.
  if (::geteuid() == 0)
    conf += "user root;\n";
  conf += "worker_processes 1;\ndaemon off;\npid " + path("nginx.pid") +
          ";\nerror_log stderr notice;\nevents { worker_connections 1024; }\nhttp {\n"
          "  access_log off;\n"
          "  client_body_temp_path " +
          path("client_body") + ";\n  proxy_temp_path " + path("proxy") +
          ";\n  fastcgi_temp_path " + path("fastcgi") + ";\n  uwsgi_temp_path " + path("uwsgi") +
          ";\n  scgi_temp_path " + path("scgi") +
          ";\n"
          // WebSocket upgrade: hop-by-hop headers are not forwarded unless set again.
          "  map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n";
  std::string service;
  for (const auto& [name, port] : routes.node_ports) {
    const auto listed = routes.in_service.find(name);
    if (listed == routes.in_service.end() || listed->second)
      service += "    server 127.0.0.1:" + std::to_string(port) + ";\n";
  }
  // An empty upstream is a config error: a Service with no ready endpoint answers 502 instead.
  if (service.empty())
    service = "    server 127.0.0.1:1 down;\n";
  conf += "  upstream ready_nodes {\n" + service + "  }\n";
  // proxy_set_header is inherited only where a block sets none: every location sets them all.
  const std::string headers =
      "      proxy_http_version 1.1;\n"
      "      proxy_set_header Host $http_host;\n"
      "      proxy_set_header X-Forwarded-Proto https;\n"
      "      proxy_set_header X-Forwarded-For $remote_addr;\n"
      "      proxy_set_header Upgrade $http_upgrade;\n"
      "      proxy_set_header Connection $connection_upgrade;\n"
      // Longer than the longest call: a quiet WebSocket must not be closed under a call.
      "      proxy_read_timeout 3600s;\n"
      "      proxy_send_timeout 3600s;\n"
      "      proxy_buffering off;\n";
  conf += "  server {\n    listen 127.0.0.1:" + std::to_string(listen_port) +
          " ssl;\n    ssl_certificate " + certificate_chain.string() +
          ";\n    ssl_certificate_key " + certificate_key.string() +
          ";\n    location = /ingress-health { default_type text/plain; return 200 '" +
          health_body + "'; }\n";
  for (const auto& [name, port] : routes.node_ports) {
    const auto upstream = "http://127.0.0.1:" + std::to_string(port);
    conf += "    location = " + node_stream_path(name) + " {\n      proxy_pass " + upstream +
            "/media-stream;\n" + headers + "    }\n";
    // The node's own HTTP (its /readyz through the ingress, say): /node/<name>/x → /x.
    conf += "    location /node/" + name + "/ {\n      proxy_pass " + upstream + "/;\n" + headers +
            "    }\n";
  }
  conf += "    location / {\n      proxy_pass http://ready_nodes;\n" + headers + "    }\n";
  conf += "  }\n}\n";
  return conf;
}

/// nginx, started on a free loopback port, reconfigured by reload; stopped (SIGTERM) and reaped
/// when destroyed.
class nginx_ingress {
 public:
  /// `answers` fetches https://localhost:<port>/ingress-health and returns its body ("" when
  /// nothing answered): the test's own HTTPS client, trusting the CA of `chain`.
  template <class Fetch>
  nginx_ingress(std::filesystem::path prefix, std::filesystem::path chain,
                std::filesystem::path key, ingress_routes routes, Fetch answers)
      : prefix_(std::move(prefix)),
        chain_(std::move(chain)),
        key_(std::move(key)),
        routes_(std::move(routes)) {
    std::random_device entropy;
    nonce_ = std::to_string(entropy()) + std::to_string(entropy());
    for (int attempt = 0; attempt < 5 && !process_; ++attempt) {
      port_ = free_loopback_port();
      write_config();
      sim::server_process_options options;
      options.executable = nginx_executable;
      options.arguments = {"-p", prefix_.string(), "-c", config_path().string(), "-e", "stderr"};
      options.working_directory = prefix_;
      auto spawned = sim::server_process::spawn(options);
      if (!spawned)
        throw std::runtime_error("cannot start nginx: " + spawned.error());
      auto process = std::move(*spawned);
      if (eventually_answers(answers, process.get()))
        process_ = std::move(process);
      else
        process->terminate();
    }
    if (!process_)
      throw std::runtime_error("nginx did not start on a free port in 5 tries");
  }

  std::uint16_t port() const { return port_; }
  std::string base_url() const { return "https://localhost:" + std::to_string(port_); }
  std::string stream_url(const std::string& node) const {
    return "wss://localhost:" + std::to_string(port_) + node_stream_path(node);
  }

  /// New routes, in force once this returns true (false: nginx never took them).
  template <class Fetch>
  bool reroute(ingress_routes routes, Fetch answers) {
    routes_ = std::move(routes);
    ++generation_;
    write_config();
    ::kill(process_->pid(), SIGHUP);
    return eventually_answers(answers, process_.get());
  }
  const ingress_routes& routes() const { return routes_; }

 private:
  static std::uint16_t free_loopback_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(
        io, {boost::asio::ip::make_address("127.0.0.1"), std::uint16_t{0}});
    return probe.local_endpoint().port();
  }
  std::filesystem::path config_path() const { return prefix_ / "nginx.conf"; }
  std::string health_body() const {
    return "switchboard-ingress " + nonce_ + " generation " + std::to_string(generation_);
  }
  void write_config() const {
    std::ofstream(config_path()) << render_nginx_config(routes_, port_, prefix_, chain_, key_,
                                                        health_body());
  }
  /// Polls /ingress-health until it names this nginx and generation (bounded: a broken start);
  /// false at once when nginx exits (its port was taken).
  template <class Fetch>
  bool eventually_answers(Fetch& answers, sim::server_process* process) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (answers(base_url() + "/ingress-health") == health_body())
        return true;
      if (process->wait_for_exit(std::chrono::seconds(0)))
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::filesystem::path prefix_, chain_, key_;
  ingress_routes routes_;
  std::string nonce_;
  unsigned generation_ = 0;
  std::uint16_t port_ = 0;
  std::unique_ptr<sim::server_process> process_;
};

}  // namespace switchboard::testing::cluster
