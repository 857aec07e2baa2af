// `switchboard demo`: whole calls on this machine, no accounts needed. Starts the server, the
// Realtime model stand-in (unless OPENAI_API_KEY is set: then the real model answers) and the
// Twilio REST stand-in, then
//   - plain: one simulated inbound call that talks, interrupts the agent once and hangs up, then
//     one outbound call placed with POST /calls that the stand-in answers and streams back; it
//     prints each call's summary, Twilio statuses, transcript and recordings;
//   - --console: serves the web console and waits for SIGINT/SIGTERM; calls dialled from the
//     page are answered by a simulated callee that keeps talking for minutes. Its first line on
//     stdout is machine-readable: `console: http://127.0.0.1:PORT/ token: TOKEN`.
#include "app/bridge_server.hpp"
#include "app/commands.hpp"
#include "config/settings.hpp"
#include "metrics/logging.hpp"
#include "net/http_client.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_caller.hpp"
#include "sim/twilio_rest_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

namespace switchboard::app {

namespace {

using namespace std::chrono_literals;

constexpr std::string_view console_flag = "--console";
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

}  // namespace

int run_demo(std::span<const std::string> arguments) {
  if (config::help_requested(arguments)) {
    std::cout << "switchboard demo [--console] [--flags]: simulated calls through the bridge\n\n"
              << "  (no --console)\n"
              << "      One inbound call (with a barge-in), then one outbound call placed with\n"
              << "      POST /calls; prints their summaries, transcripts and recordings.\n"
              << "  --console\n"
              << "      Serves the web console at http://127.0.0.1:PORT/ (--port 0: any free\n"
              << "      port) and prints `console: <url> token: <API_TOKEN>` first; calls dialled\n"
              << "      there are answered by a simulated callee. Runs until SIGINT/SIGTERM.\n"
              << "      --api-token sets the token (default: a random one, printed).\n\n"
              << config::flags_help();
    return 0;
  }
  std::vector<std::string> demo_arguments;
  bool console = false;
  for (const auto& argument : arguments) {
    if (argument == console_flag) {
      console = true;
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
