// Whole calls over real sockets: the simulated Twilio caller → bridge_server → the Realtime
// model stand-in, with recordings checked by sox/ffprobe. Each call runs at real-time pace, so
// scripts are short.
#include "audio_test_support.hpp"
#include "bridge_harness.hpp"
#include "net/websocket_client.hpp"
#include "sim/speech_fixtures.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

/// The shortest useful call: a short question, then listen until `heard` of the answer played.
std::vector<sim::caller_step> ask_and_listen(std::chrono::milliseconds heard) {
  return {
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(heard),
      sim::hangup(),
  };
}

std::size_t count_not_silent(std::span<const std::uint8_t> audio) {
  return static_cast<std::size_t>(
      std::count_if(audio.begin(), audio.end(), [](std::uint8_t b) { return b != 0xFF; }));
}

actors::call_outcome only_outcome(bridge_harness& harness) {
  auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  return finished.front();
}

}  // namespace

TEST_CASE("a call with a barge-in: the agent is cut where the caller heard it, and recorded so",
          "[end_to_end]") {
  bridge_harness harness;
  auto call = harness.call({
      sim::silence(300ms),
      sim::speak(first(sim::speech_fixture::caller_request, 1500ms)),
      sim::wait_for_agent_audio(1000ms),
      sim::speak(first(sim::speech_fixture::caller_interruption, 1000ms)),
      // Shorter than the model's 500 ms end-of-turn silence: no second answer starts.
      sim::silence(300ms),
      sim::hangup(),
  });
  const auto result = harness.place(call);
  REQUIRE(result.ok());
  CHECK(result.upgrade_status == 101);
  REQUIRE(result.clears_received >= 1);
  CHECK(result.agent_bytes_played >= 1000 * 8);

  const auto outcome = only_outcome(harness);
  CHECK(outcome.call_sid == result.call_sid);
  CHECK(outcome.barge_ins == 1);
  CHECK(outcome.truncations == 1);
  CHECK(outcome.malformed_frames == 0);
  CHECK(outcome.frames_in == result.media_frames_sent);
  CHECK(outcome.problems.empty());

  // The model was told exactly what the caller heard, and accepted it.
  const auto stats = harness.model().stats();
  REQUIRE(stats.truncates.size() == 1);
  CHECK(stats.truncates_rejected == 0);
  const auto heard_ms = stats.truncates[0].audio_end_ms;
  CHECK(heard_ms >= 1000);
  CHECK(heard_ms < 10'000);
  REQUIRE(stats.last_session.has_value());
  CHECK(stats.last_session->input_format == "audio/pcmu");
  CHECK(stats.last_session->output_format == "audio/pcmu");
  CHECK(stats.last_session->voice == "marin");

  // Recordings: every file, opened by the real tools.
  const auto& dir = outcome.directory;
  for (const char* file :
       {"caller.wav", "agent.wav", "stereo.wav", "mono.wav", "transcript.jsonl", "call.json"}) {
    CHECK(std::filesystem::exists(dir / file));
  }
  auto caller_probe = audio::test::run_ffprobe((dir / "caller.wav").string());
  auto agent_probe = audio::test::run_ffprobe((dir / "agent.wav").string());
  auto stereo_probe = audio::test::run_ffprobe((dir / "stereo.wav").string());
  REQUIRE(caller_probe.has_value());
  REQUIRE(agent_probe.has_value());
  REQUIRE(stereo_probe.has_value());
  CHECK(caller_probe->codec_name == "pcm_mulaw");
  CHECK(caller_probe->sample_rate == 8000);
  CHECK(caller_probe->channels == 1);
  CHECK(agent_probe->codec_name == "pcm_mulaw");
  CHECK(stereo_probe->codec_name == "pcm_s16le");
  CHECK(stereo_probe->channels == 2);
  auto agent_soxi = audio::test::run_soxi((dir / "agent.wav").string());
  REQUIRE(agent_soxi.has_value());
  CHECK(agent_soxi->encoding == "u-law");

  // Both tracks are as long as the call (20 ms per frame the caller sent), within 40 ms.
  const double call_s = static_cast<double>(result.media_frames_sent) * 0.020;
  CHECK(std::abs(caller_probe->duration_s - call_s) <= 0.040);
  CHECK(std::abs(agent_probe->duration_s - call_s) <= 0.040);

  // The agent track: silent while the agent was (the caller's first turn), then what the
  // caller heard, then silent again from the barge-in on.
  const auto agent = wav_audio(dir / "agent.wav");
  const std::size_t first_turn_end = (300 + 1500) * 8;
  REQUIRE(agent.size() > first_turn_end);
  CHECK(count_not_silent(std::span(agent).first(first_turn_end)) == 0);
  // What the track holds is the agent's own audio, byte for byte (half a second of it).
  const auto greeting = sim::fixture_audio(sim::speech_fixture::agent_greeting);
  const auto speech_start = static_cast<std::size_t>(
      std::find_if(greeting.begin(), greeting.end(), [](std::uint8_t b) { return b != 0xFF; }) -
      greeting.begin());
  const auto excerpt = greeting.subspan(speech_start, 4000);
  CHECK(std::search(agent.begin(), agent.end(), excerpt.begin(), excerpt.end()) != agent.end());
  const auto clear_at =
      static_cast<std::size_t>(result.clears[0].since_stream_start.count() + 100) * 8;
  REQUIRE(clear_at < agent.size());
  CHECK(count_not_silent(std::span(agent).subspan(clear_at)) == 0);

  // call.json and the transcript.
  boost::system::error_code ec;
  auto summary = boost::json::parse(read_text(dir / "call.json"), ec);
  REQUIRE_FALSE(ec);
  CHECK(summary.at("call_sid").as_string() == result.call_sid);
  CHECK(summary.at("barge_ins").to_number<int>() == 1);
  CHECK(summary.at("frames").at("malformed").to_number<int>() == 0);
  // The playout clock's record of what was heard matches what the caller heard (100 ms).
  const auto recorded_agent_ms = summary.at("playout").at("agent_ms").to_number<std::int64_t>();
  const auto caller_heard_ms = static_cast<std::int64_t>(result.agent_bytes_played / 8);
  CHECK(std::abs(recorded_agent_ms - caller_heard_ms) <= 100);
  CHECK(recorded_agent_ms <= static_cast<std::int64_t>(heard_ms) + 100);
  std::istringstream transcript(read_text(dir / "transcript.jsonl"));
  std::string line;
  int lines = 0;
  while (std::getline(transcript, line)) {
    auto entry = boost::json::parse(line, ec);
    REQUIRE_FALSE(ec);
    CHECK(entry.at("speaker").is_string());
    ++lines;
  }
  CHECK(lines >= 1);
}

TEST_CASE("20 concurrent calls each get their own model session and lose no frame",
          "[end_to_end]") {
  bridge_harness harness;
  constexpr int calls = 20;
  std::vector<std::future<sim::twilio_call_result>> running;
  for (int i = 0; i < calls; ++i) {
    std::promise<sim::twilio_call_result> done;
    running.push_back(std::async(std::launch::async, [&harness] {
      return harness.place(harness.call(ask_and_listen(400ms)));
    }));
  }
  std::map<std::string, sim::twilio_call_result> results;
  for (auto& call : running) {
    auto result = call.get();
    CHECK(result.ok());
    CHECK(result.agent_bytes_played >= 400 * 8);
    results[result.call_sid] = std::move(result);
  }
  REQUIRE(results.size() == calls);
  const auto finished = harness.server().calls().wait_for_finished(calls, 60s);
  REQUIRE(finished.size() == calls);
  for (const auto& outcome : finished) {
    REQUIRE(results.contains(outcome.call_sid));
    CHECK(outcome.frames_in == results[outcome.call_sid].media_frames_sent);
    CHECK(std::filesystem::exists(outcome.directory / "call.json"));
  }
  CHECK(harness.model().stats().sessions_opened == calls);
  CHECK(harness.server().calls().active_calls() == 0);
}

TEST_CASE("a model that refuses: retried with backoff, then the call ends cleanly, recorded",
          "[end_to_end]") {
  bridge_harness::options options;
  options.model.refuse_status = 503;
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      // Longer than the retries and the apology the caller hears before the bridge hangs up.
      sim::silence(30s),
      sim::hangup(),
  }));
  CHECK(result.server_closed_first);
  CHECK(result.ok());
  const auto outcome = only_outcome(harness);
  CHECK(harness.model().stats().upgrades_refused == 3);  // reconnect.max_attempts
  REQUIRE_FALSE(outcome.problems.empty());
  CHECK(outcome.problems.front().find("model unavailable") != std::string::npos);
  CHECK(std::filesystem::exists(outcome.directory / "call.json"));
  // The call ended after the retries, before the caller was done: what there was is recorded.
  auto caller = audio::test::run_ffprobe((outcome.directory / "caller.wav").string());
  REQUIRE(caller.has_value());
  CHECK(caller->codec_name == "pcm_mulaw");
  CHECK(caller->duration_s > 0.0);
}

