// A rolling update behind NGINX (issue 12 §4, README "Drain"): three `switchboard serve`
// processes in one cluster, NGINX in front as a Kubernetes ingress would be (TLS, WebSocket
// upgrade, `/` to the ready nodes, a route per node for NODE_STREAM_URL; nginx_ingress.hpp),
// the Twilio REST stand-in placing and steering the calls through it, the model stand-in.
// Calls are placed with POST /calls through the ingress and held on the line (hold steps the
// test releases, not timers); then each node in turn leaves the ingress's Service, gets
// SIGTERM, hands its live calls over at DRAIN_TIMEOUT, exits 0, and a new process with the
// same NODE_NAME (and recordings volume) takes its place, ready and in the mesh before the
// next node goes. Then the calls go on to their scripted end.
//
// Every wait is on a future, a reaped process or polled state with a bound for a broken test
// only. Gaps are reported, never asserted. The hidden [.rolling_update_bench] case runs the
// same scenario with more calls and prints the figures of bench/README.md (bench/rolling_update).
#include "cluster/nginx_ingress.hpp"
#include "cluster/process_support.hpp"
#include "net/http_client.hpp"
#include "net/tls.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/self_signed_ca.hpp"
#include "sim/server_process.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_rest_server.hpp"
#include "support/temporary_directory.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace sim = switchboard::sim;
namespace net = switchboard::net;
using switchboard::testing::cluster::eventually;
using switchboard::testing::cluster::executable;
using switchboard::testing::cluster::http_request;
using switchboard::testing::cluster::ingress_routes;
using switchboard::testing::cluster::nginx_ingress;

