// Placement (README "Cluster") on real `switchboard serve` processes on loopback: the node that
// answers a webhook or POST /calls sends the call to the least loaded node with room, skips a
// full one, counts each place on the chosen node, and answers FULL_MESSAGE once every node is
// full; a dial's overrides travel with its call to the node that takes the stream, and
// CALLS_PER_MINUTE holds for the whole cluster. The Twilio
// REST stand-in and the model stand-in run in this process. Each state is awaited by polling
// the nodes' APIs with a limit that only bounds a broken test.
#include "cluster/process_support.hpp"
#include "net/twiml.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/server_process.hpp"
#include "sim/twilio_rest_server.hpp"
#include "support/temporary_directory.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using switchboard::sim::server_process;

namespace {

constexpr const char* api_token = "placement-token";
constexpr const char* full_message = "Every line of the placement test is busy.";

using switchboard::testing::cluster::eventually;
using switchboard::testing::cluster::executable;
using switchboard::testing::cluster::http_answer;
using switchboard::testing::cluster::http_request;
using switchboard::testing::cluster::serve_options;

/// One HTTP/1.0 request to 127.0.0.1:`port` (status 0 when nothing answers).
http_answer http(std::uint16_t port, const std::string& method, const std::string& path,
                 const std::string& content_type = {}, const std::string& body = {}) {
  return http_request(port, method, path, api_token, content_type, body).value_or(http_answer{});
}

/// The model stand-in (and, when asked, the Twilio REST stand-in) on one io thread.
struct stand_ins {
  stand_ins() {
    switchboard::sim::model_options options;
    options.expected_api_key = "sk-placement";
    auto started = switchboard::sim::realtime_model_server::start(io, options);
    REQUIRE(started.has_value());
    model = std::move(*started);
    thread = std::thread([this] { io.run(); });
  }
  ~stand_ins() {
    if (twilio)
      twilio->stop();
    model->stop();
    work.reset();
    io.stop();
    thread.join();
  }
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  std::unique_ptr<switchboard::sim::realtime_model_server> model;
  std::unique_ptr<switchboard::sim::twilio_rest_server> twilio;
  std::thread thread;
};

/// The stream URL a node advertises: a name only (the test routes it to the node's port, as an
/// ingress with a route per node would).
std::string stream_url_of(const std::string& name) {
  return "wss://" + name + ".placement.test/media-stream";
}

class node_process {
 public:
  node_process(std::string name, unsigned max_calls, const std::filesystem::path& dir,
               const stand_ins& sims, const std::vector<std::string>& extra)
      : name_(std::move(name)) {
    auto options = serve_options(dir, name_);
    options.environment.insert(
        options.environment.end(),
        {"NODE_STREAM_URL=" + stream_url_of(name_), "MAX_CALLS=" + std::to_string(max_calls),
         std::string("FULL_MESSAGE=") + full_message, "CLUSTER_PORT=0", "CLUSTER_INSECURE=true",
         std::string("API_TOKEN=") + api_token, "OPENAI_API_KEY=sk-placement",
         "OPENAI_REALTIME_URL=" + sims.model->url() + "?model=gpt-realtime", "MAX_LOOP_LAG_MS=0",
         "RECORDINGS_DIR=" + (dir / name_).string(), "LOG_LEVEL=info"});
    options.environment.insert(options.environment.end(), extra.begin(), extra.end());
    auto spawned = server_process::spawn(options);
    if (!spawned)
      FAIL("cannot start node " << name_ << ": " << spawned.error());
    process_ = std::move(*spawned);
    auto port = process_->wait_for_port(30s);
    if (!port)
      FAIL("node " << name_ << ": " << port.error());
    port_ = *port;
    for (const auto& row : cluster_rows()) {
      if (row.at("self").as_bool())
        address_ = std::string(row.at("address").as_string());
    }
    REQUIRE_FALSE(address_.empty());
  }

  std::vector<boost::json::object> cluster_rows() const {
    std::vector<boost::json::object> rows;
    const auto view = http(port_, "GET", "/cluster").json();
    if (!view.is_object())
      return rows;
    for (const auto& row : view.at("nodes").as_array())
      rows.push_back(row.as_object());
    return rows;
  }
  /// This node's row for `name`, when it sees that node ready.
  std::optional<boost::json::object> ready_row(const std::string& name) const {
    for (auto& row : cluster_rows()) {
      if (row.at("name") == name.c_str() && row.at("state") == "ready")
        return row;
    }
    return std::nullopt;
  }
  bool sees_ready(const std::vector<std::string>& names) const {
    return std::all_of(names.begin(), names.end(),
                       [&](const std::string& name) { return ready_row(name).has_value(); });
  }

