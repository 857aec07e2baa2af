// `switchboard demo`: whole calls on this machine, no accounts needed. Starts the server, the
// Realtime model stand-in (unless OPENAI_API_KEY is set: then the real model answers) and the
// Twilio REST stand-in, then
//   - plain: one simulated inbound call that talks, interrupts the agent once and hangs up, then
//     one outbound call placed with POST /calls that the stand-in answers and streams back; it
//     prints each call's summary, Twilio statuses, transcript and recordings;
//   - --nodes N (2 to 9): a cluster of N `switchboard serve` processes on loopback instead, each
//     with MAX_CALLS 3 and its own stream URL: simulated callers ring the first node, which
//     places each call on the least loaded node with room (where each went is printed), one
//     more than the cluster holds hears FULL_MESSAGE, the last node is killed, and the
//     survivors' view of the cluster and its calls is printed;
//   - --nodes N --kill-one: one call per node instead, then the last node is killed mid-call:
//     Twilio's <Connect action> (the stand-in does as Twilio does) reaches a survivor, and the
//     call goes on there as its next part; the gap the caller heard and the call's parts are
//     printed;
//   - --console: serves the web console and waits for SIGINT/SIGTERM; calls dialled from the
//     page are answered by a simulated callee that keeps talking for minutes. Its first line on
//     stdout is machine-readable: `console: http://127.0.0.1:PORT/ token: TOKEN`.
#include "app/bridge_server.hpp"
#include "app/commands.hpp"
#include "config/settings.hpp"
#include "metrics/logging.hpp"
#include "net/http_client.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/server_process.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_caller.hpp"
#include "sim/twilio_rest_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <thread>

namespace switchboard::app {

namespace {

using namespace std::chrono_literals;

constexpr std::string_view console_flag = "--console";
constexpr std::string_view nodes_flag = "--nodes";
constexpr std::string_view kill_one_flag = "--kill-one";
constexpr const char* demo_twilio_number = "+15005550006";
constexpr const char* outbound_destination = "+14155550123";

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  RAND_bytes(raw.data(), static_cast<int>(raw.size()));
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (const auto byte : raw) {
    hex.push_back(digits[byte >> 4]);
    hex.push_back(digits[byte & 0x0F]);
  }
  return hex;
}

/// What a caller does in the demo: asks, talks over the agent's long answer, listens, hangs up.
std::vector<sim::caller_step> inbound_script() {
  return {
      sim::silence(500ms),
      sim::speak(sim::fixture_audio(sim::speech_fixture::caller_request)),
      sim::wait_for_agent_audio(2500ms),
      // Barge-in: the caller talks while the agent is still speaking.
      sim::speak(sim::fixture_audio(sim::speech_fixture::caller_interruption)),
      sim::wait_for_agent_audio(1000ms),
      sim::wait_for_agent_silence(1200ms),
      sim::hangup(),
  };
}

/// The person the demo's outbound call reaches: answers, asks, hears the agent out, hangs up.
std::vector<sim::caller_step> outbound_callee_script() {
  return {
      sim::silence(300ms),
      sim::speak(sim::fixture_audio(sim::speech_fixture::caller_request)),
      sim::wait_for_agent_audio(1000ms),
      sim::wait_for_agent_silence(1200ms),
      sim::hangup(),
  };
}

/// Whoever answers a call dialled from the console: keeps a conversation going for a few
/// minutes (turn after turn, each waiting for the agent's answer) so there is time to watch the
/// transcript grow and to hang up from the page; then hangs up itself.
std::vector<sim::caller_step> console_callee_script() {
  std::vector<sim::caller_step> script{sim::silence(700ms)};
  constexpr int turns = 20;
  for (int turn = 0; turn < turns; ++turn) {
    script.push_back(
        sim::speak(sim::fixture_audio(turn % 2 == 0 ? sim::speech_fixture::caller_request
                                                    : sim::speech_fixture::caller_interruption)));
    script.push_back(sim::wait_for_agent_audio(1000ms, 60s));
    script.push_back(sim::wait_for_agent_silence(1000ms, 60s));
  }
  script.push_back(sim::hangup());
  return script;
}

void print_recordings_and_transcript(const actors::call_outcome& outcome, bool list_files) {
  if (outcome.directory.empty())
    return;
  std::cout << "\n  recordings in " << outcome.directory.string() << "/\n";
  if (list_files) {
    for (const char* file :
         {"caller.wav", "agent.wav", "stereo.wav", "mono.wav", "transcript.jsonl", "call.json"}) {
      const auto path = outcome.directory / file;
      if (std::filesystem::exists(path))
        std::cout << "    " << path.string() << "\n";
    }
  }
  std::ifstream transcript(outcome.directory / "transcript.jsonl");
  std::string line;
  std::cout << "\n  transcript:\n";
  while (std::getline(transcript, line)) {
    boost::system::error_code ec;
    auto entry = boost::json::parse(line, ec);
    if (ec || !entry.is_object())
      continue;
    const auto& object = entry.as_object();
    const auto* offset = object.if_contains("offset_ms");
    const auto* speaker = object.if_contains("speaker");
    const auto* text = object.if_contains("text");
    if (offset == nullptr || !offset->is_number() || speaker == nullptr || !speaker->is_string() ||
        text == nullptr || !text->is_string())
      continue;
    std::cout << "    [" << offset->to_number<double>() / 1000.0 << " s] "
              << speaker->as_string().c_str() << ": " << text->as_string().c_str() << "\n";
  }
  std::cout << "\n  Listen: play " << (outcome.directory / "stereo.wav").string()
            << " (caller left, agent right)\n";
}

void print_inbound_summary(const actors::call_outcome& outcome,
                           const sim::twilio_call_result& caller) {
  std::cout << "\n=== switchboard demo: inbound call " << outcome.call_sid << " ===\n";
  std::cout << "  ended:        " << outcome.end_reason << " after " << outcome.duration_ms
            << " ms\n";
  std::cout << "  media frames: " << outcome.frames_in << " from the caller, " << outcome.frames_out
            << " to the caller\n";
  std::cout << "  barge-ins:    " << outcome.barge_ins
            << " (agent audio cut, model told where: " << outcome.truncations << " truncation)\n";
  std::cout << "  caller heard: " << caller.agent_bytes_played / 8 << " ms of agent audio, "
            << caller.clears_received << " clear\n";
  for (const auto& problem : outcome.problems)
    std::cout << "  problem:      " << problem << "\n";
  print_recordings_and_transcript(outcome, true);
}

std::string status_history(const sim::outbound_call& call) {
  std::string history;
  for (const auto status : call.history) {
    if (!history.empty())
      history += " -> ";
    history += sim::to_string(status);
  }
  return history;
}

void print_outbound_summary(const actors::call_outcome& outcome, const sim::outbound_call& call,
                            unsigned dial_status) {
  std::cout << "\n=== switchboard demo: outbound call " << call.sid << " to " << call.to
            << " ===\n";
  std::cout << "  placed:       POST /calls -> " << dial_status << ", through the Twilio REST "
            << "stand-in, from " << call.from << "\n";
  std::cout << "  Twilio:       " << status_history(call) << " (" << call.duration_seconds()
            << " s billed)\n";
  const auto delivered = std::count_if(call.callbacks.begin(), call.callbacks.end(),
                                       [](const auto& sent) { return sent.http_status == 204; });
  std::cout << "  callbacks:    " << delivered << " of " << call.callbacks.size()
            << " status callbacks accepted by /call-status\n";
  std::cout << "  ended:        " << outcome.end_reason << " after " << outcome.duration_ms
            << " ms, " << outcome.barge_ins << " barge-ins\n";
  for (const auto& problem : outcome.problems)
    std::cout << "  problem:      " << problem << "\n";
  print_recordings_and_transcript(outcome, false);
}

/// A port nobody listens on now, for a bridge that must know its own URL before it starts
/// (PUBLIC_URL: the TwiML of outbound calls and their status callbacks point at it).
boost::system::result<std::uint16_t, std::string> unused_port(boost::asio::io_context& io,
                                                              const std::string& address) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address, ec);
  if (ec)
    return "BIND_ADDRESS " + address + ": " + ec.message();
  boost::asio::ip::tcp::acceptor probe(io);
  probe.open(ip.is_v6() ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4(), ec);
  if (!ec)
    probe.bind({ip, 0}, ec);
  if (ec)
    return "cannot find a free port on " + address + ": " + ec.message();
  return probe.local_endpoint().port();
}