namespace {

constexpr const char* api_token = "rolling-update-token";
constexpr const char* account_sid = "AC0123456789abcdef0123456789abcdef";
constexpr const char* auth_token = "rolling-update-auth-token";
constexpr const char* callee = "+14155550102";
constexpr const char* handed_over_line = "handed over: Twilio streams it to the peer";
const std::vector<std::string> node_names{"node-a", "node-b", "node-c"};

bool exited_zero(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// The stand-ins (model, Twilio REST) and this process's HTTPS client, on one io thread.
class simulation {
 public:
  simulation(const std::filesystem::path& certificates, sim::callee_behaviour answering) {
    auto files = sim::write_self_signed_ca(certificates);
    REQUIRE(files.has_value());
    files_ = *files;
    // OpenSSL's default store honours SSL_CERT_FILE when a client context is made: the
    // stand-in (streams, callbacks) and the test trust the ingress's certificate.
    ::setenv("SSL_CERT_FILE", files_.ca_certificate.c_str(), 1);
    auto tls = net::tls_context::client();
    ::unsetenv("SSL_CERT_FILE");
    REQUIRE(tls.has_value());
    tls_ = *tls;
    thread_ = std::thread([this] { io_.run(); });

    sim::model_options model;
    model.expected_api_key = "sk-rolling";
    auto started = sim::realtime_model_server::start(io_, model);
    REQUIRE(started.has_value());
    model_ = std::move(*started);

    sim::twilio_rest_server_options rest;
    rest.account_sid = account_sid;
    rest.auth_token = auth_token;
    rest.tls = tls_;  // streams to the wss:// stream URLs, callbacks to https://: the ingress
    rest.callee_by_number[callee] = std::move(answering);
    auto twilio = sim::twilio_rest_server::start(io_, std::move(rest));
    REQUIRE(twilio.has_value());
    twilio_ = std::move(*twilio);
  }
  ~simulation() {
    twilio_->stop();
    model_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  sim::realtime_model_server& model() { return *model_; }
  sim::twilio_rest_server& twilio() { return *twilio_; }
  const sim::self_signed_ca_files& certificates() const { return files_; }

  /// One HTTPS request (through the ingress); nullopt when nothing answered.
  std::optional<net::http_client_response> https(const std::string& method, const std::string& url,
                                                 const std::string& json_body = {}) {
    net::http_client_request request;
    request.method = method;
    request.url = url;
    request.tls = tls_;
    request.headers = {{"Authorization", std::string("Bearer ") + api_token}};
    if (!json_body.empty())
      request.headers.emplace_back("Content-Type", "application/json");
    request.body = json_body;
    std::promise<net::http_client_result> answered;
    auto answer = answered.get_future();
    net::http_request_async(io_, std::move(request),
                            [&](net::http_client_result result) { answered.set_value(result); });
    auto result = answer.get();
    if (!result)
      return std::nullopt;
    return *result;
  }
  /// The body of a GET through the ingress, "" when nothing answered (nginx_ingress's probe).
  std::string body_of(const std::string& url) {
    const auto answer = https("GET", url);
    return answer && answer->status == 200 ? answer->body : std::string();
  }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  std::thread thread_;
  sim::self_signed_ca_files files_;
  std::shared_ptr<net::tls_context> tls_;
  std::unique_ptr<sim::realtime_model_server> model_;
  std::unique_ptr<sim::twilio_rest_server> twilio_;
};

/// One `switchboard serve` process of the cluster. Its recordings directory is its name's (a
/// StatefulSet pod's volume): the process that replaces it writes to the same one.
class rolling_node {
 public:
  rolling_node(simulation& sim, const nginx_ingress& ingress, const std::string& name,
               const std::filesystem::path& dir, const std::string& seed,
               std::chrono::seconds drain_timeout)
      : name_(name),
        drain_timeout_(drain_timeout),
        handovers_(std::make_shared<std::atomic<int>>(0)) {
    sim::server_process_options options;
    options.executable = executable();
    options.arguments = {"serve"};
    options.working_directory = dir;
    // clang-format off: one setting a line
    options.environment = {
        "PORT=0", "BIND_ADDRESS=127.0.0.1", "IO_THREADS=1", "NODE_NAME=" + name,
        "NODE_STREAM_URL=" + ingress.stream_url(name),  // its own route on the ingress
        "PUBLIC_URL=" + ingress.base_url(),             // status callbacks come through the ingress
        "CLUSTER_PORT=0", "CLUSTER_INSECURE=true", std::string("API_TOKEN=") + api_token,
        std::string("TWILIO_ACCOUNT_SID=") + account_sid,  // credentials: hand-overs possible
        std::string("TWILIO_AUTH_TOKEN=") + auth_token, "TWILIO_PHONE_NUMBER=+15005550006",
        "TWILIO_API_BASE=" + sim.twilio().base_url(), "ALLOWED_DESTINATIONS=+1415",
        "CALLS_PER_MINUTE=10000",  // the default brake (10) is below the bench's call count
        "OPENAI_API_KEY=sk-rolling",
        "OPENAI_REALTIME_URL=" + sim.model().url() + "?model=gpt-realtime", "MAX_LOOP_LAG_MS=0",
        // The test's is short: live calls are handed over, not waited for.
        "DRAIN_TIMEOUT=" + std::to_string(drain_timeout.count()),
        "RECORDINGS_DIR=" + (dir / name).string(),  // the successor's volume too
        "LOG_LEVEL=info"};
    // clang-format on
    if (!seed.empty())
      options.environment.push_back("CLUSTER_SEEDS=" + seed);
    // The hand-over counter is logged where it is counted; a scrape could miss the last count
    // of a node about to exit.
    options.on_log_line = [handovers = handovers_](std::string_view line) {
      if (line.find(handed_over_line) != std::string_view::npos)
        ++*handovers;
    };
    auto spawned = sim::server_process::spawn(options);
    if (!spawned)
      FAIL("cannot start " << name << ": " << spawned.error());
    process_ = std::move(*spawned);
    const auto port = process_->wait_for_port(30s);
    if (!port)
      FAIL(name << ": " << port.error());
    port_ = *port;
  }

  const std::string& name() const { return name_; }
  std::uint16_t port() const { return port_; }
  int handovers() const { return *handovers_; }
  void signal(int number) const { ::kill(process_->pid(), number); }
  int exit_status() {
    const auto status = process_->wait_for_exit(drain_timeout_ + 120s);
    REQUIRE(status.has_value());
    return *status;
  }

  /// The live rows (not down) of its GET /cluster: name → state; this node's cluster address.
  std::map<std::string, std::string> live_rows(std::string* own_address = nullptr) const {
    std::map<std::string, std::string> rows;
    const auto view = http_request(port_, "GET", "/cluster", api_token);
    if (!view || view->status != 200)
      return rows;
    const auto parsed = view->json();
    if (!parsed.is_object())
      return rows;
    for (const auto& row : parsed.at("nodes").as_array()) {
      const std::string state(row.at("state").as_string());
      if (row.at("self").as_bool() && own_address != nullptr)
        *own_address = std::string(row.at("address").as_string());
      if (state != "down")
        rows[std::string(row.at("name").as_string())] = state;
    }
    return rows;
  }
  std::string cluster_address() const {
    std::string address;
    live_rows(&address);
    return address;
  }

  /// Its GET /calls "recent" list: each ended call's sid with its end reasons (one, when the
  /// node shows every call once).
  std::map<std::string, std::vector<std::string>> recent_end_reasons() const {
    std::map<std::string, std::vector<std::string>> reasons;
    const auto listed = http_request(port_, "GET", "/calls", api_token);
    if (!listed || listed->status != 200)
      return reasons;
    const auto parsed = listed->json();
    if (!parsed.is_object() || !parsed.as_object().contains("recent"))
      return reasons;
    for (const auto& call : parsed.at("recent").as_array()) {
      reasons[std::string(call.at("call_sid").as_string())].emplace_back(
          call.at("end_reason").as_string());
    }
    return reasons;
  }

 private:
  std::string name_;
  std::chrono::seconds drain_timeout_;
  std::shared_ptr<std::atomic<int>> handovers_;
  std::unique_ptr<sim::server_process> process_;
  std::uint16_t port_ = 0;
};

/// Every call.json under `dir` (all nodes' recordings), by call SID, ordered by part; each
/// with "test.directory" and "test.volume" added (its directory, the node whose volume holds it).
std::map<std::string, std::vector<boost::json::object>> call_parts(
    const std::filesystem::path& dir) {
  std::map<std::string, std::vector<boost::json::object>> parts;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().filename() != "call.json")
      continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    auto summary = boost::json::parse(text.str()).as_object();
    // Where it was found: the call's directory, and the node (recordings volume) that wrote it.
    summary["test.directory"] = entry.path().parent_path().string();
    summary["test.volume"] = std::filesystem::relative(entry.path(), dir).begin()->string();
    parts[std::string(summary.at("call_sid").as_string())].push_back(std::move(summary));
  }
  const auto part_of = [](const boost::json::object& summary) {
    return summary.contains("part") ? summary.at("part").to_number<int>() : 1;
  };
  for (auto& [sid, list] : parts) {
    std::sort(list.begin(), list.end(),
              [&](const auto& a, const auto& b) { return part_of(a) < part_of(b); });
  }
  return parts;
}

std::int64_t integer(const boost::json::value& value) {
  return value.to_number<std::int64_t>();
}

/// The node a stream URL through the ingress names (".../node/<name>/media-stream").
std::string node_of_stream(const std::string& url) {
  const auto at = url.find("/node/");
  if (at == std::string::npos)
    return {};
  const auto from = at + 6;
  return url.substr(from, url.find('/', from) - from);
}

struct rolling_update_figures {
  std::size_t calls = 0;
  std::size_t calls_placed_during_update = 0;  // one while each node drained
  std::size_t calls_completed = 0;
  std::size_t handovers = 0;
  std::vector<std::int64_t> caller_gaps_ms;     // the stand-in's: end of a stream → first frame
  std::vector<std::int64_t> recording_gaps_ms;  // call.json: next part's offset − end of previous
  std::vector<std::int64_t> call_lengths_s;     // the recording's timeline: last part's end
  std::vector<double> node_replaced_s;          // per node: out of the Service → successor ready
  double update_s = 0;                          // their sum: the whole update
};

/// The whole scenario; checks its invariants (zero drops, whole recordings, counts agree) and
/// returns the figures. Each node drains for `drain_timeout` (DRAIN_TIMEOUT) before it hands its
/// calls over: the calls placed before the update last at least three of them.
rolling_update_figures rolling_update(std::size_t call_count, std::chrono::seconds drain_timeout) {
  switchboard::testing::temporary_directory dir;
  std::promise<void> update_done;
  const auto released = update_done.get_future().share();
  auto holding = std::make_shared<std::atomic<std::size_t>>(0);

  // The callee: a turn with the agent, then on hold until the update is over (its first
  // stream). Each stream a hand-over opens: on hold until then, then another turn and the
  // hang-up. So every call outlives the update, whatever node it is on, with no timer.
  sim::callee_behaviour answering;
  answering.script = {sim::speak(sim::fixture_audio(sim::speech_fixture::caller_request)),
                      sim::wait_for_agent_audio(500ms),
                      sim::hold_until(
                          released, [holding] { ++*holding; }, 600s)};
  answering.script_after_redirect = {
      sim::hold_until(released, nullptr, 600s),
      sim::speak(sim::fixture_audio(sim::speech_fixture::caller_interruption)),
      sim::wait_for_agent_audio(500ms), sim::hangup()};
  std::filesystem::create_directories(dir.path() / "certificates");
  std::filesystem::create_directories(dir.path() / "nginx");
  simulation sim(dir.path() / "certificates", answering);
  const auto probe = [&sim](const std::string& url) {
    return sim.body_of(url);
  };

  // The ingress first (the nodes' URLs name its port), with no node behind it yet.
  nginx_ingress ingress(dir.path() / "nginx", sim.certificates().server_certificate_chain,
                        sim.certificates().server_key, {}, probe);
  std::map<std::string, std::unique_ptr<rolling_node>> nodes;
  std::string seed;
  for (const auto& name : node_names) {
    nodes[name] =
        std::make_unique<rolling_node>(sim, ingress, name, dir.path(), seed, drain_timeout);
    if (seed.empty())
      seed = nodes[name]->cluster_address();
    REQUIRE_FALSE(seed.empty());
  }
  const auto all_routes = [&] {
    ingress_routes routes;
    for (const auto& [name, node] : nodes)
      routes.node_ports[name] = node->port();
    return routes;
  };
  REQUIRE(ingress.reroute(all_routes(), probe));
  const auto mesh_ready = [&] {
    return std::all_of(nodes.begin(), nodes.end(), [&](const auto& entry) {
      const auto rows = entry.second->live_rows();
      return rows.size() == node_names.size() &&
             std::all_of(rows.begin(), rows.end(),
                         [](const auto& row) { return row.second == "ready"; });
    });
  };
  REQUIRE(eventually(mesh_ready));

  // The calls, placed through the ingress (nginx spreads them over the Service).
  std::vector<std::string> call_sids;
  const auto place_call = [&] {
    const auto placed = sim.https("POST", ingress.base_url() + "/calls",
                                  R"({"to":")" + std::string(callee) + "\"}");
    REQUIRE(placed.has_value());
    INFO(placed->body);
    REQUIRE(placed->status == 201);
    call_sids.emplace_back(boost::json::parse(placed->body).as_object().at("call_sid").as_string());
  };
  for (std::size_t i = 0; i < call_count; ++i)
    place_call();
  // Each call has had its turn with the agent and is on hold on its first node.
  REQUIRE(eventually([&] { return holding->load() == call_count; }, 120s));