TEST_CASE("a model connection lost mid-call is re-established and the call goes on",
          "[end_to_end]") {
  bridge_harness::options options;
  options.model.drop_after = 600ms;
  options.model.drop_first_connections = 1;
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 1500ms)),
      sim::wait_for_agent_audio(500ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  CHECK_FALSE(result.server_closed_first);
  const auto stats = harness.model().stats();
  CHECK(stats.connections_dropped == 1);
  CHECK(stats.sessions_opened == 2);
  CHECK(stats.session_updates == 2);  // the session configuration is sent again
  const auto outcome = only_outcome(harness);
  CHECK(outcome.model_reconnects == 1);
  CHECK(outcome.frames_in == result.media_frames_sent);
  CHECK(std::filesystem::exists(outcome.directory / "mono.wav"));
}

TEST_CASE("a media stream that breaks mid-call goes on as the call's next part on the same node",
          "[end_to_end][continuation]") {
  bridge_harness harness;
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(300ms),
      // The line between Twilio and the node breaks; Twilio asks the <Connect action> what next.
      sim::drop_connection(),
      // On the new stream the agent speaks first: it says the line dropped.
      sim::wait_for_agent_audio(300ms),
      sim::hangup(),
  }));
  INFO("error: " << result.error << " action error: " << result.action_error);
  REQUIRE(result.ok());
  CHECK(result.script_completed);
  CHECK(result.streams == 2);
  REQUIRE(result.actions.size() == 1);
  CHECK(result.actions[0].outcome == sim::connect_action_outcome::connect);

  // Two parts, one after the other on this node: the first ended with its socket, the second
  // knows it came after a dropped line (no greeting, the apology first).
  auto finished = harness.server().calls().wait_for_finished(2, 30s);
  REQUIRE(finished.size() == 2);
  std::sort(finished.begin(), finished.end(), [](const auto& a, const auto& b) {
    return a.directory.filename() < b.directory.filename();
  });
  CHECK(finished[0].call_sid == finished[1].call_sid);
  CHECK(finished[0].end_reason.starts_with("socket closed"));
  CHECK(finished[1].directory.filename() == finished[1].call_sid + "-part2");
  const auto summary = boost::json::parse(read_text(finished[1].directory / "call.json"));
  const auto& parts = summary.at("parts").as_array();
  REQUIRE(parts.size() == 2);
  CHECK(std::string_view(parts[0].at("end_reason").as_string()).starts_with("socket closed"));
  CHECK(parts[1].as_object().contains("gap_ms"));
  CHECK(read_text(finished[1].directory / "transcript.jsonl").find("[the line dropped") !=
        std::string::npos);
  const auto stats = harness.model().stats();
  CHECK(std::any_of(stats.response_instructions.begin(), stats.response_instructions.end(),
                    [](const std::string& text) {
                      return text.find("The phone line dropped") != std::string::npos;
                    }));
  CHECK(harness.server()
            .metrics()
            .connect_actions(metrics::connect_action_result::continued)
            .Value() == 1);
  CHECK(harness.server().calls().active_calls() == 0);
}