  /// An (unsigned) voice webhook for `call_sid`: the TwiML answered.
  std::string webhook(const std::string& call_sid) const {
    const auto answer = http(port_, "POST", "/incoming-call", "application/x-www-form-urlencoded",
                             "CallSid=" + call_sid + "&From=%2B15005550006&To=%2B15005550001");
    REQUIRE(answer.status == 200);
    return answer.body;
  }
  double metric(const std::string& series) const {
    const auto text = http(port_, "GET", "/metrics").body;
    const auto at = text.find(series + " ");
    if (at == std::string::npos)
      return -1;
    return std::stod(text.substr(at + series.size() + 1));
  }

  const std::string& name() const { return name_; }
  std::uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }

 private:
  std::string name_;
  std::unique_ptr<server_process> process_;
  std::uint16_t port_ = 0;
  std::string address_;
};

std::string sid(int n) {
  std::string digits = std::to_string(n);
  return "CA" + std::string(32 - digits.size(), '0') + digits;
}

/// Where a webhook's TwiML sends the call: the stream URL, or "full" for FULL_MESSAGE.
std::string placed_at(const std::string& twiml) {
  if (auto stream = switchboard::net::parse_connect_stream_twiml(twiml))
    return stream->url;
  const auto said = switchboard::net::parse_say_and_hang_up_twiml(twiml);
  REQUIRE(said);
  CHECK(*said == full_message);
  return "full";
}

}  // namespace

TEST_CASE("placement follows load and skips a full node and a full cluster answers FULL_MESSAGE",
          "[placement_processes]") {
  switchboard::testing::temporary_directory dir;
  stand_ins sims;
  const std::vector<std::string> unsigned_twilio{"ALLOW_UNSIGNED_TWILIO=true"};
  node_process a("node-a", 3, dir.path(), sims, unsigned_twilio);
  auto with_seed = unsigned_twilio;
  with_seed.push_back("CLUSTER_SEEDS=" + a.address());
  node_process b("node-b", 3, dir.path(), sims, with_seed);
  node_process c("node-c", 1, dir.path(), sims, with_seed);
  REQUIRE(eventually([&] { return a.sees_ready({"node-a", "node-b", "node-c"}); }));

  // Load that a did not place: c's one place, and one of b's three, promised by their own
  // webhooks. Each node keeps a call that lands on it while it is the least loaded or tied.
  CHECK(placed_at(c.webhook(sid(1))) == stream_url_of("node-c"));
  CHECK(placed_at(b.webhook(sid(2))) == stream_url_of("node-b"));
  // Placement reads the load from the heartbeats, promised places included.
  REQUIRE(eventually([&] {
    const auto b_row = a.ready_row("node-b");
    const auto c_row = a.ready_row("node-c");
    return b_row && c_row && b_row->at("promised_calls") == 1 && c_row->at("promised_calls") == 1;
  }));

  // Five calls at a: c is full and never chosen; a (0 of 3) and b (1 of 3) share the rest by
  // load: a, a (a tie goes to the node that answers), b, a, b.
  std::map<std::string, int> where;
  for (int n = 0; n < 5; ++n)
    ++where[placed_at(a.webhook(sid(10 + n)))];
  CHECK(where ==
        std::map<std::string, int>{{stream_url_of("node-a"), 3}, {stream_url_of("node-b"), 2}});
  // Each place was counted on the node that got it: b holds 3 (its own and a's two).
  REQUIRE(eventually([&] {
    const auto b_row = c.ready_row("node-b");
    return b_row && b_row->at("promised_calls") == 3;
  }));

  // Every node is full: the polite TwiML at once, from any node, counted.
  CHECK(placed_at(a.webhook(sid(20))) == "full");
  CHECK(placed_at(b.webhook(sid(21))) == "full");
  CHECK(placed_at(c.webhook(sid(22))) == "full");
  CHECK(a.metric(R"(switchboard_calls_placed_total{node="node-a",where="local"})") == 3);
  CHECK(a.metric(R"(switchboard_calls_placed_total{node="node-a",where="peer"})") == 2);
  CHECK(a.metric(R"(switchboard_calls_placed_total{node="node-a",where="refused_full"})") == 1);
  CHECK(b.metric(R"(switchboard_calls_placed_total{node="node-b",where="refused_full"})") == 1);
  // A webhook Twilio repeats for a call already placed keeps its place (no second one).
  CHECK(placed_at(b.webhook(sid(2))) == stream_url_of("node-b"));
}

