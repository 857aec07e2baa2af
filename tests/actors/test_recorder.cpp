// The recorder never waits on the disk: its audio goes to the node's file thread in batches, one
// in flight at a time, and finalize is answered once the close has been through the disk. Under
// CAF's deterministic scheduler with a disk that answers only when the test says so
// (queued_file_work), so "while the disk is slow" is a state the test holds, not a timing.
#include "actor_test_fixture.hpp"
#include "actors/call_supervisor.hpp"
#include "actors/recorder.hpp"
#include "actors/track_file.hpp"
#include "audio/wav_format.hpp"
#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"
#include "wire_json.hpp"

#include <caf/event_based_actor.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>

using namespace switchboard;
using namespace switchboard::actors;
using namespace switchboard::actors::testing;
using namespace std::chrono_literals;

namespace {

/// Asks `recorder` to finalize at `call_samples` and keeps the answer.
void ask_to_finalize(caf::actor_system& system, recorder_actor recorder, std::uint64_t call_samples,
                     std::shared_ptr<std::optional<recording_summary>> answer) {
  // Arguments, not captures: CAF 0.17 mishandles a function actor spawned without arguments.
  system.spawn(
      [](caf::event_based_actor* asker, recorder_actor target, std::uint64_t samples,
         std::shared_ptr<std::optional<recording_summary>> out) {
        asker->request(target, caf::infinite, finalize_atom::value, samples)
            .then([out](recording_summary& summary) { *out = summary; });
      },
      std::move(recorder), call_samples, std::move(answer));
}

heard_audio tick(std::uint8_t code) {
  heard_audio heard;
  heard.mulaw.assign(160, code);
  return heard;
}

/// The audio bytes a closed track holds; fails the test unless its header counts all of them.
std::uint64_t closed_track_bytes(const std::filesystem::path& path) {
  auto info = audio::parse_wav_file(path.string());
  REQUIRE(info.has_value());
  CHECK(info->size_finalised);
  const auto pad = info->data_bytes % 2;  // RIFF word alignment
  CHECK(info->data_offset + info->data_bytes + pad == info->file_size);
  return info->data_bytes;
}

}  // namespace

TEST_CASE("track batches leave one at a time and grow while one is in flight",
          "[recorder][track_file]") {
  track_batches batches(1600);
  batches.add(std::vector<std::uint8_t>(800, 0x11));
  CHECK_FALSE(batches.take_due());  // 100 ms: not a batch yet
  auto opened = batches.take_due(/*now=*/true);
  REQUIRE(opened);
  CHECK(opened->size() == 800);
  // The disk has not answered: the audio keeps gathering, into one larger batch.
  for (int i = 0; i < 50; ++i)
    batches.add(std::vector<std::uint8_t>(160, 0x22));
  CHECK_FALSE(batches.take_due());
  CHECK(batches.gathered() == 8000);
  batches.batch_done();
  auto next = batches.take_due();
  REQUIRE(next);
  CHECK(next->size() == 8000);
  batches.add_silence(10, 0xFF);
  CHECK(batches.take_all() == std::vector<std::uint8_t>(10, 0xFF));
  CHECK(batches.gathered() == 0);
}

TEST_CASE("a recorder keeps taking audio while the disk has not answered and writes it all after",
          "[recorder][file_work]") {
  actor_fixture fixture;
  temporary_directory directory;
  auto disk = std::make_shared<queued_file_work>();
  auto node = std::make_shared<metrics::bridge_metrics>("test");
  const auto path = directory.path() / "agent.wav";
  const auto recorder = fixture.system.spawn(actors::recorder, recorder_context{disk, node});
  caf::anon_send(recorder, recording_target{"agent", path.string(), "CA1", "MZ1", false});
  fixture.run();
  // The file is made by the first job, not by the actor.
  REQUIRE(disk->pending() == 1);
  CHECK_FALSE(std::filesystem::exists(path));

  // A second of audio while the disk does not answer: every tick is taken (the recorder's
  // mailbox empties), and none of it is queued for the disk yet.
  for (int i = 0; i < 50; ++i)
    caf::anon_send(recorder, tick(0x33));
  fixture.run();
  CHECK(fixture.scheduler.jobs.empty());
  CHECK(disk->pending() == 1);
  CHECK(node->recording_bytes(metrics::recording_track::agent).Value() == 0);

  // The disk answers: the file exists, and the second's audio goes as one batch.
  disk->run_jobs();
  fixture.run();
  CHECK(std::filesystem::exists(path));
  REQUIRE(disk->pending() == 1);
  disk->run_jobs();
  fixture.run();
  CHECK(node->recording_bytes(metrics::recording_track::agent).Value() == 8000);
  CHECK(disk->pending() == 0);

  auto answer = std::make_shared<std::optional<recording_summary>>();
  ask_to_finalize(fixture.system, recorder, 16000, answer);
  fixture.run();
  CHECK_FALSE(answer->has_value());  // the close has not been through the disk
  REQUIRE(disk->pending() == 1);
  disk->run_jobs();
  fixture.run();
  REQUIRE(answer->has_value());
  CHECK((*answer)->error.empty());
  CHECK((*answer)->samples == 16000);  // padded to the call's length by the close
  CHECK((*answer)->silence_samples == 8000);
  CHECK(closed_track_bytes(path) == 16000);
  CHECK(node->recording_bytes(metrics::recording_track::agent).Value() == 16000);
}

