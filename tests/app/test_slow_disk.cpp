// The io threads never wait on the disk (issue 13 §3): the recordings' writes and closes, the
// call's directory and its files go through the node's file thread. Here the file layer's
// delay fault stalls the disk mid-call, with every call's tracks open, for longer than any call
// lasts, through the whole server: every call still hears the agent answer it (its audio round
// trip completes) while no call can finish (their closes wait for the disk); once the disk
// recovers, every call is finished with its tracks whole and call.json written after them.
#include "audio/disk_fault.hpp"
#include "audio/wav_format.hpp"
#include "audio_test_support.hpp"
#include "bridge_harness.hpp"
#include "cluster/process_support.hpp"
#include "sim/speech_fixtures.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

using audio::scoped_disk_fault;

std::size_t files_named(const std::filesystem::path& root, const std::string& name) {
  std::size_t found = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
    found += entry.path().filename() == name ? 1 : 0;
  return found;
}

using switchboard::testing::cluster::eventually;

}  // namespace

TEST_CASE("a stalled disk holds back the calls' files and never their audio", "[slow_disk]") {
  constexpr int call_count = 3;
  bridge_harness harness;
  // The calls begin on a healthy disk and hold there until their tracks exist: from then on
  // every write of theirs goes to an open file (on the io threads, before, it would have
  // blocked there).
  std::promise<void> release;
  const auto released = release.get_future().share();
  std::vector<std::future<sim::twilio_call_result>> calls;
  for (int i = 0; i < call_count; ++i) {
    calls.push_back(harness.start(harness.call({
        sim::silence(200ms),
        sim::hold_until(released, nullptr),
        sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
        sim::wait_for_agent_audio(300ms),
        sim::silence(200ms),
        sim::hangup(),
    })));
  }
  REQUIRE(eventually([&] {
    return files_named(harness.recordings(), "caller.wav") == call_count &&
           files_named(harness.recordings(), "agent.wav") == call_count;
  }));

  // Now every write and sync waits ten minutes, or until the fault is cleared below.
  std::optional<scoped_disk_fault> stalled;
  stalled.emplace(audio::disk_fault{.delay = std::chrono::minutes(10)});
  release.set_value();
  for (auto& call : calls) {
    const auto result = call.get();
    INFO(result.error);
    REQUIRE(result.ok());  // the caller spoke and heard the agent answer
    CHECK(result.script_completed);
    CHECK(result.agent_bytes_played >= 300 * 8);
  }
  // Meanwhile the disk took nothing: each call's end waits for its tracks' closes, and so do
  // its summary files.
  CHECK(harness.server().calls().finished_calls() == 0);
  CHECK(files_named(harness.recordings(), "call.json") == 0);

  stalled.reset();  // the disk recovers
  const auto finished = harness.server().calls().wait_for_finished(call_count, 60s);
  REQUIRE(finished.size() == call_count);
  for (const auto& outcome : finished) {
    INFO(outcome.call_sid);
    CHECK(outcome.problems.empty());
    REQUIRE_FALSE(outcome.directory.empty());
    const auto summary = boost::json::parse(read_text(outcome.directory / "call.json"));
    CHECK(summary.at("call_sid").as_string() == outcome.call_sid);
    // Both tracks closed, headers final, as long as each other and holding the whole call.
    std::uint64_t track_bytes[2] = {0, 0};
    int track = 0;
    for (const char* name : {"caller.wav", "agent.wav"}) {
      INFO(name);
      const auto path = (outcome.directory / name).string();
      const auto info = audio::parse_wav_file(path);
      REQUIRE(info.has_value());
      CHECK(info->size_finalised);
      CHECK(info->data_offset + info->data_bytes + info->data_bytes % 2 == info->file_size);
      const auto soxi = audio::test::run_soxi(path);
      REQUIRE(soxi.has_value());
      CHECK(soxi->samples == info->data_bytes);
      track_bytes[track++] = info->data_bytes;
    }
    CHECK(track_bytes[0] == track_bytes[1]);
    // At least the caller's request and the agent's answer (ms of μ-law = bytes / 8).
    CHECK(track_bytes[0] >= (800 + 300) * 8);
    CHECK(std::filesystem::exists(outcome.directory / "stereo.wav"));
  }
}
