// One view of every call (README "Cluster"), with `switchboard serve` nodes as real child
// processes on loopback, the Twilio caller and the model stand-ins of sim/ in this process.
// Calls land on each node; every node lists them all with their node; one node shows, says
// to and hangs up a call another node holds, and the call ends there; a node that joins later
// learns the calls already running; a SIGKILLed node's calls go to the survivors' recent list
// as "node lost"; a call token is claimed at the node that issued it, so it opens one stream
// in the whole cluster. Each event is waited on by polling the API with a bounded deadline.
#include "cluster/process_support.hpp"
#include "net/twiml.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/server_process.hpp"
#include "sim/twilio_caller.hpp"
#include "support/temporary_directory.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using switchboard::sim::server_process;

namespace {

constexpr const char* api_token = "cluster-calls-token";
constexpr const char* auth_token = "cluster-calls-twilio-secret";

using switchboard::testing::cluster::eventually;
using switchboard::testing::cluster::executable;
using switchboard::testing::cluster::http_answer;
using switchboard::testing::cluster::http_request;
using switchboard::testing::cluster::serve_options;

std::optional<http_answer> http(std::uint16_t port, const std::string& method,
                                const std::string& path, const std::string& body = {}) {
  return http_request(port, method, path, api_token, "application/json", body);
}

/// The model stand-in and the Twilio callers, on one io thread of this process.
struct stand_ins {
  stand_ins() {
    switchboard::sim::model_options options;
    options.expected_api_key = "sk-cluster";
    auto started = switchboard::sim::realtime_model_server::start(io, options);
    REQUIRE(started.has_value());
    model = std::move(*started);
    thread = std::thread([this] { io.run(); });
  }
  ~stand_ins() {
    model->stop();
    work.reset();
    io.stop();
    thread.join();
  }
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  std::unique_ptr<switchboard::sim::realtime_model_server> model;
  std::thread thread;
};

/// One `switchboard serve` child with a cluster port, Twilio signatures and call tokens checked.
class node_process {
 public:
  node_process(std::string name, const std::vector<std::string>& seeds,
               const std::filesystem::path& dir, const std::string& model_url)
      : name_(std::move(name)) {
    std::string seed_list;
    for (const auto& seed : seeds)
      seed_list += (seed_list.empty() ? "" : ",") + seed;
    auto options = serve_options(dir, name_);
    options.environment.insert(
        options.environment.end(),
        {"CLUSTER_PORT=0", "CLUSTER_INSECURE=true", "CLUSTER_SEEDS=" + seed_list,
         std::string("API_TOKEN=") + api_token, std::string("TWILIO_AUTH_TOKEN=") + auth_token,
         "OPENAI_API_KEY=sk-cluster", "OPENAI_REALTIME_URL=" + model_url + "?model=gpt-realtime",
         "MAX_LOOP_LAG_MS=0", "RECORDINGS_DIR=" + (dir / name_).string(), "LOG_LEVEL=info"});
    auto spawned = server_process::spawn(options);
    if (!spawned)
      FAIL("cannot start node " << name_ << ": " << spawned.error());
    process_ = std::move(*spawned);
    auto port = process_->wait_for_port(30s);
    if (!port)
      FAIL("node " << name_ << ": " << port.error());
    port_ = *port;
    const auto view = get("/cluster").json();
    REQUIRE(view.is_object());
    for (const auto& row : view.at("nodes").as_array()) {
      if (row.at("self").as_bool())
        address_ = std::string(row.at("address").as_string());
    }
    REQUIRE_FALSE(address_.empty());
  }

  http_answer get(const std::string& path) const {
    return http(port_, "GET", path).value_or(http_answer{});
  }
  http_answer post(const std::string& path, const std::string& body = "{}") const {
    return http(port_, "POST", path, body).value_or(http_answer{});
  }

  /// Ready, and seeing every one of `names` ready.
  bool sees_ready(const std::vector<std::string>& names) const {
    const auto view = get("/cluster").json();
    if (!view.is_object())
      return false;
    std::size_t ready = 0;
    for (const auto& name : names) {
      for (const auto& row : view.at("nodes").as_array()) {
        if (row.at("name") == name.c_str() && row.at("state") == "ready")
          ++ready;
      }
    }
    return ready == names.size();
  }

