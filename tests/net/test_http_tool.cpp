// The HTTP tool invoker against net::http_server on port 0. Synchronisation is by futures the
// callbacks fulfil; the slow tool holds its answer until the test releases it, after the
// invoker has given up on it.
#include "net/http_server.hpp"
#include "net/http_tool.hpp"
#include "support/running_io.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace switchboard::net;
using namespace std::chrono_literals;

using switchboard::testing::running_io;

namespace {

const tool_call_context test_call{"CA0123456789abcdef0123456789abcdef",
                                  "MZ0123456789abcdef0123456789abcdef",
                                  "+14155550100",
                                  "+14155550199",
                                  "inbound",
                                  R"({"customer":"42"})"};

struct invocation {
  tool_result result;
  bool on_io_thread = false;
};

// Calls the tool and waits for its one callback; `io_threads` are the threads running the io.
invocation invoke(running_io& io, const http_tool& tool, std::string_view arguments,
                  const tool_call_context& call = test_call) {
  auto answer = std::make_shared<std::promise<invocation>>();
  auto future = answer->get_future();
  auto calls = std::make_shared<std::atomic<int>>(0);
  invoke_http_tool(io.io, nullptr, tool, arguments, call, [&io, answer, calls](tool_result result) {
    bool on_io_thread = false;
    for (const auto& thread : io.threads)
      on_io_thread = on_io_thread || thread.get_id() == std::this_thread::get_id();
    // A second call would throw promise_already_satisfied here and fail the test.
    if (calls->fetch_add(1) == 0)
      answer->set_value({std::move(result), on_io_thread});
  });
  auto done = future.get();
  CHECK(calls->load() == 1);
  return done;
}

// A tool endpoint: records the requests it gets and answers each with `answer`.
struct tool_server {
  explicit tool_server(running_io& io, http_response response) {
    auto started = http_server::start(
        io.io, {.bind_address = "127.0.0.1", .port = 0},
        {.on_request = [this, response = std::move(response)](const http_request& request) {
          std::lock_guard lock(mutex);
          requests.push_back(request);
          return response;
        }});
    REQUIRE(started.has_value());
    server = std::move(*started);
  }

  std::string url(std::string_view path = "/tools/lookup_order") const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + std::string(path);
  }

  std::vector<http_request> seen() {
    std::lock_guard lock(mutex);
    return requests;
  }

  std::mutex mutex;
  std::vector<http_request> requests;
  std::unique_ptr<http_server> server;
};

json::value parsed(const std::string& text) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  INFO(text);
  REQUIRE_FALSE(ec);
  return value;
}

}  // namespace

TEST_CASE("a tool gets the arguments and the call as JSON, and its JSON answer is the output",
          "[http_tool]") {
  running_io io{2};
  tool_server endpoint(io, http_response::json(200, R"({"status":"shipped","eta":"Tuesday"})"));
  const http_tool tool{"lookup_order", endpoint.url(), 5000ms};

  const auto done = invoke(io, tool, R"({"order":"A-1234"})");
  CHECK(done.on_io_thread);
  CHECK(done.result.ok());
  CHECK(done.result.outcome == tool_outcome::answered);
  CHECK(done.result.http_status == 200);
  CHECK(done.result.output == R"({"status":"shipped","eta":"Tuesday"})");
  CHECK(done.result.detail.empty());

  const auto requests = endpoint.seen();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/tools/lookup_order");
  CHECK(requests[0].header("content-type") == "application/json");
  const auto body = parsed(requests[0].body);
  CHECK(body.at("tool") == "lookup_order");
  CHECK(body.at("arguments") == json::parse(R"({"order":"A-1234"})"));
  const auto& call = body.at("call");
  CHECK(call.at("call_sid").as_string() == test_call.call_sid);
  CHECK(call.at("stream_sid").as_string() == test_call.stream_sid);
  CHECK(call.at("from") == "+14155550100");
  CHECK(call.at("to") == "+14155550199");
  CHECK(call.at("direction") == "inbound");
  CHECK(call.at("metadata") == json::parse(R"({"customer":"42"})"));
}

TEST_CASE("a 2xx answer that is not JSON reaches the model as a JSON string", "[http_tool]") {
  running_io io{2};
  tool_server endpoint(io, http_response::text(201, "Order A-1234 ships on Tuesday."));
  const auto done = invoke(io, {"lookup_order", endpoint.url(), 5000ms}, "{}");
  CHECK(done.result.ok());
  CHECK(done.result.http_status == 201);
  CHECK(done.result.output == R"("Order A-1234 ships on Tuesday.")");
}

TEST_CASE("empty arguments are an empty object, metadata that is not JSON is sent as a string",
          "[http_tool]") {
  running_io io{2};
  tool_server endpoint(io, http_response::json(200, "{}"));
  auto call = test_call;
  call.metadata_json = "not json";
  const auto done = invoke(io, {"ping", endpoint.url("/ping"), 5000ms}, "", call);
  CHECK(done.result.ok());
  const auto requests = endpoint.seen();
  REQUIRE(requests.size() == 1);
  const auto body = parsed(requests[0].body);
  CHECK(body.at("arguments") == json::object{});
  CHECK(body.at("call").at("metadata") == "not json");

  call.metadata_json.clear();
  invoke(io, {"ping", endpoint.url("/ping"), 5000ms}, "{}", call);
  CHECK(parsed(endpoint.seen().at(1).body).at("call").at("metadata") == json::object{});
}