struct outbound_dial_answer {
  unsigned status = 0;
  std::string call_sid;
  std::string error;  // no answer, or the API's reason
};

/// POST /calls to the bridge, as an operator's script would.
outbound_dial_answer dial_through_api(boost::asio::io_context& io, std::uint16_t port,
                                      const std::string& api_token) {
  net::http_client_request post;
  post.method = "POST";
  post.url = "http://127.0.0.1:" + std::to_string(port) + "/calls";
  post.headers = {{"Authorization", "Bearer " + api_token}, {"Content-Type", "application/json"}};
  post.body = std::string(R"({"to":")") + outbound_destination +
              R"(","instructions":"You are calling to confirm a table booking. Be brief."})";
  std::promise<net::http_client_result> answered;
  auto answer = answered.get_future();
  net::http_request_async(io, std::move(post), [&answered](net::http_client_result result) {
    answered.set_value(std::move(result));
  });
  auto result = answer.get();
  if (!result)
    return {0, {}, result.error()};
  outbound_dial_answer out{result->status, {}, {}};
  boost::system::error_code ec;
  const auto body = boost::json::parse(result->body, ec);
  const auto* object = ec ? nullptr : body.if_object();
  const auto field = [&](std::string_view key) {
    const auto* value = object != nullptr ? object->if_contains(key) : nullptr;
    return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string{};
  };
  if (result->status == 201) {
    out.call_sid = field("call_sid");
  } else {
    out.error = field("error").empty() ? result->body : field("error");
  }
  return out;
}

