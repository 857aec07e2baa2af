// Files of ended calls that the disk refused: the retry queue's arithmetic, the writer, and the
// retrier actor with the finaliser on a disk that fills and empties (CAF's deterministic
// scheduler and virtual clock: no real waiting).
#include "actor_test_fixture.hpp"
#include "actors/call_file_retrier.hpp"
#include "actors/call_file_retries.hpp"
#include "actors/call_files.hpp"
#include "actors/call_finaliser.hpp"
#include "actors/upload_plan.hpp"
#include "audio/disk_fault.hpp"

#include <boost/json/parse.hpp>
#include <caf/scoped_actor.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace switchboard;
using namespace switchboard::actors;
using namespace std::chrono_literals;
using switchboard::testing::temporary_directory;

namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

deferred_call_files batch(std::string sid, std::string directory, std::size_t content_bytes = 10) {
  deferred_call_files files;
  files.call_sid = std::move(sid);
  files.directory = std::move(directory);
  files.files = {{"transcript.jsonl", std::string(content_bytes, 't')},
                 {"call.json", "{\"call_sid\":\"" + files.call_sid + "\"}\n"}};
  return files;
}

/// A writer that refuses everything while `full` is set, and otherwise takes every file.
struct fake_disk {
  bool full = true;
  std::vector<std::string> written;
  call_file_retries::writer writer() {
    return [this](deferred_call_files& pending) {
      deferred_write_result result;
      if (full) {
        result.error = "No space left on device";
        return result;
      }
      for (auto& file : pending.files)
        result.written.push_back(pending.call_sid + "/" + file.first);
      written.insert(written.end(), result.written.begin(), result.written.end());
      pending.files.clear();
      return result;
    };
  }
};

double value_of(prometheus::Gauge& gauge) {
  return gauge.Value();
}
double value_of(prometheus::Counter& counter) {
  return counter.Value();
}

}  // namespace

TEST_CASE("the retry delay doubles per failure up to its ceiling", "[call_file_retries]") {
  call_file_retries queue({.max_bytes = 1 << 20, .first_delay = 1s, .max_delay = 30s});
  CHECK(queue.delay_after(1) == 1s);
  CHECK(queue.delay_after(2) == 2s);
  CHECK(queue.delay_after(3) == 4s);
  CHECK(queue.delay_after(5) == 16s);
  CHECK(queue.delay_after(6) == 30s);
  CHECK(queue.delay_after(40) == 30s);
}

TEST_CASE("a deferred batch is tried when due, backs off while the disk refuses, then leaves",
          "[call_file_retries]") {
  call_file_retries queue({.max_bytes = 1 << 20, .first_delay = 1s, .max_delay = 30s});
  fake_disk disk;
  const call_file_retries::clock::time_point t0{};
  REQUIRE(queue.add(batch("CA1", "/rec/CA1"), t0));
  CHECK(queue.size() == 1);
  CHECK(queue.next_due() == t0 + 1s);

  CHECK(queue.attempt_due(t0 + 999ms, disk.writer()).empty());  // not due yet
  auto reports = queue.attempt_due(t0 + 1s, disk.writer());
  REQUIRE(reports.size() == 1);
  CHECK_FALSE(reports[0].finished);
  CHECK(reports[0].attempts == 1);
  CHECK(reports[0].result.error == "No space left on device");
  CHECK(queue.next_due() == t0 + 2s);  // 1 s after the first failure
  reports = queue.attempt_due(t0 + 2s, disk.writer());
  CHECK(queue.next_due() == t0 + 4s);  // then 2 s

  disk.full = false;
  reports = queue.attempt_due(t0 + 4s, disk.writer());
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].finished);
  CHECK(reports[0].attempts == 3);
  CHECK(disk.written == std::vector<std::string>{"CA1/transcript.jsonl", "CA1/call.json"});
  CHECK(queue.size() == 0);
  CHECK(queue.bytes() == 0);
  CHECK_FALSE(queue.next_due());
}

TEST_CASE("the deferred queue refuses what would pass its byte bound and says so",
          "[call_file_retries]") {
  call_file_retries queue({.max_bytes = 1000, .first_delay = 1s, .max_delay = 30s});
  const call_file_retries::clock::time_point t0{};
  CHECK(queue.add(batch("CA1", "/r", 500), t0));
  CHECK_FALSE(queue.add(batch("CA2", "/r", 500), t0));  // 500 + names > 1000 left
  CHECK(queue.size() == 1);
  fake_disk disk;
  auto flushed = queue.attempt_due(t0, disk.writer(), /*everything=*/true);
  REQUIRE(flushed.size() == 1);  // `everything` ignores the due time
  CHECK_FALSE(flushed[0].finished);
  const auto lost = queue.take_all();
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].call_sid == "CA1");
  CHECK(queue.bytes() == 0);
}