TEST_CASE("malformed frames mid-call are counted and the call survives", "[end_to_end]") {
  bridge_harness harness;
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::send_raw("{not json"),
      sim::send_raw(R"({"event":"media","streamSid":"MZ1"})"),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(300ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  CHECK(result.agent_bytes_played >= 300 * 8);
  const auto outcome = only_outcome(harness);
  CHECK(outcome.malformed_frames == 2);
  CHECK(outcome.frames_in == result.media_frames_sent);
}

namespace {
class refused_probe final : public net::websocket_handler {
 public:
  void on_open(std::shared_ptr<net::websocket_connection>) override { outcome.set_value(101); }
  void on_message(std::string, bool) override {}
  void on_close(net::websocket_closed) override {}
  void on_connect_failed(net::websocket_connect_failure why) override {
    outcome.set_value(why.http_status);
  }
  std::promise<unsigned> outcome;
};
}  // namespace

TEST_CASE("an unsigned or wrongly signed media-stream upgrade gets 403 and no model connection",
          "[end_to_end]") {
  bridge_harness harness;
  boost::asio::io_context io;
  const auto url = "ws://127.0.0.1:" + std::to_string(harness.server().port()) + "/media-stream";
  for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {}, {{"X-Twilio-Signature", "XFfwGS2Ev7f9qAP9MmRoMS7C724="}}}) {
    auto probe = std::make_shared<refused_probe>();
    auto status = probe->outcome.get_future();
    net::connect_websocket(io, {.url = url, .headers = headers}, probe);
    io.restart();
    io.run();
    CHECK(status.get() == 403);
  }
  // A caller with the wrong auth token is refused at the webhook already.
  auto call = harness.call({sim::hangup()});
  call.auth_token = "not-the-token";
  const auto result = harness.place(call);
  CHECK(result.webhook_status == 403);
  CHECK_FALSE(result.ok());
  CHECK(harness.model().stats().sessions_opened == 0);
}