std::optional<actors::call_outcome> outcome_of(const std::vector<actors::call_outcome>& finished,
                                               std::string_view call_sid) {
  const auto found = std::find_if(finished.begin(), finished.end(), [&](const auto& outcome) {
    return outcome.call_sid == call_sid;
  });
  if (found == finished.end())
    return std::nullopt;
  return *found;
}

int run_inbound_then_outbound(bridge_server& server, boost::asio::io_context& sim_io,
                              sim::twilio_rest_server& twilio, const config::settings& settings) {
  const auto port = std::to_string(server.port());
  sim::twilio_caller_options caller;
  caller.webhook_url = "http://127.0.0.1:" + port + "/incoming-call";
  caller.auth_token = settings.twilio_auth_token;
  caller.stream_connect_address = "127.0.0.1:" + port;
  caller.from = "+14155550100";
  caller.to = "+14155550199";
  caller.script = inbound_script();
  spdlog::info("simulated Twilio call to {} via {}", caller.to, caller.webhook_url);
  auto result = sim::twilio_caller::run(sim_io, caller).get();
  if (!result.ok()) {
    std::cerr << "switchboard demo: the simulated call failed: " << result.error << "\n";
    return 1;
  }
  const auto inbound = server.calls().wait_for_finished(1, 60s);
  if (inbound.empty()) {
    std::cerr << "switchboard demo: the call did not finish\n";
    return 1;
  }
  print_inbound_summary(inbound.front(), result);
  if (inbound.front().directory.empty())
    return 1;

  spdlog::info("outbound call to {}: POST /calls", outbound_destination);
  const auto dialled = dial_through_api(sim_io, server.port(), settings.api_token);
  if (dialled.status != 201) {
    std::cerr << "switchboard demo: POST /calls failed (" << dialled.status
              << "): " << dialled.error << "\n";
    return 1;
  }
  auto finished_call = twilio.when_finished(dialled.call_sid);
  if (finished_call.wait_for(120s) != std::future_status::ready) {
    std::cerr << "switchboard demo: the outbound call " << dialled.call_sid << " did not end\n";
    return 1;
  }
  const auto call = finished_call.get();
  const auto outcome = outcome_of(server.calls().wait_for_finished(2, 60s), dialled.call_sid);
  if (!outcome) {
    std::cerr << "switchboard demo: the outbound call " << dialled.call_sid
              << " never streamed into the bridge (Twilio: " << status_history(call) << ")\n";
    return 1;
  }
  print_outbound_summary(*outcome, call, dialled.status);
  std::cout << "\n";
  return outcome->directory.empty() ? 1 : 0;
}

int serve_console(bridge_server& server, const config::settings& settings, bool token_generated) {
  // One line for scripts and tests to read, then words for people. A token of the user's own
  // (--api-token, API_TOKEN in the environment or .env) is a secret: never printed.
  std::cout << "console: http://127.0.0.1:" << server.port()
            << "/ token: " << (token_generated ? settings.api_token : "<set>") << std::endl;
  std::cout << "  Open the address in a browser and enter the token"
            << (token_generated ? "" : " (your API_TOKEN)") << ". Numbers starting with ";
  for (std::size_t i = 0; i < settings.allowed_destinations.size(); ++i)
    std::cout << (i == 0 ? "" : ", ") << settings.allowed_destinations[i];
  std::cout << " are answered by a simulated callee that talks for a few minutes.\n"
            << "  Ctrl-C stops the demo: at once without calls; live calls first run on for "
            << settings.drain_timeout_s
            << " s (DRAIN_TIMEOUT) and hear a goodbye. Ctrl-C twice stops at once." << std::endl;
  server.wait(true);
  return 0;
}

// -- switchboard demo --nodes N -------------------------------------------------------------------

// Small, so that a handful of calls shows the spread and fills the cluster.
constexpr unsigned cluster_demo_max_calls = 3;

/// GET on a node's API (bearer token): the JSON answered, or null.
boost::json::value get_json(boost::asio::io_context& io, std::uint16_t port,
                            const std::string& path, const std::string& api_token) {
  net::http_client_request get;
  get.url = "http://127.0.0.1:" + std::to_string(port) + path;
  get.headers = {{"Authorization", "Bearer " + api_token}};
  std::promise<net::http_client_result> answered;
  auto answer = answered.get_future();
  net::http_request_async(io, std::move(get), [&answered](net::http_client_result result) {
    answered.set_value(std::move(result));
  });
  auto result = answer.get();
  if (!result || result->status != 200)
    return nullptr;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(result->body, ec);
  return ec ? boost::json::value(nullptr) : parsed;
}

std::string text_of(const boost::json::value& value) {
  if (value.is_string())
    return std::string(value.as_string());
  if (value.is_null())
    return "-";
  return boost::json::serialize(value);
}