  // The update: one node at a time, as a StatefulSet's rolling update does.
  using clock = std::chrono::steady_clock;
  int handovers_logged = 0;
  rolling_update_figures figures;
  for (const auto& name : node_names) {
    const auto step_started = clock::now();
    // Out of the Service first (Kubernetes removes a terminating pod's endpoints).
    auto routes = all_routes();
    routes.in_service[name] = false;
    REQUIRE(ingress.reroute(routes, probe));
    nodes[name]->signal(SIGTERM);
    // A call placed while it drains (once its peers know) goes to a ready node and stays up.
    REQUIRE(eventually([&] {
      return std::all_of(nodes.begin(), nodes.end(), [&](const auto& entry) {
        if (entry.first == name)
          return true;
        const auto rows = entry.second->live_rows();
        const auto row = rows.find(name);
        return row == rows.end() || row->second == "draining";
      });
    }));
    place_call();
    CHECK(exited_zero(nodes[name]->exit_status()));
    handovers_logged += nodes[name]->handovers();

    // Its successor: a new process, the same name, seeded with a live peer.
    std::string live_seed;
    for (const auto& [other, node] : nodes) {
      if (other != name)
        live_seed = node->cluster_address();
    }
    REQUIRE_FALSE(live_seed.empty());
    nodes[name].reset();
    nodes[name] =
        std::make_unique<rolling_node>(sim, ingress, name, dir.path(), live_seed, drain_timeout);
    REQUIRE(ingress.reroute(all_routes(), probe));
    REQUIRE(eventually(mesh_ready));
    // Reachable through its own route, as Twilio will reach it.
    REQUIRE(eventually([&] {
      const auto ready = sim.https("GET", ingress.base_url() + "/node/" + name + "/readyz");
      return ready && ready->status == 200;
    }));
    const auto replaced_s = std::chrono::duration<double>(clock::now() - step_started).count();
    figures.node_replaced_s.push_back(replaced_s);
    figures.update_s += replaced_s;
    // The call placed meanwhile is on hold before the next node goes (one that were still in
    // its first turn would be handed over with its script cut short). Not counted in the
    // update's time: a real update does not wait for calls.
    REQUIRE(eventually([&] { return holding->load() == call_sids.size(); }, 120s));
  }
  update_done.set_value();