TEST_CASE("the deferred writer stops at the first file the disk refuses and keeps the rest",
          "[call_file_retries][disk_fault]") {
  temporary_directory root;
  auto pending = batch("CA1", root.path().string(), 4000);
  audio::set_disk_fault({.enospc_after_bytes = 100});
  auto result = write_deferred_call_files(pending);
  audio::clear_disk_fault();
  CHECK_FALSE(result.done());
  CHECK(result.error.find("transcript.jsonl") != std::string::npos);
  CHECK(result.written.empty());
  CHECK(pending.files.size() == 2);  // call.json never goes before the files it lists
  CHECK_FALSE(std::filesystem::exists(root.path() / "call.json"));

  result = write_deferred_call_files(pending);
  CHECK(result.done());
  CHECK(result.written == std::vector<std::string>{"transcript.jsonl", "call.json"});
  CHECK(pending.files.empty());
  CHECK(read_text(root.path() / "transcript.jsonl") == std::string(4000, 't'));
}

TEST_CASE("a deferred file whose name is taken is dropped, never replaced", "[call_file_retries]") {
  temporary_directory root;
  root.write("transcript.jsonl", "someone else's");
  auto pending = batch("CA1", root.path().string());
  const auto result = write_deferred_call_files(pending);
  CHECK(result.done());
  CHECK(result.dropped == std::vector<std::string>{"transcript.jsonl"});
  CHECK(result.written == std::vector<std::string>{"call.json"});
  CHECK(read_text(root.path() / "transcript.jsonl") == "someone else's");
}

TEST_CASE("a call without a directory gets one when the retrier writes its files",
          "[call_file_retries]") {
  temporary_directory scratch;
  // A file where the recordings root should be: no directory can be made under it.
  const auto root = scratch.write("recordings", "not a directory");
  auto pending = batch("CA9", "");
  pending.root = root.string();
  pending.date = "2026-12-06";
  auto result = write_deferred_call_files(pending);
  CHECK_FALSE(result.done());
  CHECK(result.error.find(root.string()) != std::string::npos);
  CHECK(pending.directory.empty());

  std::filesystem::remove(root);
  result = write_deferred_call_files(pending);
  CHECK(result.done());
  CHECK(pending.directory == (root / "2026-12-06" / "CA9").string());
  CHECK(std::filesystem::exists(root / "2026-12-06" / "CA9" / "call.json"));
}

namespace {

/// Stands in for the node's uploader: records what it is told.
recording_uploader_actor::behavior_type uploader_probe(
    recording_uploader_actor::pointer, std::shared_ptr<std::vector<upload_call>> told) {
  return {
      [told](upload_call& call) { told->push_back(call); },
      [](call_json_rewritten&) {},
      [](upload_planned&) {},
      [](file_upload_done&) {},
      [](upload_retry_due&) {},
      [](call_upload_step&) {},
      [](backlog_atom) { return upload_backlog{}; },
  };
}

struct finaliser_fixture : actors::testing::actor_fixture {
  temporary_directory root;
  std::shared_ptr<metrics::bridge_metrics> node = std::make_shared<metrics::bridge_metrics>();
  call_finaliser_context context;
  call_file_retrier_actor retrier;
  /// The upload_call messages the node's uploader would get (RECORDINGS_BUCKET_URL).
  std::shared_ptr<std::vector<upload_call>> told = std::make_shared<std::vector<upload_call>>();
  recording_uploader_actor uploader = system.spawn(uploader_probe, told);

