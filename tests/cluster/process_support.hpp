#pragma once
// What the real-process cluster tests share: where the switchboard binary is, one HTTP/1.0
// request to a node on loopback, a bounded wait for something the nodes will report, and the
// call.json a node wrote.

#include "sim/realtime_model_server.hpp"
#include "sim/server_process.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::testing::cluster {

/// A JSON file holding an object (a call.json); nullopt when it cannot be read or is not one.
inline std::optional<boost::json::object> json_object_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code error;
  auto parsed = boost::json::parse(text.str(), error);
  if (error || !parsed.is_object())
    return std::nullopt;
  return std::move(parsed.as_object());
}

/// call.json of the one call recorded under `recordings`; nullopt unless there is exactly one
/// and it parses as an object.
inline std::optional<boost::json::object> only_call_json(const std::filesystem::path& recordings) {
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(recordings)) {
    if (entry.path().filename() == "call.json")
      found.push_back(entry.path());
  }
  if (found.size() != 1)
    return std::nullopt;
  return json_object_file(found.front());
}

/// The switchboard binary under test (SWITCHBOARD_BINARY, else the build's).
inline std::filesystem::path executable() {
  const char* path = std::getenv("SWITCHBOARD_BINARY");
  return path != nullptr ? path : SWITCHBOARD_BINARY_DIR "/switchboard";
}

/// `switchboard serve` as a child of the test, in `dir`: on loopback, on a port the kernel picks
/// (read back from its log), one io thread, NODE_NAME `name`. The test adds the rest of its
/// environment.
inline sim::server_process_options serve_options(const std::filesystem::path& dir,
                                                 const std::string& name) {
  sim::server_process_options options;
  options.executable = executable();
  options.arguments = {"serve"};
  options.working_directory = dir;
  options.environment = {"PORT=0", "BIND_ADDRESS=127.0.0.1", "IO_THREADS=1", "NODE_NAME=" + name};
  return options;
}

struct http_answer {
  unsigned status = 0;  // 0: nothing answered
  std::string body;
  /// The body as JSON; null when it is not.
  boost::json::value json() const {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(body, ec);
    return ec ? boost::json::value() : parsed;
  }
};

/// One HTTP/1.0 request to 127.0.0.1:`port`, with a bearer token when one is given and a body
/// (of `content_type`, when given) on a POST; nullopt when nothing answers.
inline std::optional<http_answer> http_request(std::uint16_t port, const std::string& method,
                                               const std::string& path,
                                               const std::string& bearer = {},
                                               const std::string& content_type = {},
                                               const std::string& body = {}) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec)
    return std::nullopt;
  std::string request = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  if (!bearer.empty())
    request += "Authorization: Bearer " + bearer + "\r\n";
  if (method == "POST" || !body.empty()) {
    if (!content_type.empty())
      request += "Content-Type: " + content_type + "\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  boost::asio::write(socket, boost::asio::buffer(request), ec);
  std::string response;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  if (response.size() < 12 || !response.starts_with("HTTP/1."))
    return std::nullopt;
  http_answer answer;
  answer.status = static_cast<unsigned>(std::stoi(response.substr(9, 3)));
  const auto body_at = response.find("\r\n\r\n");
  if (body_at != std::string::npos)
    answer.body = response.substr(body_at + 4);
  return answer;
}

/// Polls `condition` until it holds or `limit` passes (a bound on a broken test only).
template <class Condition>
bool eventually(Condition condition, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

/// Starts a node and reads back the port it listens on; fails the test when it cannot.
inline std::unique_ptr<sim::server_process> start_listening(
    const sim::server_process_options& options, const std::string& name, std::uint16_t& port) {
  auto spawned = sim::server_process::spawn(options);
  if (!spawned)
    FAIL("cannot start node " << name << ": " << spawned.error());
  auto process = std::move(*spawned);
  auto listening = process->wait_for_port(std::chrono::seconds(30));
  if (!listening)
    FAIL("node " << name << ": " << listening.error());
  port = *listening;
  return process;
}

/// The model stand-in (expecting `api_key`) and the simulated callers the test starts, on one
/// io thread of the test process.
class model_simulation {
 public:
  explicit model_simulation(const std::string& api_key) {
    thread_ = std::thread([this] { io_.run(); });
    sim::model_options options;
    options.expected_api_key = api_key;
    auto model = sim::realtime_model_server::start(io_, options);
    if (!model) {
      stop_io();
      throw std::runtime_error("the model stand-in did not start: " + model.error());
    }
    model_ = std::move(*model);
  }
  ~model_simulation() {
    model_->stop();
    stop_io();
  }
  model_simulation(const model_simulation&) = delete;
  model_simulation& operator=(const model_simulation&) = delete;

  boost::asio::io_context& io() { return io_; }
  sim::realtime_model_server& model() { return *model_; }

 private:
  void stop_io() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  std::thread thread_;
  std::unique_ptr<sim::realtime_model_server> model_;
};

}  // namespace switchboard::testing::cluster