  /// The call `sid` in this node's GET /calls, from its "calls" (live) or "recent" list.
  std::optional<boost::json::object> listed(const std::string& sid,
                                            const char* list = "calls") const {
    const auto calls = get("/calls").json();
    if (!calls.is_object())
      return std::nullopt;
    for (const auto& call : calls.at(list).as_array()) {
      if (call.at("call_sid") == sid.c_str())
        return call.as_object();
    }
    return std::nullopt;
  }

  switchboard::sim::twilio_caller_options caller(std::shared_future<void> released) const {
    switchboard::sim::twilio_caller_options call;
    call.webhook_url = "http://127.0.0.1:" + std::to_string(port_) + "/incoming-call";
    call.auth_token = auth_token;
    call.stream_connect_address = "127.0.0.1:" + std::to_string(port_);
    call.keep_heard_audio = false;
    call.script = {switchboard::sim::hold_until(std::move(released), {}, 300s)};
    return call;
  }

  const std::string& name() const { return name_; }
  std::uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }
  void kill() const { ::kill(process_->pid(), SIGKILL); }
  void signal(int number) const { ::kill(process_->pid(), number); }
  int terminate() { return process_->terminate(); }

 private:
  std::string name_;
  std::unique_ptr<server_process> process_;
  std::uint16_t port_ = 0;
  std::string address_;
};

/// A held call: its future result and the promise that lets it hang up.
struct held_call {
  std::promise<void> release;
  std::future<switchboard::sim::twilio_call_result> result;
  std::string sid;
};

std::unique_ptr<held_call> hold_call(stand_ins& sims, switchboard::sim::twilio_caller_options call,
                                     const std::string& sid) {
  auto held = std::make_unique<held_call>();
  held->sid = sid;
  call.call_sid = sid;
  call.script = {switchboard::sim::hold_until(held->release.get_future().share(), {}, 300s)};
  held->result = switchboard::sim::twilio_caller::run(sims.io, std::move(call));
  return held;
}

std::string sid_of(char node, int n) {
  // CA + 32 hex digits, like Twilio's.
  std::string sid = "CA" + std::string(31, '0') + std::to_string(n);
  sid[2] = node == 'a' ? 'a' : node == 'b' ? 'b' : 'c';
  return sid;
}

}  // namespace