  // Every call goes on to its scripted end.
  figures.calls = call_sids.size();
  figures.calls_placed_during_update = call_sids.size() - call_count;
  std::vector<sim::outbound_call> finished;
  for (const auto& sid : call_sids) {
    auto call = sim.twilio().when_finished(sid);
    REQUIRE(call.wait_for(120s) == std::future_status::ready);
    finished.push_back(call.get());
  }
  // Every node of the last generation lists every call once, as it ended on its last node, not
  // as an earlier part's "handed over" (a later part's news outrank its earlier part's end).
  if (call_sids.size() <= 50) {  // what GET /calls lists of the ended calls
    for (const auto& [name, node] : nodes) {
      INFO("GET /calls on " << name);
      std::map<std::string, std::vector<std::string>> reasons;
      const bool settled = eventually([&] {
        reasons = node->recent_end_reasons();
        return std::all_of(call_sids.begin(), call_sids.end(), [&](const std::string& sid) {
          const auto found = reasons.find(sid);
          return found != reasons.end() && found->second.size() == 1 &&
                 found->second.front() != "handed over";
        });
      });
      std::ostringstream listed;
      for (const auto& [sid, ends] : reasons) {
        listed << sid << ":";
        for (const auto& end : ends)
          listed << " [" << end << "]";
        listed << "; ";
      }
      INFO("recent: " << listed.str());
      CHECK(settled);
    }
  }
  // The nodes of the last generation end too: their files are on disk once they exit.
  for (auto& [name, node] : nodes) {
    node->signal(SIGTERM);
    CHECK(exited_zero(node->exit_status()));
    handovers_logged += node->handovers();
  }
  const auto recorded = call_parts(dir.path());