TEST_CASE(
    "POST /calls on a full node streams to a peer with the dial's prompt and voice and "
    "metadata and the cluster keeps one CALLS_PER_MINUTE",
    "[placement_processes]") {
  switchboard::testing::temporary_directory dir;
  stand_ins sims;
  constexpr const char* account_sid = "AC0123456789abcdef0123456789abcdef";
  constexpr const char* auth_token = "placement-twilio-secret";
  switchboard::sim::twilio_rest_server_options rest;
  rest.account_sid = account_sid;
  rest.auth_token = auth_token;
  // The first callee never answers (its call holds a's one place); the second answers and
  // stays on the line until the test lets it go.
  std::promise<void> release;
  switchboard::sim::callee_behaviour ringing;
  ringing.outcome = switchboard::sim::callee_outcome::no_answer;
  ringing.ring_time = 5min;
  rest.callee_by_number["+14155550101"] = ringing;
  switchboard::sim::callee_behaviour answering;
  answering.script = {switchboard::sim::hold_until(release.get_future().share(), {}, 120s)};
  rest.callee_by_number["+14155550102"] = answering;
  auto twilio = switchboard::sim::twilio_rest_server::start(sims.io, rest);
  REQUIRE(twilio.has_value());
  sims.twilio = std::move(*twilio);

  const std::vector<std::string> dialling{
      std::string("TWILIO_ACCOUNT_SID=") + account_sid,
      std::string("TWILIO_AUTH_TOKEN=") + auth_token, "TWILIO_PHONE_NUMBER=+15005550006",
      "TWILIO_API_BASE=" + sims.twilio->base_url(), "ALLOWED_DESTINATIONS=+1415",
      // Two dials a minute for the whole cluster, kept by one node.
      "CALLS_PER_MINUTE=2",
      // Status callbacks go to PUBLIC_URL/call-status: a closed local port answers at once.
      "PUBLIC_URL=http://127.0.0.1:9"};
  node_process a("node-a", 1, dir.path(), sims, dialling);
  auto with_seed = dialling;
  with_seed.push_back("CLUSTER_SEEDS=" + a.address());
  node_process b("node-b", 4, dir.path(), sims, with_seed);
  REQUIRE(eventually([&] { return a.sees_ready({"node-a", "node-b"}); }));
  // Only b's calls are answered: every stream the stand-in opens goes to b's port.
  sims.twilio->set_stream_connect_address("127.0.0.1:" + std::to_string(b.port()));

  // a's one place: a ringing call placed on a (a tie goes to the node that answers).
  const auto first =
      http(a.port(), "POST", "/calls", "application/json", R"({"to":"+14155550101"})");
  INFO(first.body);
  REQUIRE(first.status == 201);
  CHECK(a.metric(R"(switchboard_calls_placed_total{node="node-a",where="local"})") == 1);

  const std::string instructions = "You confirm delivery slot 7 & nothing else, <politely>.";
  const auto second = http(a.port(), "POST", "/calls", "application/json",
                           R"({"to":"+14155550102","instructions":")" + instructions +
                               R"(","voice":"cedar","metadata":{"order":42}})");
  INFO(second.body);
  REQUIRE(second.status == 201);
  CHECK(a.metric(R"(switchboard_calls_placed_total{node="node-a",where="peer"})") == 1);
  const auto call_sid = std::string(second.json().at("call_sid").as_string());

  // The TwiML Twilio was given names b's stream and carries the overrides.
  const auto created = sims.twilio->call(call_sid);
  REQUIRE(created);
  // The call runs on b, with the dial's own prompt and voice.
  REQUIRE(eventually([&] {
    const auto stats = sims.model->stats();
    return stats.last_session && stats.last_session->instructions == instructions;
  }));
  CHECK(sims.model->stats().last_session->voice == "cedar");
  REQUIRE(eventually([&] {
    const auto calls = http(a.port(), "GET", "/calls").json();
    if (!calls.is_object())
      return false;
    for (const auto& call : calls.at("calls").as_array()) {
      if (call.at("call_sid") == call_sid.c_str())
        return call.at("node") == "node-b";
    }
    return false;
  }));
  // The cluster's two dials this minute are spent: a third, on b, is refused, and its place
  // on b given back.
  const auto third =
      http(b.port(), "POST", "/calls", "application/json", R"({"to":"+14155550103"})");
  INFO(third.body);
  CHECK(third.status == 429);
  CHECK(third.body.find("for the whole cluster") != std::string::npos);
  CHECK(sims.twilio->calls().size() == 2);
  release.set_value();
  auto finished = sims.twilio->when_finished(call_sid);
  REQUIRE(finished.wait_for(60s) == std::future_status::ready);
  const auto record = finished.get();
  REQUIRE(record.streams.size() == 1);
  INFO(record.streams[0].error);
  CHECK(record.streams[0].ok());
  CHECK(record.streams[0].stream_url == stream_url_of("node-b"));
}
