// A model that fails at call start or mid-call, over real sockets: the model stand-in accepts
// the upgrade and then says nothing (mute), goes mute mid-call, or refuses with 429. The bridge
// must notice, reconnect, and when that fails too let the caller hear the apology prompt before
// it hangs up — with an outcome that says so and the metrics moved.
#include "audio/prompts.hpp"
#include "bridge_harness.hpp"
#include "sim/speech_fixtures.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

/// Short timeouts so that each case takes seconds: 1 s to be configured, 2 s of quiet.
bridge_harness::options quick_watch() {
  bridge_harness::options options;
  options.configure = [](config::settings& settings) {
    settings.model_ready_timeout_s = 1;
    settings.model_silence_timeout_s = 2;
  };
  return options;
}

bool contains(std::span<const std::uint8_t> haystack, std::span<const std::uint8_t> needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

double failures(bridge_harness& harness, metrics::model_link_failure reason) {
  return harness.server().metrics().model_link_failures(reason).Value();
}

/// The call ended because the model could not be reached, and the caller heard the whole
/// apology before the bridge hung up; the agent track holds it too.
void check_ended_with_apology(bridge_harness& harness, const sim::twilio_call_result& result) {
  CHECK(result.ok());
  CHECK(result.server_closed_first);
  const auto prompt = audio::model_unavailable_prompt();
  CHECK(contains(result.heard_audio, prompt));
  CHECK(result.marks_echoed == result.marks_received);

  auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  const auto& outcome = finished.front();
  CHECK(outcome.end_reason == "model unavailable");
  REQUIRE_FALSE(outcome.problems.empty());
  CHECK(outcome.problems.front().find("model unavailable") != std::string::npos);
  CHECK(contains(wav_audio(outcome.directory / "agent.wav"), prompt));
  CHECK(read_text(outcome.directory / "transcript.jsonl")
            .find(std::string(audio::model_unavailable_prompt_text())) != std::string::npos);
  CHECK(read_text(outcome.directory / "call.json").find("\"model unavailable\"") !=
        std::string::npos);
  auto& node = harness.server().metrics();
  CHECK(node.calls_ended(metrics::call_end::model_unavailable).Value() == 1);
  CHECK(node.calls_ended(metrics::call_end::completed).Value() == 0);
  CHECK(node.model_outages(metrics::model_outage_result::gave_up).Value() == 1);
}

}  // namespace

TEST_CASE(
    "a model that accepts the upgrade and says nothing: retried, then the caller hears "
    "the apology and the bridge hangs up",
    "[end_to_end][model_faults]") {
  auto options = quick_watch();
  options.model.mute_first_connections = 100;
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::silence(200ms), sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::silence(30s),  // the bridge ends the call long before
  }));
  check_ended_with_apology(harness, result);
  const auto stats = harness.model().stats();
  CHECK(stats.sessions_opened == 3);  // reconnect.max_attempts
  CHECK(stats.sessions_muted == 3);
  CHECK(failures(harness, metrics::model_link_failure::ready_timeout) == 3);
}

TEST_CASE("a first model connection that says nothing is replaced and the call goes on",
          "[end_to_end][model_faults]") {
  auto options = quick_watch();
  options.model.mute_first_connections = 1;
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(500ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  CHECK_FALSE(result.server_closed_first);
  // The answer is the model's, not the apology.
  CHECK_FALSE(contains(result.heard_audio, audio::model_unavailable_prompt().first(4000)));
  const auto stats = harness.model().stats();
  CHECK(stats.sessions_opened == 2);
  CHECK(stats.sessions_muted == 1);
  auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK(finished.front().problems.empty());
  // The caller's first words were held for the second connection, not lost in the mute one.
  CHECK(stats.speech_turns >= 1);
  CHECK(failures(harness, metrics::model_link_failure::ready_timeout) == 1);
  auto& node = harness.server().metrics();
  CHECK(node.model_outages(metrics::model_outage_result::recovered).Value() == 1);
  CHECK(node.calls_ended(metrics::call_end::completed).Value() == 1);
}

TEST_CASE(
    "a model that goes mute mid-call: lost, reconnected to a mute model, then the caller "
    "hears the apology",
    "[end_to_end][model_faults]") {
  auto options = quick_watch();
  bridge_harness harness(options);
  std::promise<void> never;
  auto& model = harness.model();
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(300ms),
      // From here the model says nothing, and neither do the two reconnects.
      sim::hold_until(never.get_future().share(), [&model] { model.mute_sessions(2); }),
  }));
  CHECK(result.agent_bytes_played >= 300 * 8);
  check_ended_with_apology(harness, result);
  const auto stats = harness.model().stats();
  CHECK(stats.sessions_opened == 3);
  CHECK(stats.sessions_muted == 3);
  CHECK(failures(harness, metrics::model_link_failure::silent) == 1);
  CHECK(failures(harness, metrics::model_link_failure::ready_timeout) == 2);
}