TEST_CASE("a recorder's close follows its batch in flight and finalize waits for both",
          "[recorder][file_work]") {
  actor_fixture fixture;
  temporary_directory directory;
  auto disk = std::make_shared<queued_file_work>();
  auto node = std::make_shared<metrics::bridge_metrics>("test");
  const auto path = directory.path() / "agent.wav";
  const auto recorder = fixture.system.spawn(actors::recorder, recorder_context{disk, node});
  caf::anon_send(recorder, recording_target{"agent", path.string(), "CA1", "MZ1", false});
  fixture.run();
  disk->run_jobs();  // the file is made
  for (int i = 0; i < 10; ++i)
    caf::anon_send(recorder, tick(0x44));
  fixture.run();
  REQUIRE(disk->pending() == 1);  // 200 ms: a batch in flight, not yet written
  for (int i = 0; i < 5; ++i)
    caf::anon_send(recorder, tick(0x55));
  auto answer = std::make_shared<std::optional<recording_summary>>();
  ask_to_finalize(fixture.system, recorder, 0, answer);
  fixture.run();
  REQUIRE(disk->pending() == 2);  // the batch, then the close with the rest

  disk->run_jobs(1);
  fixture.run();
  CHECK_FALSE(answer->has_value());
  disk->run_jobs(1);
  fixture.run();
  REQUIRE(answer->has_value());
  CHECK((*answer)->samples == 2400);
  // In the order the audio came: the batch, then what the close carried.
  CHECK(closed_track_bytes(path) == 2400);
  std::ifstream file(path, std::ios::binary);
  std::vector<char> content((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
  REQUIRE(content.size() == 58 + 2400);
  CHECK(std::count(content.begin() + 58, content.begin() + 58 + 1600, char(0x44)) == 1600);
  CHECK(std::count(content.begin() + 58 + 1600, content.end(), char(0x55)) == 800);
}

TEST_CASE("call.json is written only after both recordings are closed however slow the disk",
          "[call_supervisor][file_work]") {
  const bool close_outlasts_timeout = GENERATE(false, true);
  CAPTURE(close_outlasts_timeout);
  actor_fixture fixture;
  temporary_directory recordings;
  auto disk = std::make_shared<queued_file_work>();
  auto model = std::make_shared<fake_model_links>();
  auto env = std::make_shared<bridge_environment>();
  env->model_links = model;
  env->recordings_dir = recordings.path();
  env->files = disk;
  auto twilio = std::make_shared<recording_connection>();
  auto ingress = std::make_shared<frame_ingress>();
  const std::string call_sid = "CA00000000000000000000000000000021";
  const std::string stream_sid = "MZ00000000000000000000000000000021";
  std::uint64_t sequence = 1;
  net::twilio_start start;
  start.sequence_number = sequence++;
  start.stream_sid = stream_sid;
  start.account_sid = "AC00000000000000000000000000000021";
  start.call_sid = call_sid;
  start.tracks = {"inbound"};
  start.media_format = {"audio/x-mulaw", 8000, 1};
  ingress->deliver({twilio_json(start), true});
  spawn_local_call(fixture.system, bridge_environment_ptr(env),
                   std::weak_ptr<net::websocket_connection>(twilio), ingress);
  fixture.run();
  model->connection_event(realtime_link_event::kind::opened);
  model->server_sends(model_json(net::realtime_session_updated{"ev0", {}}));
  fixture.run();
  REQUIRE(disk->pending() == 1);  // the call's directory
  disk->run_jobs();
  fixture.run();
  std::uint64_t caller_ms = 0;
  for (int i = 0; i < 25; ++i) {
    ingress->deliver(
        {twilio_json(net::twilio_media{sequence++, stream_sid, "inbound", sequence, caller_ms,
                                       net::encode_base64(std::vector<std::uint8_t>(160, 0x22))}),
         true});
    caller_ms += 20;
    fixture.advance(20ms);
  }
  // The disk has not answered since the directory: the call went on regardless.
  CHECK(model->take().size() > 25);
  ingress->deliver(
      {twilio_json(net::twilio_stop{sequence++, stream_sid, start.account_sid, call_sid}), true});
  fixture.run();
  if (close_outlasts_timeout)
    fixture.advance(31s);  // finalize's answer is given up on: the call ends without it
  std::filesystem::path call_directory;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(recordings.path()))
    if (entry.is_directory() && entry.path().filename() == call_sid)
      call_directory = entry.path();
  REQUIRE_FALSE(call_directory.empty());
  CHECK(disk->pending() >= 2);  // at least the two closes
  CHECK_FALSE(std::filesystem::exists(call_directory / "call.json"));
  CHECK(env->calls->finished_calls() == 0);

  // The disk answers, in order: the batches, the closes, then the finaliser's start.
  while (disk->pending() > 0) {
    disk->run_jobs();
    fixture.run();
  }
  const auto finished = env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  CHECK(std::filesystem::exists(call_directory / "call.json"));
  // Both tracks closed before call.json was written: headers final, as long as the call.
  const auto caller = closed_track_bytes(call_directory / "caller.wav");
  const auto agent = closed_track_bytes(call_directory / "agent.wav");
  CHECK(caller >= 25 * 160);
  CHECK(caller == agent);
}