TEST_CASE(
    "every node lists every call of the cluster with its node, and steers a call held by "
    "another node",
    "[cluster_calls]") {
  stand_ins sims;
  switchboard::testing::temporary_directory dir;
  const auto model_url = sims.model->url();
  node_process a{"node-a", {}, dir.path(), model_url};
  node_process b{"node-b", {a.address()}, dir.path(), model_url};
  node_process c{"node-c", {b.address()}, dir.path(), model_url};
  const std::vector<std::string> names{"node-a", "node-b", "node-c"};
  REQUIRE(eventually(
      [&] { return a.sees_ready(names) && b.sees_ready(names) && c.sees_ready(names); }));

  const std::vector<const node_process*> nodes{&a, &b, &c};
  std::vector<std::unique_ptr<held_call>> calls;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    calls.push_back(hold_call(sims, nodes[i]->caller({}), sid_of("abc"[i], 1)));
  }
  // Every node lists the three calls, each with the node it runs on.
  for (const auto* node : nodes) {
    INFO("listed by " << node->name());
    CHECK(eventually([&] {
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        const auto call = node->listed(calls[i]->sid);
        if (!call || call->at("node") != nodes[i]->name().c_str() || call->at("state") != "live")
          return false;
      }
      return true;
    }));
  }

  // a shows c's call, with its transcript so far, from c.
  const auto c_sid = calls[2]->sid;
  const auto shown = a.get("/calls/" + c_sid);
  CHECK(shown.status == 200);
  const auto shown_call = shown.json();
  REQUIRE(shown_call.is_object());
  CHECK(shown_call.at("node") == "node-c");
  CHECK(shown_call.at("call_sid") == c_sid.c_str());
  CHECK(shown_call.at("from") == "+15005550006");
  CHECK(shown_call.at("transcript").is_array());

  // a makes c's agent say something, then hangs the call up: it ends on c.
  CHECK(a.post("/calls/" + c_sid + "/say", R"({"text":"Hello from another node."})").status == 202);
  const auto hung_up = a.post("/calls/" + c_sid + "/hangup");
  CHECK(hung_up.status == 202);
  REQUIRE(calls[2]->result.wait_for(60s) == std::future_status::ready);
  const auto ended = calls[2]->result.get();
  CHECK(ended.server_closed_first);
  CHECK(eventually([&] {
    const auto call = c.listed(c_sid, "recent");
    return call && call->at("end_reason") == "hung up through the API";
  }));
  // And every node sees it ended, with the reason its node gave.
  CHECK(eventually([&] {
    const auto call = b.listed(c_sid, "recent");
    return call && call->at("ended_because") == "hung up through the API" &&
           call->at("node") == "node-c";
  }));
  // b serves c's recordings, read from c's disk by message a chunk at a time.
  std::filesystem::path c_directory;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path() / "node-c")) {
    if (entry.is_directory() && entry.path().filename() == c_sid)
      c_directory = entry.path();
  }
  REQUIRE_FALSE(c_directory.empty());
  for (const char* file : {"stereo.wav", "caller.wav", "call.json"}) {
    INFO(file);
    const auto served = b.get("/calls/" + c_sid + "/recordings/" + file);
    CHECK(served.status == 200);
    CHECK(served.body == switchboard::testing::read_text(c_directory / file));
  }
  CHECK(b.get("/calls/" + c_sid + "/recordings/nothing.wav").status == 404);
  // A live call's recordings are not complete yet, wherever it runs.
  CHECK(b.get("/calls/" + calls[0]->sid + "/recordings/caller.wav").status == 409);
  CHECK_FALSE(a.listed(c_sid));
  // A call that has ended is not steered; one that never was is unknown.
  CHECK(a.post("/calls/" + c_sid + "/hangup").status == 409);
  CHECK(a.post("/calls/CA00000000000000000000000000000000/hangup").status == 404);

  for (auto& call : calls)
    call->release.set_value();
  for (auto& call : calls) {
    if (call->result.valid())  // c's was read above
      CHECK(call->result.wait_for(60s) == std::future_status::ready);
  }
  CHECK(a.terminate() == 0);
  CHECK(b.terminate() == 0);
  CHECK(c.terminate() == 0);
}

TEST_CASE(
    "a node that joins later learns the running calls, and a SIGKILLed node's calls end as "
    "node lost on the survivors",
    "[cluster_calls]") {
  stand_ins sims;
  switchboard::testing::temporary_directory dir;
  const auto model_url = sims.model->url();
  node_process a{"node-a", {}, dir.path(), model_url};
  auto early = hold_call(sims, a.caller({}), sid_of('a', 2));
  REQUIRE(eventually([&] { return a.listed(early->sid).has_value(); }));

  // b joins after a's call started: a's snapshot on link-up tells it.
  node_process b{"node-b", {a.address()}, dir.path(), model_url};
  REQUIRE(eventually([&] { return a.sees_ready({"node-b"}) && b.sees_ready({"node-a"}); }));
  CHECK(eventually([&] {
    const auto call = b.listed(early->sid);
    return call && call->at("node") == "node-a";
  }));

  auto doomed = hold_call(sims, b.caller({}), sid_of('b', 2));
  REQUIRE(eventually([&] {
    const auto call = a.listed(doomed->sid);
    return call && call->at("node") == "node-b";
  }));
  b.kill();
  CHECK(eventually([&] {
    const auto call = a.listed(doomed->sid, "recent");
    return call && call->at("ended_because") == "node lost" && call->at("node") == "node-b" &&
           call->at("state") == "ended";
  }));
  CHECK_FALSE(a.listed(doomed->sid));
  CHECK(a.listed(early->sid).has_value());  // a's own call goes on
  // Asking about a call whose node is gone answers from what is known, without a hang.
  CHECK(a.get("/calls/" + doomed->sid).status == 200);
  CHECK(a.post("/calls/" + doomed->sid + "/hangup").status == 409);

  early->release.set_value();
  doomed->release.set_value();
  CHECK(early->result.wait_for(60s) == std::future_status::ready);
  CHECK(doomed->result.wait_for(60s) == std::future_status::ready);
  b.terminate();
}