TEST_CASE(
    "a model that refuses with 429 at call start: retried, then the caller hears the "
    "apology before the hang-up",
    "[end_to_end][model_faults]") {
  auto options = quick_watch();
  options.model.refuse_status = 429;
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::silence(30s),
  }));
  check_ended_with_apology(harness, result);
  CHECK(harness.model().stats().upgrades_refused == 3);
  CHECK(failures(harness, metrics::model_link_failure::refused) == 3);
}

TEST_CASE("a live model and a silent caller: the probe is answered and the link kept",
          "[end_to_end][model_faults]") {
  auto options = quick_watch();
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(300ms),
      // The answer was generated long before it is heard; the model then hears silence and
      // says nothing: probed after each second of quiet.
      sim::silence(5s),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  CHECK_FALSE(result.server_closed_first);
  const auto stats = harness.model().stats();
  CHECK(stats.sessions_opened == 1);
  CHECK(stats.session_updates >= 3);  // the configuration and at least two probes
  CHECK(stats.session_updates_rejected == 0);
  auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK(finished.front().model_reconnects == 0);
  CHECK(failures(harness, metrics::model_link_failure::silent) == 0);
}

namespace {

/// The longest stretch of 20 ms ticks in which the caller heard nothing (μ-law 0xFF throughout),
/// between the first and the last tick with sound: the gap a caller notices.
std::chrono::milliseconds longest_silence_inside(std::span<const std::uint8_t> heard) {
  constexpr std::size_t tick = 160;
  const auto silent = [&](std::size_t i) {
    const auto frame = heard.subspan(i * tick, tick);
    return std::all_of(frame.begin(), frame.end(), [](std::uint8_t b) { return b == 0xFF; });
  };
  const std::size_t ticks = heard.size() / tick;
  std::size_t first = 0;
  while (first < ticks && silent(first))
    ++first;
  std::size_t last = ticks;
  while (last > first && silent(last - 1))
    --last;
  std::size_t longest = 0;
  std::size_t run = 0;
  for (std::size_t i = first; i < last; ++i) {
    run = silent(i) ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::chrono::milliseconds(longest * 20);
}

}  // namespace

TEST_CASE(
    "a model link lost while the agent speaks: the new session is told the conversation before "
    "the caller's audio, and the answer goes on from where the caller stopped hearing it",
    "[end_to_end][model_faults][reconnect]") {
  bridge_harness::options options;
  // The stand-in speaks in real time (100 ms of audio every 100 ms), so the drop cuts its
  // answer in the middle, as a real model's would be.
  options.model.delta_interval = 100ms;
  options.reconnect = actors::reconnect_policy{};  // production's backoff: 250 ms ± 25 %
  options.configure = [](config::settings& settings) {
    settings.openai_transcription_model = "whisper-1";  // the caller's turns, in words
  };
  bridge_harness harness(options);
  auto& model = harness.model();
  std::promise<void> dropped;
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 1500ms)),
      sim::wait_for_agent_audio(1000ms),
      sim::hold_until(dropped.get_future().share(),
                      [&] {
                        model.close_sessions();
                        dropped.set_value();
                      }),
      sim::wait_for_agent_audio(3000ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  const auto stats = model.stats();
  REQUIRE(stats.sessions_opened == 2);

  // The second session was given the call so far: the caller's turn and the agent's words up
  // to the drop, before any of the caller's audio reached it and before anything was committed.
  std::vector<sim::model_item_received> replayed;
  for (const auto& item : stats.items_received) {
    if (item.connection == 2)
      replayed.push_back(item);
  }
  REQUIRE(replayed.size() >= 2);
  for (const auto& item : replayed) {
    CHECK(item.appends_before == 0);
    CHECK(item.commits_before == 0);
  }
  CHECK(replayed[0].role == "user");
  CHECK(replayed[0].text.find("caller spoke for") != std::string::npos);
  CHECK(replayed[1].role == "assistant");
  CHECK_FALSE(replayed[1].text.empty());
  // ...and asked to go on from the words the caller heard, not to start over.
  REQUIRE_FALSE(stats.response_instructions.empty());
  const auto& continuation = stats.response_instructions.back();
  CHECK(continuation.find("dropped") != std::string::npos);
  CHECK(continuation.find(replayed[1].text) != std::string::npos);

  const auto outcome = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(outcome.size() == 1);
  CHECK(outcome.front().model_reconnects == 1);

  // The figure of the closing note: the longest quiet the caller heard inside the agent's
  // speech (the speech fixtures have no stretch of digital silence of their own).
  const auto gap = longest_silence_inside(result.heard_audio);
  const auto fixture_gap =
      longest_silence_inside(sim::fixture_audio(sim::speech_fixture::agent_greeting));
  std::printf(
      "model reconnect: longest silence the caller heard inside the agent's speech: %lld "
      "ms (the fixture's own: %lld ms)\n",
      static_cast<long long>(gap.count()), static_cast<long long>(fixture_gap.count()));
}