/// Polls until `condition` holds or `limit` passes (the demo's answer to "did it happen").
template <class Condition>
bool wait_until(Condition condition, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

struct demo_node {
  std::string name;
  std::uint16_t port = 0;
  std::string cluster_address;
  std::unique_ptr<sim::server_process> process;
};

void print_cluster(boost::asio::io_context& io, const demo_node& from, const std::string& token) {
  const auto view = get_json(io, from.port, "/cluster", token);
  if (!view.is_object())
    return;
  std::cout << "  GET /cluster on " << from.name << ":\n";
  for (const auto& row : view.at("nodes").as_array()) {
    std::cout << "    " << text_of(row.at("name")) << "  " << text_of(row.at("state")) << "  calls "
              << text_of(row.at("active_calls")) << " (+" << text_of(row.at("promised_calls"))
              << " promised) of " << text_of(row.at("capacity")) << "  heartbeat age "
              << text_of(row.at("heartbeat_age_ms")) << " ms  " << text_of(row.at("stream_url"))
              << "\n";
  }
}

/// The node GET /calls on `from` names for `call_sid` ("" while not listed).
std::string node_of_call(boost::asio::io_context& io, const demo_node& from,
                         const std::string& token, const std::string& call_sid) {
  const auto calls = get_json(io, from.port, "/calls", token);
  if (!calls.is_object())
    return {};
  for (const auto& call : calls.at("calls").as_array()) {
    if (call.at("call_sid") == call_sid.c_str())
      return text_of(call.at("node"));
  }
  return {};
}

/// The call.json of each part of `call_sid` under `recordings` (the nodes' directories), by part.
std::map<std::int64_t, boost::json::object> call_parts(const std::filesystem::path& recordings,
                                                       const std::string& call_sid) {
  std::map<std::int64_t, boost::json::object> parts;
  std::error_code walked;
  for (std::filesystem::recursive_directory_iterator entry(recordings, walked), end;
       !walked && entry != end; entry.increment(walked)) {
    if (entry->path().filename() != "call.json" ||
        !entry->path().parent_path().filename().string().starts_with(call_sid))
      continue;
    std::ifstream in(entry->path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    boost::system::error_code ec;
    auto parsed = boost::json::parse(text, ec);
    if (ec || !parsed.is_object())
      continue;
    const auto* part = parsed.as_object().if_contains("part");
    parts[part && part->is_int64() ? part->as_int64() : 1] = parsed.as_object();
  }
  return parts;
}

/// --kill-one: the calls on `victim` go on on the survivors through <Connect action>. Prints
/// where each went, what the caller heard and the call's parts; true when every one went on.
bool show_continued_calls(boost::asio::io_context& io, const demo_node& first,
                          const std::string& victim, const std::string& api_token,
                          const std::vector<std::string>& victim_calls,
                          std::chrono::steady_clock::time_point killed_at) {
  bool all_continued = true;
  for (const auto& call_sid : victim_calls) {
    std::string now_on;
    const bool continued = wait_until(
        [&] {
          now_on = node_of_call(io, first, api_token, call_sid);
          return !now_on.empty() && now_on != victim;
        },
        30s);
    const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - killed_at);
    all_continued = all_continued && continued;
    std::cout << "    " << call_sid << "  (was on " << victim << ")  "
              << (continued ? "goes on on " + now_on + ", listed there " +
                                  std::to_string(after.count()) + " ms after the kill"
                            : std::string("did NOT go on within 30 s"))
              << "\n";
  }
  return all_continued;
}

void print_call_parts(const std::filesystem::path& recordings, const std::string& call_sid) {
  const auto parts = call_parts(recordings, call_sid);
  std::cout << "  " << call_sid << ": " << parts.size() << " part(s) recorded\n";
  for (const auto& [number, summary] : parts) {
    const auto* listed = summary.if_contains("parts");
    const auto* node = summary.if_contains("node");
    std::string recorded_on = node ? text_of(*node) : "?";
    if (listed && listed->is_array() && !listed->as_array().empty())
      recorded_on = text_of(listed->as_array().back().at("node"));
    std::cout << "    part " << number << "  on " << recorded_on << "  duration "
              << text_of(summary.at("duration_ms"))
              << " ms  ended: " << text_of(summary.at("end_reason")) << "\n";
    if (listed && listed->is_array()) {
      for (const auto& part : listed->as_array()) {
        const auto& row = part.as_object();
        std::cout << "      call.json lists part " << text_of(row.at("part")) << " on "
                  << text_of(row.at("node")) << ": " << text_of(row.at("end_reason"));
        if (const auto* gap = row.if_contains("gap_ms"))
          std::cout << "  (gap before it: " << text_of(*gap) << " ms)";
        std::cout << "\n";
      }
    }
  }
}

/// The transcript of a live call as `from` shows it (GET /calls/{sid}); empty when not listed.
std::vector<std::pair<std::string, std::string>> transcript_of(boost::asio::io_context& io,
                                                               const demo_node& from,
                                                               const std::string& token,
                                                               const std::string& call_sid) {
  std::vector<std::pair<std::string, std::string>> lines;
  const auto call = get_json(io, from.port, "/calls/" + call_sid, token);
  if (!call.is_object())
    return lines;
  const auto* transcript = call.as_object().if_contains("transcript");
  if (transcript == nullptr || !transcript->is_array())
    return lines;
  for (const auto& line : transcript->as_array())
    lines.emplace_back(text_of(line.at("speaker")), text_of(line.at("text")));
  return lines;
}

/// --kill-one: the last node dies with its calls on it; they go on on the survivors.
int kill_one_node(boost::asio::io_context& io, std::vector<demo_node>& nodes,
                  const std::string& api_token, const std::filesystem::path& recordings,
                  const std::vector<std::pair<std::string, std::string>>& placed,
                  std::promise<void>& release,
                  std::vector<std::future<sim::twilio_call_result>>& callers) {
  auto& victim = nodes.back();
  const auto& first = nodes.front();
  std::vector<std::string> victim_calls;
  for (const auto& [call_sid, node] : placed) {
    if (node == victim.name)
      victim_calls.push_back(call_sid);
  }
  std::cout << "\n  kill -9 " << victim.name << " (pid " << victim.process->pid() << "), "
            << victim_calls.size()
            << " call(s) on it. Their streams drop; Twilio requests each one's <Connect action> "
               "(on "
            << first.name << ", the address the TwiML named):\n";
  const auto killed_at = std::chrono::steady_clock::now();
  ::kill(victim.process->pid(), SIGKILL);
  bool continued = show_continued_calls(io, first, victim.name, api_token, victim_calls, killed_at);

  // The agent of a continued call speaks first: it says the line dropped.
  for (const auto& call_sid : victim_calls) {
    std::vector<std::pair<std::string, std::string>> lines;
    wait_until(
        [&] {
          lines = transcript_of(io, first, api_token, call_sid);
          return std::count_if(lines.begin(), lines.end(), [](const auto& line) {
                   return line.first == "agent" && !line.second.starts_with("[");
                 }) > 0;
        },
        20s);
    std::cout << "\n  " << call_sid << "'s transcript now:\n";
    for (const auto& [speaker, text] : lines)
      std::cout << "    " << speaker << ": " << text << "\n";
  }

  release.set_value();
  std::cout << "\n  the callers hang up:\n";
  for (std::size_t i = 0; i < callers.size() && i < placed.size(); ++i) {
    if (callers[i].wait_for(30s) != std::future_status::ready) {
      std::cout << "    " << placed[i].first << ": did not end\n";
      continued = false;
      continue;
    }
    const auto result = callers[i].get();
    std::cout << "    " << placed[i].first << ": " << result.streams << " stream(s)";
    for (const auto& action : result.actions) {
      std::cout << "; <Connect action> answered " << sim::to_string(action.outcome);
      if (action.audible_gap) {
        std::cout
            << ", the caller heard "
            << std::chrono::duration_cast<std::chrono::milliseconds>(*action.audible_gap).count()
            << " ms of silence";
      }
    }
    std::cout << (result.ok() ? "" : "  error: " + result.error) << "\n";
  }
  for (const auto& call_sid : victim_calls) {
    // The continued part's call.json is written once its caller hung up.
    wait_until([&] { return call_parts(recordings, call_sid).size() >= 2; }, 20s);
    print_call_parts(recordings, call_sid);
  }
  for (std::size_t i = 0; i + 1 < nodes.size(); ++i)
    nodes[i].process->terminate();
  std::cout << "\n  recordings of the calls under " << recordings.string()
            << "/ (switchboard join joins a call's parts)\n\n";
  return continued ? 0 : 1;
}

int run_cluster_demo(unsigned node_count, bool kill_one, const config::settings& settings) {
  boost::asio::io_context sim_io;
  auto sim_work = boost::asio::make_work_guard(sim_io);
  std::thread sim_thread([&] { sim_io.run(); });
  struct stop_on_exit {
    boost::asio::io_context& io;
    std::thread& thread;
    ~stop_on_exit() {
      io.stop();
      thread.join();
    }
  } stop_sim{sim_io, sim_thread};

  sim::model_options model_options;
  model_options.expected_api_key = "sk-switchboard-demo";
  auto model = sim::realtime_model_server::start(sim_io, model_options);
  if (!model) {
    std::cerr << "switchboard demo: cannot start the model stand-in: " << model.error() << "\n";
    return 1;
  }
  const auto api_token = random_hex(16);
  const auto auth_token = random_hex(16);
  const auto recordings =
      (std::filesystem::absolute(settings.recordings_dir) / ("cluster-demo-" + random_hex(4)))
          .lexically_normal();
  std::error_code made;
  std::filesystem::create_directories(recordings, made);

  std::cout << "\n=== switchboard demo: a cluster of " << node_count
            << " nodes on loopback (MAX_CALLS " << cluster_demo_max_calls << " each) ===\n";
  std::vector<demo_node> nodes;
  for (unsigned i = 0; i < node_count; ++i) {
    demo_node node;
    node.name = "node-" + std::to_string(i + 1);
    // Its stream URL must be known before it starts: a port chosen now.
    auto port = unused_port(sim_io, "127.0.0.1");
    if (!port) {
      std::cerr << "switchboard demo: " << port.error() << "\n";
      return 1;
    }
    node.port = *port;
    sim::server_process_options options;
    options.executable = std::filesystem::read_symlink("/proc/self/exe");
    options.arguments = {"serve"};
    options.working_directory = std::filesystem::current_path();
    options.environment = {
        "PORT=" + std::to_string(node.port),
        "BIND_ADDRESS=127.0.0.1",
        "IO_THREADS=1",
        "NODE_NAME=" + node.name,
        "NODE_STREAM_URL=ws://127.0.0.1:" + std::to_string(node.port) + "/media-stream",
        "MAX_CALLS=" + std::to_string(cluster_demo_max_calls),
        "CLUSTER_PORT=0",
        "CLUSTER_INSECURE=true",
        "API_TOKEN=" + api_token,
        "TWILIO_AUTH_TOKEN=" + auth_token,
        "OPENAI_API_KEY=" + model_options.expected_api_key,
        "OPENAI_REALTIME_URL=" + (*model)->url() + "?model=gpt-realtime",
        "RECORDINGS_DIR=" + (recordings / node.name).string(),
        "LOG_LEVEL=warn"};
    if (!nodes.empty())
      options.environment.push_back("CLUSTER_SEEDS=" + nodes.front().cluster_address);
    auto spawned = sim::server_process::spawn(options);
    if (!spawned) {
      std::cerr << "switchboard demo: cannot start " << node.name << ": " << spawned.error()
                << "\n";
      return 1;
    }
    node.process = std::move(*spawned);
    // The log says where it listens only at info level: its API answering is the sign here.
    if (!wait_until([&] { return get_json(sim_io, node.port, "/cluster", api_token).is_object(); },
                    30s)) {
      std::cerr << "switchboard demo: " << node.name << " did not start\n";
      return 1;
    }
    const auto own_view = get_json(sim_io, node.port, "/cluster", api_token);
    for (const auto& row : own_view.at("nodes").as_array()) {
      if (row.at("self").as_bool())
        node.cluster_address = text_of(row.at("address"));
    }
    std::cout << "  " << node.name << ": http://127.0.0.1:" << node.port << "  cluster port "
              << node.cluster_address << "\n";
    nodes.push_back(std::move(node));
  }
  const auto& first = nodes.front();
  const auto sees_all_ready = [&](const demo_node& node) {
    const auto view = get_json(sim_io, node.port, "/cluster", api_token);
    if (!view.is_object())
      return false;
    const auto& rows = view.at("nodes").as_array();
    return rows.size() == node_count && std::all_of(rows.begin(), rows.end(), [](const auto& row) {
             return row.at("state") == "ready";
           });
  };
  const bool all_ready =
      wait_until([&] { return std::all_of(nodes.begin(), nodes.end(), sees_all_ready); }, 30s);
  if (!all_ready) {
    std::cerr << "switchboard demo: the nodes did not all see each other ready\n";
    return 1;
  }
  std::cout << "  every node linked to every other (full mesh), all ready\n";

  // Every call rings the first node's webhook, as an ingress might send them all to one pod:
  // placement spreads them. Each caller holds the line until the end of the demo.
  // --kill-one: one call per node, so that the survivors have room for the lost one.
  const unsigned calls = kill_one ? node_count : node_count * cluster_demo_max_calls;
  std::cout << "\n  " << calls << " calls to " << first.name
            << "'s webhook, each placed on the least loaded node with room:\n";
  std::promise<void> release;
  auto released = release.get_future().share();
  std::vector<std::future<sim::twilio_call_result>> callers;
  std::map<std::string, int> spread;
  std::vector<std::pair<std::string, std::string>> placed_on;  // CallSid, node; in order
  const auto caller_for = [&](unsigned n, std::function<void()> on_hold) {
    sim::twilio_caller_options caller;
    caller.webhook_url = "http://127.0.0.1:" + std::to_string(first.port) + "/incoming-call";
    caller.auth_token = auth_token;
    const auto digits = std::to_string(n);
    caller.call_sid = "CA" + std::string(32 - digits.size(), '0') + digits;
    caller.from =
        "+1415555" + std::string(4 - std::min<std::size_t>(4, digits.size()), '0') + digits;
    caller.keep_heard_audio = false;
    caller.script = {sim::hold_until(released, std::move(on_hold), 300s)};
    return caller;
  };
  for (unsigned n = 1; n <= calls; ++n) {
    std::promise<void> holding;
    auto held = holding.get_future();
    auto caller = caller_for(n, [&holding] { holding.set_value(); });
    const auto call_sid = caller.call_sid;
    callers.push_back(sim::twilio_caller::run(sim_io, std::move(caller)));
    if (held.wait_for(30s) != std::future_status::ready) {
      std::cerr << "switchboard demo: call " << n << " did not connect\n";
      release.set_value();
      return 1;
    }
    std::string node;
    wait_until([&] { return !(node = node_of_call(sim_io, first, api_token, call_sid)).empty(); },
               10s);
    ++spread[node];
    placed_on.emplace_back(call_sid, node);
    std::cout << "    call " << n << "  " << call_sid << "  -> " << node << "\n";
  }
  std::cout << "  spread:";
  for (const auto& [node, count] : spread)
    std::cout << "  " << node << " " << count;
  std::cout << "\n";

  // One more than the cluster holds: the caller hears FULL_MESSAGE at once.
  if (kill_one)
    return kill_one_node(sim_io, nodes, api_token, recordings, placed_on, release, callers);
  auto extra = caller_for(calls + 1, {});
  auto refused = sim::twilio_caller::run(sim_io, std::move(extra)).get();
  // The next heartbeats carry the calls: the table below shows them.
  wait_until(
      [&] {
        const auto view = get_json(sim_io, first.port, "/cluster", api_token);
        if (!view.is_object())
          return false;
        std::uint64_t active = 0;
        for (const auto& row : view.at("nodes").as_array())
          active += row.at("active_calls").to_number<std::uint64_t>();
        return active == calls;
      },
      10s);
  std::cout << "\n  call " << calls + 1 << ": "
            << (refused.declined ? "every node full: the caller heard \"" +
                                       refused.declined_message + "\" and the call ended"
                                 : "not refused (" + refused.error + ")")
            << "\n\n";
  print_cluster(sim_io, first, api_token);

  // The last node dies with its calls.
  auto& victim = nodes.back();
  std::cout << "\n  kill -9 " << victim.name << " (pid " << victim.process->pid() << ")\n";
  const auto killed_at = std::chrono::steady_clock::now();
  ::kill(victim.process->pid(), SIGKILL);
  const bool seen_down = wait_until(
      [&] {
        const auto view = get_json(sim_io, first.port, "/cluster", api_token);
        if (!view.is_object())
          return false;
        for (const auto& row : view.at("nodes").as_array()) {
          if (row.at("name") == victim.name.c_str())
            return row.at("state") == "down";
        }
        return false;
      },
      30s);
  const auto seen_after = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  std::cout << "  " << first.name << " marked " << victim.name << " down "
            << (seen_down ? "after " + std::to_string(seen_after.count()) + " ms"
                          : "NOT within 30 s")
            << "\n\n";
  for (std::size_t i = 0; i + 1 < nodes.size(); ++i)
    print_cluster(sim_io, nodes[i], api_token);
  const auto listed = get_json(sim_io, first.port, "/calls", api_token);
  if (listed.is_object()) {
    std::map<std::string, int> live;
    for (const auto& call : listed.at("calls").as_array())
      ++live[text_of(call.at("node"))];
    std::cout << "\n  GET /calls on " << first.name << ": live";
    for (const auto& [node, count] : live)
      std::cout << "  " << node << " " << count;
    std::cout << "\n  recent (ended):\n";
    for (const auto& call : listed.at("recent").as_array()) {
      std::cout << "    " << text_of(call.at("call_sid")) << "  on " << text_of(call.at("node"))
                << "  ended because: " << text_of(call.at("ended_because")) << "\n";
    }
  }

  // The survivors' callers hang up; the nodes stop (SIGTERM: each drains, with no call left).
  release.set_value();
  for (auto& caller : callers)
    caller.wait_for(30s);
  victim.process->terminate();
  for (auto& node : nodes)
    node.process->terminate();
  (*model)->stop();
  std::cout << "\n  recordings of the calls under " << recordings.string() << "/\n\n";
  return seen_down && refused.declined ? 0 : 1;
}

}  // namespace

