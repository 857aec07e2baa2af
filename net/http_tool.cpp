#include "net/http_tool.hpp"

#include "net/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <utility>

namespace switchboard::net {

namespace {

namespace json = boost::json;

// A tool's answer goes to the model and into its context window: more than this is a tool
// that answers with a page instead of facts.
constexpr std::size_t max_tool_answer_bytes = 64 * 1024;

std::string error_output(std::string_view message) {
  return json::serialize(json::object{{"error", message}});
}

tool_result failed(tool_outcome outcome, std::string message, std::string detail,
                   unsigned http_status = 0) {
  return {outcome, http_status, error_output(message), std::move(detail)};
}

// The answer as the model's output: JSON passes through as sent; anything else (plain text, an
// empty body) becomes a JSON string, so that the output is always JSON.
std::string output_of(std::string body) {
  boost::system::error_code ec;
  json::parse(body, ec);
  if (!ec)
    return body;
  return json::serialize(json::string(body));
}

tool_result result_of(const http_tool& tool, http_client_result answer,
                      std::chrono::steady_clock::duration elapsed) {
  if (!answer) {
    // The client's deadline covers the whole exchange; a failure at or past it is that deadline
    // (it cancelled whatever was pending), anything earlier is the network or the peer.
    if (elapsed >= tool.timeout) {
      return failed(
          tool_outcome::timed_out,
          "tool " + tool.name + " timed out after " + std::to_string(tool.timeout.count()) + " ms",
          answer.error());
    }
    return failed(tool_outcome::unreachable,
                  "tool " + tool.name + " could not be reached or gave no valid answer",
                  answer.error());
  }
  if (answer->status < 200 || answer->status > 299) {
    return failed(
        tool_outcome::http_error,
        "tool " + tool.name + " failed with HTTP status " + std::to_string(answer->status), {},
        answer->status);
  }
  return {tool_outcome::answered, answer->status, output_of(std::move(answer->body)), {}};
}

}  // namespace

std::string_view to_string(tool_outcome outcome) {
  switch (outcome) {
    case tool_outcome::answered:
      return "answered";
    case tool_outcome::http_error:
      return "http_error";
    case tool_outcome::timed_out:
      return "timed_out";
    case tool_outcome::unreachable:
      return "unreachable";
    case tool_outcome::invalid_arguments:
      return "invalid_arguments";
  }
  return "unknown";
}

boost::system::result<std::string, std::string> tool_request_body(const http_tool& tool,
                                                                  std::string_view arguments_json,
                                                                  const tool_call_context& call) {
  // A function without parameters may come with empty arguments.
  json::value arguments = json::object{};
  if (arguments_json.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    boost::system::error_code ec;
    arguments = json::parse(arguments_json, ec);
    if (ec)
      return {boost::system::in_place_error, "the arguments are not JSON: " + ec.message()};
    if (!arguments.is_object())
      return {boost::system::in_place_error, "the arguments are not a JSON object"};
  }
  json::value metadata = json::object{};
  if (!call.metadata_json.empty()) {
    boost::system::error_code ec;
    metadata = json::parse(call.metadata_json, ec);
    if (ec)
      metadata = json::string(call.metadata_json);
  }
  const json::object body{{"tool", tool.name},
                          {"arguments", std::move(arguments)},
                          {"call",
                           {{"call_sid", call.call_sid},
                            {"stream_sid", call.stream_sid},
                            {"from", call.from},
                            {"to", call.to},
                            {"direction", call.direction},
                            {"metadata", std::move(metadata)}}}};
  return {boost::system::in_place_value, json::serialize(body)};
}

void invoke_http_tool(boost::asio::io_context& io, std::shared_ptr<tls_context> tls,
                      const http_tool& tool, std::string_view arguments_json,
                      const tool_call_context& call, std::function<void(tool_result)> done) {
  auto body = tool_request_body(tool, arguments_json, call);
  // Posted, so that `done` never runs inside this call (the caller may hold a lock or be in
  // the middle of a handler) and always on an io thread, even when nothing is sent.
  boost::asio::post(io, [&io, tls = std::move(tls), tool, body = std::move(body),
                         done = std::move(done)]() mutable {
    if (!body) {
      return done(
          failed(tool_outcome::invalid_arguments,
                 "tool " + tool.name + " was called with invalid arguments: " + body.error(),
                 body.error()));
    }
    http_client_request request;
    request.method = "POST";
    request.url = tool.url;
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    request.body = std::move(*body);
    request.timeout = tool.timeout;
    request.tls = std::move(tls);
    request.max_response_body_bytes = max_tool_answer_bytes;
    const auto started = std::chrono::steady_clock::now();
    http_request_async(
        io, std::move(request), [tool, started, done = std::move(done)](http_client_result answer) {
          done(result_of(tool, std::move(answer), std::chrono::steady_clock::now() - started));
        });
  });
}

}  // namespace switchboard::net
