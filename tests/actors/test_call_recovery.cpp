// Calls a crashed node left half-written (actors/call_recovery): the marker a running call's
// directory holds, which directories a restarted node takes as its own, and how one is
// finished — tracks repaired to the audio in the file, the mixes, call.json "node crashed".
#include "actors/call_recovery.hpp"
#include "actors/call_summary.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"
#include "support/temporary_directory.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace switchboard;
using namespace switchboard::actors;
using switchboard::testing::read_text;
using switchboard::testing::temporary_directory;

namespace {

call_marker marker_of(std::string node, std::string process, std::string call_sid) {
  call_marker marker;
  marker.node = std::move(node);
  marker.process = std::move(process);
  marker.identity.call_sid = std::move(call_sid);
  marker.identity.stream_sid = "MZ1";
  marker.identity.from = "+14155550100";
  marker.identity.to = "+14155550199";
  marker.direction = "inbound";
  // 2026-12-01T10:00:00Z
  marker.started_at = std::chrono::system_clock::time_point(std::chrono::seconds(1'796'119'200));
  return marker;
}

/// A track as a killed process leaves it: `checkpointed_ms` of audio that the header counts,
/// then `unchecked_ms` more that reached the file after the last checkpoint (copied from the
/// file while its writer is still open, as kill -9 would leave it).
void write_killed_track(const std::filesystem::path& path, std::uint64_t checkpointed_ms,
                        std::uint64_t unchecked_ms) {
  const auto scratch = path.string() + ".writing";
  auto writer = audio::wav_writer::create(scratch, audio::wav_format::mulaw_8k_mono());
  REQUIRE(writer.has_value());
  REQUIRE(writer->append(std::vector<std::uint8_t>(checkpointed_ms * 8, 0x22)).has_value());
  REQUIRE(writer->checkpoint().has_value());
  // Less than a checkpoint's worth: written to the file, not yet counted by the header.
  REQUIRE(writer->append(std::vector<std::uint8_t>(unchecked_ms * 8, 0x33)).has_value());
  REQUIRE(writer->flush_data().has_value());
  REQUIRE(writer->checkpointed_bytes() == checkpointed_ms * 8);
  std::filesystem::copy_file(scratch, path);
  REQUIRE(writer->close().has_value());
  std::filesystem::remove(scratch);
}

}  // namespace

TEST_CASE("a call marker names its node and process and reads back", "[call_recovery]") {
  const auto marker = marker_of("node-a", "123-456-7", "CA42");
  const auto parsed = parse_call_marker(call_marker_json(marker));
  REQUIRE(parsed);
  CHECK(parsed->node == "node-a");
  CHECK(parsed->process == "123-456-7");
  CHECK(parsed->identity.call_sid == "CA42");
  CHECK(parsed->identity.from == "+14155550100");
  CHECK(parsed->started_at == marker.started_at);
  CHECK(parsed->part == 1);
  auto second_part = marker;
  second_part.part = 2;
  CHECK(parse_call_marker(call_marker_json(second_part))->part == 2);
  CHECK_FALSE(parse_call_marker("{\"node\":\"a\"}"));
  CHECK_FALSE(parse_call_marker("not json"));
  CHECK_FALSE(parse_call_marker("[1,2]"));
}

TEST_CASE("a handed-over call's later part gets a directory named for its part",
          "[call_recovery]") {
  temporary_directory root;
  std::string error;
  const auto first =
      make_marked_call_directory(root.path(), marker_of("node-a", "p", "CA7"), error);
  auto later = marker_of("node-b", "p", "CA7");
  later.part = 3;
  const auto third = make_marked_call_directory(root.path(), later, error);
  CHECK(error.empty());
  CHECK(first.filename() == "CA7");
  CHECK(third.filename() == "CA7-part3");
  CHECK(read_call_marker(third)->part == 3);
  // Taken (the same part again on this disk): suffixed, never overwritten.
  CHECK(make_marked_call_directory(root.path(), later, error).filename() == "CA7-part3-2");
}

TEST_CASE("a restarted node finds only its own earlier process's unfinished calls",
          "[call_recovery]") {
  temporary_directory root;
  std::string error;
  const auto ours =
      make_marked_call_directory(root.path(), marker_of("node-a", "earlier-process", "CA1"), error);
  REQUIRE(error.empty());
  REQUIRE(std::filesystem::exists(ours / call_marker_name));
  // Another node's call (a shared RECORDINGS_DIR), and a call this very process is running.
  make_marked_call_directory(root.path(), marker_of("node-b", "earlier-process", "CA2"), error);
  make_marked_call_directory(root.path(), marker_of("node-a", process_instance_id(), "CA3"), error);
  // A finished call: no marker.
  std::filesystem::create_directories(root.path() / "2026-12-01" / "CA4");

  const auto found = find_unfinished_calls(root.path(), "node-a");
  REQUIRE(found.size() == 1);
  CHECK(found[0] == ours);
}

TEST_CASE(
    "an unfinished call is finished: tracks repaired and mixed and call.json says node crashed",
    "[call_recovery]") {
  temporary_directory root;
  std::string error;
  const auto directory =
      make_marked_call_directory(root.path(), marker_of("node-a", "earlier-process", "CA7"), error);
  REQUIRE(error.empty());
  // The caller's track had 1 s checkpointed and 120 ms more in the file; the agent's 900 ms.
  write_killed_track(directory / "caller.wav", 1000, 120);
  write_killed_track(directory / "agent.wav", 900, 0);

  call_directory calls;
  const auto now = std::chrono::system_clock::now();
  const auto summary = recover_unfinished_calls(root.path(), "node-a", calls, now);
  CHECK(summary.found == 1);
  CHECK(summary.finished == 1);
  CHECK(summary.failed == 0);

  auto caller = audio::parse_wav_file((directory / "caller.wav").string());
  REQUIRE(caller.has_value());
  CHECK(caller->duration_ms() == 1120);  // the audio after the last checkpoint is counted
  CHECK(std::filesystem::exists(directory / "stereo.wav"));
  CHECK(std::filesystem::exists(directory / "mono.wav"));
  CHECK_FALSE(std::filesystem::exists(directory / call_marker_name));

  const auto json = boost::json::parse(read_text(directory / "call.json")).as_object();
  CHECK(json.at("end_reason").as_string() == "node crashed");
  CHECK(json.at("call_sid").as_string() == "CA7");
  CHECK(json.at("from").as_string() == "+14155550100");
  CHECK(json.at("started_at").as_string() == "2026-12-01T10:00:00.000Z");
  CHECK(json.at("duration_ms").as_int64() == 1120);
  const auto& files = json.at("files").as_array();
  CHECK(files.size() == 5);  // the tracks, the mixes and call.json

  const auto recent = calls.recent();
  REQUIRE(recent.size() == 1);
  CHECK(recent[0].identity.call_sid == "CA7");
  CHECK(recent[0].end_reason == "node crashed");
  CHECK(recent[0].state == call_state::ended);

  // Once finished, a later start finds nothing.
  CHECK(recover_unfinished_calls(root.path(), "node-a", calls, now).found == 0);
}

TEST_CASE("a call finished on disk whose marker was left behind only loses its marker",
          "[call_recovery]") {
  temporary_directory root;
  std::string error;
  const auto directory =
      make_marked_call_directory(root.path(), marker_of("node-a", "earlier-process", "CA8"), error);
  std::ofstream(directory / "call.json") << "{\"end_reason\":\"completed\"}\n";
  const auto recovered =
      recover_call_directory(directory, "test", std::chrono::system_clock::now());
  CHECK(recovered.finished_before);
  CHECK_FALSE(recovered.view);
  CHECK_FALSE(std::filesystem::exists(directory / call_marker_name));
  CHECK(read_text(directory / "call.json") == "{\"end_reason\":\"completed\"}\n");
}
