#include "support/s3_standin.hpp"

#include "sim/server_process.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <stdexcept>

namespace switchboard::testing {

namespace {

struct control_answer {
  unsigned status = 0;
  std::string body;
};

/// One HTTP/1.0 request to the stand-in's control routes (it closes the connection after it).
control_answer control_request(std::uint16_t port, const std::string& method,
                               const std::string& path, const std::string& body = {}) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec)
    throw std::runtime_error("s3 stand-in: cannot connect: " + ec.message());
  std::string request = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  if (method == "POST") {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  boost::asio::write(socket, boost::asio::buffer(request), ec);
  std::string response;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  if (response.size() < 12 || !response.starts_with("HTTP/1."))
    throw std::runtime_error("s3 stand-in: no HTTP answer to " + method + " " + path);
  control_answer answer;
  answer.status = static_cast<unsigned>(std::stoi(response.substr(9, 3)));
  if (const auto at = response.find("\r\n\r\n"); at != std::string::npos)
    answer.body = response.substr(at + 4);
  if (answer.status != 200) {
    throw std::runtime_error("s3 stand-in: " + method + " " + path + " answered " +
                             std::to_string(answer.status) + ": " + answer.body);
  }
  return answer;
}

std::string string_field(const boost::json::object& entry, std::string_view name) {
  const auto* value = entry.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

}  // namespace

s3_standin::s3_standin() : s3_standin(s3_standin_options{}) {}

s3_standin::s3_standin(s3_standin_options options) : options_(std::move(options)) {
  sim::server_process_options spawn;
  spawn.executable = SWITCHBOARD_NODE;
  const std::string script = SWITCHBOARD_SOURCE_DIR "/tests/s3/s3_standin.mjs";
  spawn.arguments = {script,
                     "--bucket",
                     options_.bucket,
                     "--access-key",
                     options_.access_key,
                     "--secret-key",
                     options_.secret_key,
                     "--region",
                     options_.region,
                     "--directory",
                     storage_.path().string()};
  spawn.environment = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + storage_.path().string()};
  spawn.working_directory = SWITCHBOARD_SOURCE_DIR "/tests/s3";
  auto started = sim::server_process::spawn(spawn);
  if (!started)
    throw std::runtime_error("s3 stand-in: " + started.error());
  process_ = std::move(*started);
  // Generous: node loads s3rver and the signer from disk on a machine busy with other builds.
  const auto port = process_->wait_for_port(std::chrono::seconds(60));
  if (!port) {
    throw std::runtime_error(
        "s3 stand-in did not start (did scripts/setup run npm ci in "
        "tests/s3?): " +
        port.error());
  }
  port_ = *port;
}

s3_standin::~s3_standin() {
  if (process_)
    process_->terminate();
}

std::string s3_standin::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

net::s3_config s3_standin::client_config() const {
  net::s3_config config;
  config.bucket = options_.bucket;
  config.endpoint = endpoint();
  config.region = options_.region;
  config.path_style = true;
  config.credentials.access_key_id = options_.access_key;
  config.credentials.secret_access_key = options_.secret_key;
  return config;
}

void s3_standin::inject_faults(const s3_fault& fault) {
  boost::json::object body{{"status", fault.status},
                           {"count", fault.count},
                           {"skip", fault.skip},
                           {"hang_ms", fault.hang_ms}};
  control_request(port_, "POST", "/__standin/faults", boost::json::serialize(body));
}

void s3_standin::clear_faults() {
  control_request(port_, "POST", "/__standin/faults", "{}");
}

std::vector<s3_standin_request> s3_standin::requests() const {
  const auto answer = control_request(port_, "GET", "/__standin/requests");
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(answer.body, ec);
  if (ec || !parsed.is_array())
    throw std::runtime_error("s3 stand-in: the request log is not a JSON array: " + answer.body);
  std::vector<s3_standin_request> out;
  for (const auto& item : parsed.as_array()) {
    if (!item.is_object())
      continue;
    const auto& entry = item.as_object();
    s3_standin_request request;
    request.method = string_field(entry, "method");
    request.path = string_field(entry, "path");
    request.query = string_field(entry, "query");
    request.error_code = string_field(entry, "error_code");
    request.session_token = string_field(entry, "session_token");
    request.content_md5 = string_field(entry, "content_md5");
    if (const auto* ok = entry.if_contains("signature_ok"); ok != nullptr && ok->is_bool())
      request.signature_ok = ok->as_bool();
    if (const auto* fault = entry.if_contains("fault"); fault != nullptr && fault->is_bool())
      request.fault = fault->as_bool();
    if (const auto* status = entry.if_contains("status"); status != nullptr && status->is_number())
      request.status = status->to_number<unsigned>();
    if (const auto* headers = entry.if_contains("signed_headers");
        headers != nullptr && headers->is_array()) {
      for (const auto& header : headers->as_array()) {
        if (header.is_string())
          request.signed_headers.emplace_back(header.as_string());
      }
    }
    out.push_back(std::move(request));
  }
  return out;
}

void s3_standin::reset() {
  control_request(port_, "POST", "/__standin/reset");
}

}  // namespace switchboard::testing