  std::size_t call_json_handed_over = 0;
  for (const auto& [sid, parts] : recorded) {
    for (const auto& part : parts)
      call_json_handed_over += part.at("end_reason") == "handed over" ? 1 : 0;
  }
  for (std::size_t index = 0; index < finished.size(); ++index) {
    const auto& call = finished[index];
    INFO("call " << call.sid);
    REQUIRE_FALSE(call.streams.empty());
    // Every node held the calls placed before the update when it was drained: each moved.
    if (index < call_count)
      CHECK(call.streams.size() >= 2);
    const auto& last = call.streams.back();
    INFO("last stream: " << last.error);
    const bool completed = call.status == sim::call_status::completed && last.ok() &&
                           last.script_completed && !last.server_closed_first;
    CHECK(completed);
    figures.calls_completed += completed ? 1 : 0;
    for (const auto& stream : call.streams) {
      INFO(stream.stream_url << ": " << stream.error);
      CHECK(stream.ok());
      CHECK(stream.upgrade_status == 101);
    }
    // Every stream but the last was ended by a hand-over's call update, not by the bridge.
    CHECK(call.stream_gaps.size() + 1 == call.streams.size());
    figures.handovers += call.streams.size() - 1;
    for (const auto gap : call.stream_gaps)
      figures.caller_gaps_ms.push_back(gap.count());

    // The recordings: one part per stream, on the node each stream reached, in one timeline.
    const auto found = recorded.find(call.sid);
    REQUIRE(found != recorded.end());
    const auto& parts = found->second;
    REQUIRE(parts.size() == call.streams.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& part = parts[i];
      const auto node = node_of_stream(call.streams[i].stream_url);
      INFO("part " << i + 1 << " on " << node);
      if (parts.size() > 1) {
        CHECK(integer(part.at("part")) == static_cast<std::int64_t>(i + 1));
        const auto& listed = part.at("parts").as_array();
        REQUIRE(listed.size() == i + 1);
        CHECK(listed.back().at("node") == node.c_str());
      }
      CHECK((part.at("end_reason") == "handed over") == (i + 1 < parts.size()));
      CHECK(part.at("test.volume") == node.c_str());
      // The caller's audio of the part is on disk: every media frame the caller sent on this
      // stream reached the bridge and its recording (160 samples a frame), so the parts together
      // hold the whole call. Silence beyond that pads the track to the part's length (the agent
      // track may be a frame longer: both end aligned).
      const auto& files = part.at("files").as_array();
      CHECK(std::any_of(files.begin(), files.end(),
                        [](const auto& file) { return file.as_string() == "caller.wav"; }));
      const std::filesystem::path call_directory(
          std::string(part.at("test.directory").as_string()));
      CHECK(std::filesystem::file_size(call_directory / "caller.wav") > 44);  // past the header
      const auto media_frames = static_cast<std::int64_t>(call.streams[i].media_frames_sent);
      CHECK(integer(part.at("frames").at("from_twilio")) == media_frames);
      const auto& caller_track = part.at("recordings").at("caller");
      CHECK(caller_track.at("error").is_null());
      CHECK(integer(caller_track.at("samples")) - integer(caller_track.at("silence_samples")) ==
            media_frames * 160);
      if (i > 0) {
        const auto& before = parts[i - 1];
        const auto offset = integer(part.at("part_offset_ms"));
        const auto before_end =
            (i > 1 ? integer(before.at("part_offset_ms")) : 0) + integer(before.at("duration_ms"));
        figures.recording_gaps_ms.push_back(offset - before_end);
      }
    }
    const auto& last_part = parts.back();
    figures.call_lengths_s.push_back(
        ((parts.size() > 1 ? integer(last_part.at("part_offset_ms")) : 0) +
         integer(last_part.at("duration_ms"))) /
        1000);
  }
  CHECK(figures.calls_completed == figures.calls);
  // Three ways to count the hand-overs agree: the stand-in's redirects, the nodes' counter
  // (logged where it is incremented), the parts that ended as handed over.
  CHECK(static_cast<std::size_t>(handovers_logged) == figures.handovers);
  CHECK(call_json_handed_over == figures.handovers);
  return figures;
}