TEST_CASE("a call on a node that does not answer gets a clear 502 or 504 and never a hung request",
          "[cluster_calls]") {
  stand_ins sims;
  switchboard::testing::temporary_directory dir;
  const auto model_url = sims.model->url();
  node_process a{"node-a", {}, dir.path(), model_url};
  node_process b{"node-b", {a.address()}, dir.path(), model_url};
  REQUIRE(eventually([&] { return a.sees_ready({"node-b"}) && b.sees_ready({"node-a"}); }));
  auto frozen = hold_call(sims, b.caller({}), sid_of('b', 4));
  REQUIRE(eventually([&] { return a.listed(frozen->sid).has_value(); }));
  b.signal(SIGSTOP);
  // Still listed (its link has not timed out yet): a's question goes to b, which cannot answer.
  // The request's own timeout (or the link closing first) answers it; once a has marked b down
  // the call is a lost one, shown from what a knows.
  const auto shown = a.get("/calls/" + frozen->sid);
  INFO(shown.body);
  CHECK((shown.status == 504 || shown.status == 502 || shown.status == 200));
  if (shown.status != 200)
    CHECK(shown.json().at("error").is_string());
  const auto hung_up = a.post("/calls/" + frozen->sid + "/hangup");
  INFO(hung_up.body);
  CHECK((hung_up.status == 504 || hung_up.status == 502 || hung_up.status == 409));
  b.signal(SIGCONT);
  frozen->release.set_value();
  CHECK(frozen->result.wait_for(60s) == std::future_status::ready);
  b.terminate();
}

TEST_CASE("a call token opens one stream in the whole cluster: claimed at the node that issued it",
          "[cluster_calls]") {
  stand_ins sims;
  switchboard::testing::temporary_directory dir;
  const auto model_url = sims.model->url();
  node_process a{"node-a", {}, dir.path(), model_url};
  node_process b{"node-b", {a.address()}, dir.path(), model_url};
  node_process c{"node-c", {a.address()}, dir.path(), model_url};
  const std::vector<std::string> names{"node-a", "node-b", "node-c"};
  REQUIRE(eventually(
      [&] { return a.sees_ready(names) && b.sees_ready(names) && c.sees_ready(names); }));

  // a answers the webhook (and issues the token); the stream lands on b, which claims the
  // token at a and takes the call.
  auto first_call = a.caller({});
  first_call.stream_connect_address = "127.0.0.1:" + std::to_string(b.port());
  auto first = hold_call(sims, first_call, sid_of('a', 3));
  REQUIRE(eventually([&] {
    const auto call = a.listed(first->sid);
    return call && call->at("node") == "node-b";
  }));

  // The same TwiML replayed (a captured token) on c, and on a itself: both refused.
  const auto replay = [&](const node_process& target) {
    switchboard::sim::twilio_caller_options call;
    call.webhook_url = "http://127.0.0.1:" + std::to_string(a.port()) + "/incoming-call";
    call.auth_token = auth_token;
    call.stream_connect_address = "127.0.0.1:" + std::to_string(target.port());
    call.call_sid = first->sid;
    call.keep_heard_audio = false;
    std::promise<void> never;
    call.script = {switchboard::sim::hold_until(never.get_future().share(), {}, 30s)};
    return call;
  };
  // The first call's TwiML as a's webhook wrote it (the caller stand-in keeps the stream's URL
  // and parameters): the token in it is the one b claimed.
  first->release.set_value();
  auto first_result = first->result.get();
  REQUIRE(first_result.upgrade_status == 101);
  REQUIRE(eventually([&] { return a.listed(first->sid, "recent").has_value(); }));
  const auto twiml = switchboard::net::connect_stream_twiml(first_result.stream_url,
                                                            first_result.stream_parameters);
  for (const auto* target : {&c, &a}) {
    INFO("replayed on " << target->name());
    auto call = replay(*target);
    call.twiml = twiml;
    auto result = switchboard::sim::twilio_caller::run(sims.io, std::move(call)).get();
    CHECK(result.upgrade_status == 101);
    CHECK(result.server_closed_first);
    CHECK(result.close_code == 1008);  // policy violation: call token refused
    CHECK_FALSE(a.listed(first->sid));
    CHECK_FALSE(target->listed(first->sid));
  }
  // SIGTERM drains: a exits 0 only when nothing holds a place on it. The place its webhook
  // promised the first call was freed when b claimed the token (not 30 s later, past the grace).
  CHECK(a.terminate() == 0);
  CHECK(b.terminate() == 0);
  CHECK(c.terminate() == 0);
}