TEST_CASE("an HTTP 500 is an error result naming the tool and the status", "[http_tool]") {
  running_io io{2};
  tool_server endpoint(io, http_response::json(500, R"({"detail":"database down"})"));
  const auto done = invoke(io, {"lookup_order", endpoint.url(), 5000ms}, R"({"order":"A-1"})");
  CHECK(done.on_io_thread);
  CHECK_FALSE(done.result.ok());
  CHECK(done.result.outcome == tool_outcome::http_error);
  CHECK(done.result.http_status == 500);
  CHECK(parsed(done.result.output) ==
        json::parse(R"({"error":"tool lookup_order failed with HTTP status 500"})"));
}

TEST_CASE("a tool slower than its timeout is an error result, its late answer is ignored",
          "[http_tool]") {
  running_io io{2};
  // The endpoint takes the request and answers only when the test says so.
  std::promise<http_responder> held;
  auto responder = held.get_future();
  std::atomic<int> requests{0};
  auto server = http_server::start(
      io.io, {.bind_address = "127.0.0.1", .port = 0},
      {.on_request = [](const http_request&) { return http_response::text(404, ""); },
       .on_request_async =
           [&](const http_request&, const http_responder& respond) {
             if (requests.fetch_add(1) == 0)
               held.set_value(respond);
             return true;
           }});
  REQUIRE(server.has_value());
  const http_tool tool{"lookup_order",
                       "http://127.0.0.1:" + std::to_string((*server)->port()) + "/slow", 150ms};

  const auto done = invoke(io, tool, R"({"order":"A-1"})");
  CHECK(done.on_io_thread);
  CHECK(done.result.outcome == tool_outcome::timed_out);
  CHECK(done.result.http_status == 0);
  CHECK(parsed(done.result.output) ==
        json::parse(R"({"error":"tool lookup_order timed out after 150 ms"})"));
  CHECK(done.result.detail.find("timed out") != std::string::npos);

  // The request did reach the tool; answering now changes nothing (the callback fired once,
  // which invoke() checked).
  REQUIRE(requests.load() == 1);
  responder.get()(http_response::json(200, R"({"late":true})"));
}

TEST_CASE("a refused connection is an error result without the address, the log gets it",
          "[http_tool]") {
  running_io io{2};
  // A port bound here and never listened on: a connection to it is refused, and no other
  // test running beside this one can take the port meanwhile.
  asio::ip::tcp::acceptor bound_only(io.io);
  bound_only.open(asio::ip::tcp::v4());
  bound_only.bind({asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = bound_only.local_endpoint().port();
  const http_tool tool{"lookup_order", "http://127.0.0.1:" + std::to_string(port) + "/x", 5000ms};
  const auto done = invoke(io, tool, "{}");
  CHECK(done.on_io_thread);
  CHECK(done.result.outcome == tool_outcome::unreachable);
  CHECK(
      parsed(done.result.output) ==
      json::parse(R"({"error":"tool lookup_order could not be reached or gave no valid answer"})"));
  CHECK(done.result.output.find("127.0.0.1") == std::string::npos);
  CHECK(done.result.detail.find("refused") != std::string::npos);
  CHECK(done.result.detail.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("invalid arguments are an error result and nothing is sent", "[http_tool]") {
  running_io io{2};
  tool_server endpoint(io, http_response::json(200, "{}"));
  for (const std::string_view arguments : {R"({"order":)", "[1,2]", "42", "\"text\""}) {
    INFO(arguments);
    const auto done = invoke(io, {"lookup_order", endpoint.url(), 5000ms}, arguments);
    CHECK(done.on_io_thread);
    CHECK(done.result.outcome == tool_outcome::invalid_arguments);
    const auto output = parsed(done.result.output);
    CHECK(output.at("error").as_string().starts_with(
        "tool lookup_order was called with invalid arguments"));
    CHECK_FALSE(done.result.detail.empty());
  }
  CHECK(endpoint.seen().empty());
}

TEST_CASE("an https:// tool without a TLS context fails as unreachable, still on an io thread",
          "[http_tool]") {
  running_io io{2};
  const auto done = invoke(io, {"lookup_order", "https://127.0.0.1:1/x", 5000ms}, "{}");
  CHECK(done.on_io_thread);
  CHECK(done.result.outcome == tool_outcome::unreachable);
  CHECK(done.result.detail.find("TLS") != std::string::npos);
}

TEST_CASE("tool outcomes have stable names for metric labels", "[http_tool]") {
  CHECK(to_string(tool_outcome::answered) == "answered");
  CHECK(to_string(tool_outcome::http_error) == "http_error");
  CHECK(to_string(tool_outcome::timed_out) == "timed_out");
  CHECK(to_string(tool_outcome::unreachable) == "unreachable");
  CHECK(to_string(tool_outcome::invalid_arguments) == "invalid_arguments");
}