std::string min_p50_max(std::vector<std::int64_t> values) {
  if (values.empty())
    return "none";
  std::sort(values.begin(), values.end());
  return std::to_string(values.front()) + " / " + std::to_string(values[values.size() / 2]) +
         " / " + std::to_string(values.back());
}

void print(const rolling_update_figures& figures) {
  std::cout << "rolling update behind nginx: " << figures.calls << " calls ("
            << figures.calls_placed_during_update << " placed during the update), "
            << figures.calls - figures.calls_completed << " dropped, " << figures.handovers
            << " hand-overs; caller-side gap per hand-over min/p50/max "
            << min_p50_max(figures.caller_gaps_ms)
            << " ms; recording gap between parts min/p50/max "
            << min_p50_max(figures.recording_gaps_ms) << " ms; call length min/p50/max "
            << min_p50_max(figures.call_lengths_s) << " s; update " << figures.update_s
            << " s (per node:";
  for (const auto seconds : figures.node_replaced_s)
    std::cout << " " << seconds;
  std::cout << " s)\n";
}

}  // namespace

// Hidden from the binary's default run and from CTest's discovery: registered once in
// CMakeLists.txt with the label rolling_update (ctest -L rolling_update), as it runs ~2.5 min:
// each node drains 40 s before it hands its calls over, so the calls placed before the update
// last minutes (through all three drains), as a real update's calls do.
TEST_CASE("a rolling update behind nginx replaces every node and drops no call",
          "[.rolling_update]") {
  const auto figures = rolling_update(6, 40s);
  print(figures);
}

// Not a test (hidden; no assertion on time): the figures of bench/README.md "rolling_update",
// run by bench/rolling_update. ROLLING_BENCH_CALLS calls (default 30), each node draining
// ROLLING_BENCH_DRAIN_S seconds (default 2; 60 makes the calls last minutes).
TEST_CASE("rolling update figures behind nginx", "[.rolling_update_bench]") {
  const char* calls_text = std::getenv("ROLLING_BENCH_CALLS");
  const std::size_t calls = calls_text != nullptr ? std::stoul(calls_text) : 30;
  const char* drain_text = std::getenv("ROLLING_BENCH_DRAIN_S");
  const auto drain = std::chrono::seconds(drain_text != nullptr ? std::stoul(drain_text) : 2);
  print(rolling_update(calls, drain));
}