TEST_CASE("the model over wss:// with a self-signed CA trusted through SSL_CERT_FILE",
          "[end_to_end]") {
  bridge_harness::options options;
  options.model_over_tls = true;
  bridge_harness harness(options);
  const auto result = harness.place(harness.call(ask_and_listen(300ms)));
  REQUIRE(result.ok());
  CHECK(result.agent_bytes_played >= 300 * 8);
  CHECK(harness.model().stats().sessions_opened == 1);
  CHECK(only_outcome(harness).problems.empty());
}

TEST_CASE("recordings that cannot be written are reported and the audio bridge keeps working",
          "[end_to_end]") {
  temporary_directory scratch;
  // A regular file where the recordings directory should be: nothing can be created under it.
  const auto blocked = scratch.path() / "not-a-directory";
  std::ofstream(blocked) << "x";
  bridge_harness::options options;
  options.recordings_dir = blocked / "recordings";
  bridge_harness harness(options);
  const auto result = harness.place(harness.call(ask_and_listen(300ms)));
  REQUIRE(result.ok());
  CHECK(result.agent_bytes_played >= 300 * 8);  // the caller still heard the agent
  const auto outcome = only_outcome(harness);
  CHECK(outcome.directory.empty());
  REQUIRE_FALSE(outcome.problems.empty());
  CHECK(outcome.problems.front().find("not-a-directory") != std::string::npos);
}

TEST_CASE("RECORDINGS=off: no audio is kept, the call's summary and transcript still are",
          "[end_to_end]") {
  bridge_harness::options options;
  options.recordings = false;
  bridge_harness harness(options);
  const auto result = harness.place(harness.call(ask_and_listen(300ms)));
  REQUIRE(result.ok());
  CHECK(result.agent_bytes_played >= 300 * 8);
  const auto outcome = only_outcome(harness);
  CHECK(outcome.problems.empty());
  REQUIRE_FALSE(outcome.directory.empty());
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(outcome.directory))
    files.push_back(entry.path().filename().string());
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{"call.json", "transcript.jsonl"});
  const auto call = boost::json::parse(read_text(outcome.directory / "call.json")).as_object();
  CHECK(call.at("files").as_array() == boost::json::array{"transcript.jsonl", "call.json"});
}