TEST_CASE(
    "a session at the end of its lifetime: the next one is opened, told the conversation, and "
    "takes over between turns before the model ends the old one",
    "[end_to_end][model_faults][lifetime]") {
  bridge_harness::options options;
  // The API's 60 minutes and the bridge's 5-minute lead, shortened: the stand-in ends each
  // session 6 s after it opens; the bridge opens the next 3 s before that.
  options.model.session_lifetime = 6s;
  options.model_session = {.lifetime = 6s, .renew_before = 3s, .retry = 1s};
  options.configure = [](config::settings& settings) {
    settings.openai_transcription_model = "whisper-1";
    settings.max_call_duration_s = 0;  // the call may outlast a session
  };
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 1000ms)),
      sim::wait_for_agent_audio(1000ms),
      sim::wait_for_agent_silence(400ms),
      sim::silence(3500ms),  // past the renewal: the switch comes in this pause
      sim::speak(first(sim::speech_fixture::caller_request, 1000ms)),
      sim::wait_for_agent_audio(500ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  const auto stats = harness.model().stats();
  // A new session every 3 s of a call of about 16 s (the agent's first answer is 10.7 s long),
  // each switched to before the model ended the one before.
  CHECK(stats.sessions_opened >= 3);
  CHECK(stats.sessions_expired == 0);
  // Each new session learnt the call before it heard anything.
  for (std::uint64_t connection = 2; connection <= stats.sessions_opened; ++connection) {
    std::vector<sim::model_item_received> replayed;
    for (const auto& item : stats.items_received) {
      if (item.connection == connection)
        replayed.push_back(item);
    }
    INFO("connection " << connection);
    if (connection == stats.sessions_opened && replayed.empty())
      continue;  // opened ahead, the call ended before it was needed
    REQUIRE(replayed.size() >= 2);
    CHECK(replayed[0].role == "user");
    CHECK(replayed[1].role == "assistant");
    CHECK(replayed[0].appends_before == 0);
    CHECK(replayed[0].commits_before == 0);
  }
  // The caller's second turn was heard and answered.
  CHECK(stats.speech_turns >= 2);
  // Switches, not reconnects: the call saw no outage.
  const auto outcome = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(outcome.size() == 1);
  CHECK(outcome.front().model_reconnects == 0);
  CHECK(outcome.front().problems.empty());
}