int run_demo(std::span<const std::string> arguments) {
  if (config::help_requested(arguments)) {
    std::cout << "switchboard demo [--console | --nodes N] [--flags]: simulated calls through "
                 "the bridge\n\n"
              << "  (no --console)\n"
              << "      One inbound call (with a barge-in), then one outbound call placed with\n"
              << "      POST /calls; prints their summaries, transcripts and recordings.\n"
              << "  --console\n"
              << "      Serves the web console at http://127.0.0.1:PORT/ (--port 0: any free\n"
              << "      port) and prints `console: <url> token: <API_TOKEN>` first; calls dialled\n"
              << "      there are answered by a simulated callee. Runs until SIGINT/SIGTERM.\n"
              << "      --api-token sets the token (default: a random one, printed).\n"
              << "  --nodes N (2 to 9)\n"
              << "      N `switchboard serve` processes on loopback as one cluster (MAX_CALLS 3\n"
              << "      each): calls to the first node are placed across them (where each went\n"
              << "      is printed), one more than they hold hears FULL_MESSAGE, the last node\n"
              << "      is killed, and the survivors' view of the cluster and its calls shown.\n"
              << "  --nodes N --kill-one\n"
              << "      One call per node; the last node is killed mid-call and its call goes on\n"
              << "      on a survivor (Twilio's <Connect action>): where, the gap the caller\n"
              << "      heard, and the call's parts.\n\n"
              << config::flags_help();
    return 0;
  }
  std::vector<std::string> demo_arguments;
  bool console = false;
  std::optional<unsigned> cluster_nodes;
  bool kill_one = false;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const auto& argument = arguments[i];
    if (argument == console_flag) {
      console = true;
    } else if (argument == kill_one_flag) {
      kill_one = true;
    } else if (argument == nodes_flag || argument.starts_with(std::string(nodes_flag) + "=")) {
      const auto text = argument == nodes_flag ? (i + 1 < arguments.size() ? arguments[++i] : "")
                                               : argument.substr(nodes_flag.size() + 1);
      if (text.size() != 1 || text[0] < '2' || text[0] > '9') {
        std::cerr << "switchboard demo: --nodes takes a number from 2 to 9\n";
        return 2;
      }
      cluster_nodes = static_cast<unsigned>(text[0] - '0');
    } else {
      demo_arguments.push_back(argument);
    }
  }
  // The demo signs everything like Twilio does, with a fresh auth token of its own.
  demo_arguments.push_back("--twilio-auth-token=" + random_hex(16));
  if (!console)
    demo_arguments.emplace_back("--port=0");
  demo_arguments.emplace_back("--bind-address=127.0.0.1");
  auto loaded = config::load(demo_arguments, config::process_environment(), ".env");
  if (!loaded) {
    std::cerr << "switchboard: the configuration is invalid:\n"
              << config::format_errors(loaded.error());
    return 2;
  }
  config::settings settings = *loaded;
  if (auto logging = metrics::configure_logging(config::to_string(settings.log_format),
                                                config::to_string(settings.log_level));
      !logging) {
    std::cerr << "switchboard: " << logging.error() << "\n";
    return 2;
  }

  if (kill_one && !cluster_nodes) {
    std::cerr << "switchboard demo: --kill-one needs --nodes N\n";
    return 2;
  }
  if (cluster_nodes)
    return run_cluster_demo(*cluster_nodes, kill_one, settings);

  boost::asio::io_context sim_io;
  auto sim_work = boost::asio::make_work_guard(sim_io);
  std::thread sim_thread([&] { sim_io.run(); });
  struct stop_on_exit {
    boost::asio::io_context& io;
    std::thread& thread;
    ~stop_on_exit() {
      io.stop();
      thread.join();
    }
  } stop_sim{sim_io, sim_thread};

  std::unique_ptr<sim::realtime_model_server> model;
  if (settings.has_openai_credentials()) {
    spdlog::info("OPENAI_API_KEY is set: the simulated caller talks to the real model at {}",
                 settings.openai_realtime_url);
  } else {
    sim::model_options model_options;
    model_options.expected_api_key = "sk-switchboard-demo";
    auto started = sim::realtime_model_server::start(sim_io, model_options);
    if (!started) {
      std::cerr << "switchboard demo: cannot start the model stand-in: " << started.error() << "\n";
      return 1;
    }
    model = std::move(*started);
    settings.openai_realtime_url = model->url() + "?model=gpt-realtime";
    settings.openai_api_key = model_options.expected_api_key;
    spdlog::info("model stand-in (OpenAI Realtime GA protocol) at {}", model->url());
  }

  // Outbound calls go to the Twilio REST stand-in, which answers them and streams them back.
  sim::twilio_rest_server_options rest;
  rest.account_sid = "AC" + random_hex(16);
  rest.auth_token = settings.twilio_auth_token;
  rest.callee.ring_time = 800ms;  // long enough to see "ringing"
  rest.callee.script = console ? console_callee_script() : outbound_callee_script();
  auto twilio = sim::twilio_rest_server::start(sim_io, rest);
  if (!twilio) {
    std::cerr << "switchboard demo: cannot start the Twilio REST stand-in: " << twilio.error()
              << "\n";
    return 1;
  }
  settings.twilio_account_sid = rest.account_sid;
  settings.twilio_phone_number = demo_twilio_number;
  settings.twilio_api_base = (*twilio)->base_url();
  const bool token_generated = settings.api_token.empty();
  if (token_generated)
    settings.api_token = random_hex(16);
  if (settings.allowed_destinations.empty())
    settings.allowed_destinations = {"+1"};
  spdlog::info("Twilio REST stand-in at {}", (*twilio)->base_url());

  // The bridge's PUBLIC_URL must name its own port (outbound TwiML and status callbacks point
  // there), so port 0 becomes a free port chosen before it starts; should another process take
  // that port first, the next try picks another.
  const bool any_port = settings.port == 0;
  std::unique_ptr<bridge_server> server;
  for (int attempt = 0; attempt < 3 && !server; ++attempt) {
    if (any_port) {
      auto port = unused_port(sim_io, settings.bind_address);
      if (!port) {
        std::cerr << "switchboard demo: " << port.error() << "\n";
        return 1;
      }
      settings.port = *port;
    }
    settings.public_url = "http://127.0.0.1:" + std::to_string(settings.port);
    auto started = bridge_server::start(settings);
    if (started) {
      server = std::move(*started);
    } else if (!any_port || attempt == 2) {
      std::cerr << "switchboard demo: cannot start the server: " << started.error() << "\n";
      return 1;
    }
  }

  const int status = console ? serve_console(*server, settings, token_generated)
                             : run_inbound_then_outbound(*server, sim_io, **twilio, settings);
  // Calls still up end as a hang-up would end them (stop, recordings closed and mixed) before
  // the bridge goes; a call that does not end in time is cut off.
  const auto finished_before = server->calls().finished_calls();
  const auto still_up = server->calls().active_calls();
  (*twilio)->stop();
  if (still_up > 0)
    server->calls().wait_for_finished(finished_before + still_up, 10s);
  server->stop();
  return status;
}

}  // namespace switchboard::app