  finaliser_fixture() {
    retrier = system.spawn(call_file_retrier, call_file_retries::limits{},
                           call_file_retries::writer(write_deferred_call_files),
                           std::make_shared<call_status_book>(), node, uploader);
    context.recordings_root = root.path();
    context.record_audio = false;  // the small files are what is checked here
    context.calls = std::make_shared<call_registry>();
    context.metrics = node;
    context.statuses = std::make_shared<call_status_book>();
    context.directory = std::make_shared<call_directory>();
    context.file_retrier = retrier;
  }
  ~finaliser_fixture() {
    audio::clear_disk_fault();
    // As the node does when it stops (a retry may still be scheduled).
    caf::anon_send_exit(retrier, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(uploader, caf::exit_reason::user_shutdown);
    run();
  }

  call_record record(std::string sid) {
    call_record call;
    call.identity.call_sid = std::move(sid);
    call.identity.stream_sid = "MZ1";
    call.end_reason = "caller hung up";
    call.transcript.push_back(transcript_entry{"caller", "item1", "hello there", 120});
    return call;
  }
};

}  // namespace

TEST_CASE_METHOD(finaliser_fixture,
                 "a call that ends on a full disk gets its transcript and call.json once the disk "
                 "has room",
                 "[call_file_retrier][disk_fault]") {
  const auto directory = root.path() / "CA1";
  std::filesystem::create_directories(directory);
  audio::set_disk_fault({.enospc_after_bytes = 0});
  finalize_call(record("CA1"), /*started=*/true, directory, context);
  run();
  CHECK_FALSE(std::filesystem::exists(directory / "call.json"));
  CHECK_FALSE(std::filesystem::exists(directory / "transcript.jsonl"));
  CHECK(value_of(node->call_files_pending()) == 1);

  advance(1s);  // the first retry: the disk is still full
  CHECK_FALSE(std::filesystem::exists(directory / "call.json"));
  CHECK(value_of(node->call_files_pending()) == 1);

  audio::clear_disk_fault();
  advance(2s);  // the second retry, 2 s after the first failure
  REQUIRE(std::filesystem::exists(directory / "call.json"));
  const auto json = boost::json::parse(read_text(directory / "call.json")).as_object();
  CHECK(json.at("end_reason").as_string() == "caller hung up");
  std::vector<std::string> files;
  for (const auto& file : json.at("files").as_array())
    files.emplace_back(file.as_string());
  CHECK(files == std::vector<std::string>{"transcript.jsonl", "call.json"});
  bool says_late = false;
  for (const auto& problem : json.at("problems").as_array())
    says_late =
        says_late || std::string(problem.as_string()).find("written late") != std::string::npos;
  CHECK(says_late);
  CHECK(read_text(directory / "transcript.jsonl").find("hello there") != std::string::npos);
  CHECK(value_of(node->call_files_pending()) == 0);
  CHECK(value_of(node->call_files_deferred(true)) == 1);
  CHECK(value_of(node->call_files_deferred(false)) == 0);
}

TEST_CASE_METHOD(finaliser_fixture, "files the disk still refuses at shutdown are counted lost",
                 "[call_file_retrier][disk_fault]") {
  const auto directory = root.path() / "CA2";
  std::filesystem::create_directories(directory);
  audio::set_disk_fault({.enospc_after_bytes = 0});
  finalize_call(record("CA2"), /*started=*/true, directory, context);
  run();
  caf::scoped_actor self{system};
  std::optional<std::uint64_t> lost;
  auto reply = self->request(retrier, caf::infinite, flush_atom::value);
  run();
  reply.receive([&](std::uint64_t count) { lost = count; },
                [&](caf::error& error) { FAIL(caf::to_string(error)); });
  CHECK(lost == 1u);
  CHECK(value_of(node->call_files_pending()) == 0);
  CHECK(value_of(node->call_files_deferred(false)) == 1);
  CHECK_FALSE(std::filesystem::exists(directory / "call.json"));
}

TEST_CASE_METHOD(finaliser_fixture, "a call ended with room on the disk writes its files at once",
                 "[call_file_retrier]") {
  const auto directory = root.path() / "CA3";
  std::filesystem::create_directories(directory);
  finalize_call(record("CA3"), /*started=*/true, directory, context);
  run();
  CHECK(std::filesystem::exists(directory / "call.json"));
  CHECK(std::filesystem::exists(directory / "transcript.jsonl"));
  CHECK(value_of(node->call_files_pending()) == 0);
  CHECK(value_of(node->call_files_deferred(true)) == 0);
}

TEST_CASE_METHOD(finaliser_fixture,
                 "with a bucket a call is marked before call.json and handed to the uploader after",
                 "[call_file_retrier][recording_uploader]") {
  context.uploader = uploader;
  context.node_name = "node-a";
  const auto directory = root.path() / "CA4";
  std::filesystem::create_directories(directory);
  finalize_call(record("CA4"), /*started=*/true, directory, context);
  run();
  REQUIRE(std::filesystem::exists(directory / "call.json"));
  const auto marker = read_upload_marker(directory);
  REQUIRE(marker);
  CHECK(marker->node == "node-a");
  CHECK(marker->failed.empty());
  REQUIRE(told->size() == 1);
  CHECK(told->front().call_sid == "CA4");
  CHECK(told->front().directory == directory.string());
}

TEST_CASE_METHOD(finaliser_fixture,
                 "with a bucket a call.json written late hands its call to the uploader then",
                 "[call_file_retrier][recording_uploader][disk_fault]") {
  context.uploader = uploader;
  context.node_name = "node-a";
  const auto directory = root.path() / "CA5";
  std::filesystem::create_directories(directory);
  audio::set_disk_fault({.enospc_after_bytes = 0});
  finalize_call(record("CA5"), /*started=*/true, directory, context);
  run();
  CHECK_FALSE(std::filesystem::exists(directory / "call.json"));
  CHECK(told->empty());  // not complete yet: nothing to upload
  audio::clear_disk_fault();
  advance(1s);
  REQUIRE(std::filesystem::exists(directory / "call.json"));
  REQUIRE(told->size() == 1);
  CHECK(told->front().directory == directory.string());
}
