// `switchboard demo`: one whole call on this machine, no accounts needed. Starts the server,
// the Realtime model stand-in (unless OPENAI_API_KEY is set: then the real model answers) and
// one simulated Twilio call that talks, interrupts the agent once and hangs up; then prints
// the call summary and where the recordings and transcript are.
#include "app/bridge_server.hpp"
#include "app/commands.hpp"
#include "config/settings.hpp"
#include "metrics/logging.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_caller.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <array>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace switchboard::app {

namespace {

using namespace std::chrono_literals;

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
std::vector<sim::caller_step> demo_script() {
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

void print_summary(const actors::call_outcome& outcome, const sim::twilio_call_result& caller) {
  std::cout << "\n=== switchboard demo: call " << outcome.call_sid << " ===\n";
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
  if (outcome.directory.empty())
    return;
  std::cout << "\n  recordings in " << outcome.directory.string() << "/\n";
  for (const char* file :
       {"caller.wav", "agent.wav", "stereo.wav", "mono.wav", "transcript.jsonl", "call.json"}) {
    const auto path = outcome.directory / file;
    if (std::filesystem::exists(path))
      std::cout << "    " << path.string() << "\n";
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
    std::cout << "    [" << object.at("offset_ms").to_number<double>() / 1000.0 << " s] "
              << object.at("speaker").as_string().c_str() << ": "
              << object.at("text").as_string().c_str() << "\n";
  }
  std::cout << "\n  Listen: play " << (outcome.directory / "stereo.wav").string()
            << " (caller left, agent right)\n\n";
}

}  // namespace

int run_demo(std::span<const std::string> arguments) {
  if (config::help_requested(arguments)) {
    std::cout << "switchboard demo [--flags]: one simulated call through the bridge\n\n"
              << config::flags_help();
    return 0;
  }
  // The demo signs everything like Twilio does, with a fresh auth token of its own.
  std::vector<std::string> demo_arguments(arguments.begin(), arguments.end());
  demo_arguments.push_back("--twilio-auth-token=" + random_hex(16));
  demo_arguments.push_back("--port=0");
  demo_arguments.push_back("--bind-address=127.0.0.1");
  auto loaded = config::load(demo_arguments, config::process_environment(), ".env");
  if (!loaded) {
    std::cerr << "switchboard: the configuration is invalid:\n"
              << config::format_errors(loaded.error());
    return 2;
  }
  config::settings settings = *loaded;
  settings.public_url.reset();  // the simulated Twilio reaches the server directly
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

  auto server = bridge_server::start(settings);
  if (!server) {
    std::cerr << "switchboard demo: cannot start the server: " << server.error() << "\n";
    return 1;
  }
  const auto port = std::to_string((*server)->port());

  sim::twilio_caller_options caller;
  caller.webhook_url = "http://127.0.0.1:" + port + "/incoming-call";
  caller.auth_token = settings.twilio_auth_token;
  caller.stream_connect_address = "127.0.0.1:" + port;
  caller.from = "+14155550100";
  caller.to = "+14155550199";
  caller.script = demo_script();
  spdlog::info("simulated Twilio call to {} via {}", caller.to, caller.webhook_url);
  auto result = sim::twilio_caller::run(sim_io, caller).get();
  if (!result.ok()) {
    std::cerr << "switchboard demo: the simulated call failed: " << result.error << "\n";
    (*server)->stop();
    return 1;
  }
  auto finished = (*server)->calls().wait_for_finished(1, 60s);
  (*server)->stop();
  if (finished.empty()) {
    std::cerr << "switchboard demo: the call did not finish\n";
    return 1;
  }
  print_summary(finished.front(), result);
  return finished.front().directory.empty() ? 1 : 0;
}

}  // namespace switchboard::app
