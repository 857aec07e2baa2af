// The recording_uploader actor under the deterministic scheduler, with a bucket that answers as
// the test says: uploads, retries on retryable failures, gives up on a permanent refusal with the
// files kept and the marker saying why, call.json says where each file went before anything is
// deleted, RECORDINGS_KEEP_LOCAL, and call.json sent again after a twilio_status rewrite.
#include "actor_test_fixture.hpp"
#include "actors/recording_uploader.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <caf/scoped_actor.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace switchboard;
using namespace switchboard::actors;
using namespace std::chrono_literals;
using actors::testing::temporary_directory;
using switchboard::testing::read_text;

namespace {

double value_of(prometheus::Gauge& gauge) {
  return gauge.Value();
}
double value_of(prometheus::Counter& counter) {
  return counter.Value();
}

/// A bucket in memory. Each PUT reads the file as it is then; `script` answers the next PUTs of a
/// file name in order (then ok).
class fake_store final : public object_store {
 public:
  struct put {
    std::string key;
    std::string content_type;
    std::string body;
    bool local_files_present = true;  // every other file of the call still on disk then
  };

  const std::string& bucket() const override { return bucket_; }

  net::s3_result put_file(const net::s3_put_request& request) override {
    const auto name = request.file.filename().string();
    net::s3_result result;
    if (auto& answers = script[name]; !answers.empty()) {
      result.outcome = answers.front();
      answers.pop_front();
      result.http_status = result.outcome == net::s3_outcome::permanent ? 403 : 503;
      result.reason =
          result.outcome == net::s3_outcome::permanent
              ? "AccessDenied: Access Denied (bucket recordings, key " + request.key + ")"
              : "SlowDown: Please reduce your request rate";
      ++refused;
      return result;
    }
    bool present = true;
    for (const char* other : {"caller.wav", "agent.wav", "transcript.jsonl"})
      present = present && std::filesystem::exists(request.file.parent_path() / other);
    puts.push_back({request.key, request.content_type, read_text(request.file), present});
    objects[request.key] = puts.back().body;
    return result;
  }

  net::s3_result get(std::string_view, const std::function<bool(std::string_view)>&) override {
    return {net::s3_outcome::not_found, 404, "not here", ""};
  }
  std::string presign_get(std::string_view key, std::chrono::seconds) override {
    return "http://bucket.example/" + std::string(key) + "?X-Amz-Signature=x";
  }
  std::size_t cancel_requests() override { return 0; }

  std::map<std::string, std::deque<net::s3_outcome>> script;
  std::vector<put> puts;
  std::map<std::string, std::string> objects;
  int refused = 0;

 private:
  std::string bucket_ = "recordings";
};

struct uploader_fixture : actors::testing::actor_fixture {
  temporary_directory root;
  std::shared_ptr<fake_store> store = std::make_shared<fake_store>();
  std::shared_ptr<metrics::bridge_metrics> node = std::make_shared<metrics::bridge_metrics>();
  recording_uploader_actor uploader;
  std::filesystem::path call = root.path() / "2026-12-06" / "CA1";

  uploader_fixture() {
    std::filesystem::create_directories(call);
    std::ofstream(call / "caller.wav") << "caller audio";
    std::ofstream(call / "agent.wav") << "agent audio, longer";
    std::ofstream(call / "transcript.jsonl") << "{\"speaker\":\"caller\",\"text\":\"hi\"}\n";
    std::ofstream(call / "call.json") << R"({"call_sid":"CA1","end_reason":"caller hung up"})";
    REQUIRE(write_upload_marker(call, {"node-a", ""}).empty());
  }
  ~uploader_fixture() {
    caf::anon_send_exit(uploader, caf::exit_reason::user_shutdown);
    run();
  }

  void start(bool keep_local = false, unsigned max_attempts = 8) {
    recording_uploader_config settings;
    settings.recordings_root = root.path();
    settings.prefix = "switchboard";
    settings.node_name = "node-a";
    settings.keep_local = keep_local;
    settings.concurrency = 2;
    settings.retry = {1000ms, 60'000ms, 0.25, max_attempts};
    settings.store = store;
    settings.metrics = node;
    settings.unit_random = [] {
      return 0.5;
    };  // no jitter: the backoff is exact
    uploader = system.spawn(recording_uploader, std::move(settings));
    run();
  }

  upload_backlog backlog() {
    caf::scoped_actor self{system};
    upload_backlog answer;
    auto reply = self->request(uploader, caf::infinite, backlog_atom::value);
    run();
    reply.receive([&](upload_backlog& b) { answer = b; },
                  [&](caf::error& error) { FAIL(caf::to_string(error)); });
    return answer;
  }

  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& put : store->puts)
      out.push_back(put.key);
    return out;
  }
};

}  // namespace

TEST_CASE_METHOD(uploader_fixture,
                 "a call's files go up under their keys then call.json says where and the local "
                 "copies go",
                 "[recording_uploader]") {
  start();
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  CHECK(keys() == std::vector<std::string>{"switchboard/2026-12-06/CA1/agent.wav",
                                           "switchboard/2026-12-06/CA1/caller.wav",
                                           "switchboard/2026-12-06/CA1/transcript.jsonl",
                                           "switchboard/2026-12-06/CA1/call.json",
                                           "switchboard/calls/CA1.json"});
  REQUIRE(store->puts.size() == 5);
  // The call's index, last: the same call.json, found by CallSid alone.
  CHECK(store->puts[4].body == store->puts[3].body);
  CHECK(store->puts[0].content_type == "audio/wav");
  CHECK(store->puts[2].content_type == "application/x-ndjson");
  CHECK(store->puts[3].content_type == "application/json");
  CHECK(store->puts[1].body == "caller audio");
  // call.json went up saying where every file went, while every local copy was still there.
  const auto& sent_call_json = store->puts[3];
  CHECK(sent_call_json.local_files_present);
  CHECK(uploaded_url_of(sent_call_json.body, "caller.wav") ==
        "s3://recordings/switchboard/2026-12-06/CA1/caller.wav");
  CHECK(uploaded_url_of(sent_call_json.body, "call.json") ==
        "s3://recordings/switchboard/2026-12-06/CA1/call.json");
  // Then the local copies went; call.json stays (the index), and the marker is gone.
  CHECK_FALSE(std::filesystem::exists(call / "caller.wav"));
  CHECK_FALSE(std::filesystem::exists(call / "agent.wav"));
  CHECK_FALSE(std::filesystem::exists(call / "transcript.jsonl"));
  CHECK_FALSE(std::filesystem::exists(call / upload_marker_name));
  REQUIRE(std::filesystem::exists(call / "call.json"));
  CHECK(uploaded_url_of(read_text(call / "call.json"), "agent.wav") ==
        "s3://recordings/switchboard/2026-12-06/CA1/agent.wav");
  CHECK(value_of(node->uploads(metrics::upload_result::ok)) == 4);
  CHECK(value_of(node->uploads(metrics::upload_result::failed)) == 0);
  CHECK(value_of(node->upload_bytes()) ==
        static_cast<double>(std::string("caller audio").size() +
                            std::string("agent audio, longer").size() + store->puts[2].body.size() +
                            store->puts[3].body.size()));
  CHECK(value_of(node->upload_queue()) == 0);
  const auto left = backlog();
  CHECK(left.files == 0);
  CHECK(left.calls == 0);
}

TEST_CASE_METHOD(uploader_fixture, "RECORDINGS_KEEP_LOCAL keeps every local file",
                 "[recording_uploader]") {
  start(/*keep_local=*/true);
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  CHECK(store->puts.size() == 5);
  CHECK(std::filesystem::exists(call / "caller.wav"));
  CHECK(std::filesystem::exists(call / "agent.wav"));
  CHECK(std::filesystem::exists(call / "transcript.jsonl"));
  CHECK_FALSE(std::filesystem::exists(call / upload_marker_name));
  CHECK(uploaded_url_of(read_text(call / "call.json"), "caller.wav"));
}

TEST_CASE_METHOD(uploader_fixture,
                 "a retryable failure is tried again after the backoff and the call goes on",
                 "[recording_uploader]") {
  start();
  store->script["caller.wav"] = {net::s3_outcome::retryable, net::s3_outcome::retryable};
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  // The other files went up; caller.wav waits for its backoff, and nothing was deleted.
  CHECK(keys() == std::vector<std::string>{"switchboard/2026-12-06/CA1/agent.wav",
                                           "switchboard/2026-12-06/CA1/transcript.jsonl"});
  CHECK(std::filesystem::exists(call / "agent.wav"));
  CHECK(value_of(node->upload_queue()) == 2);  // caller.wav and call.json
  CHECK(backlog().files == 2);
  CHECK(value_of(node->uploads(metrics::upload_result::retried)) == 1);
  advance(999ms);
  CHECK(store->refused == 1);
  advance(1ms);  // 1 s after the first failure: fails again, next in 2 s
  CHECK(store->refused == 2);
  CHECK(value_of(node->uploads(metrics::upload_result::retried)) == 2);
  advance(2s);
  REQUIRE(store->puts.size() == 5);
  CHECK(store->puts[3].key == "switchboard/2026-12-06/CA1/call.json");
  CHECK(store->puts[4].key == "switchboard/calls/CA1.json");
  CHECK_FALSE(std::filesystem::exists(call / "caller.wav"));
  CHECK_FALSE(std::filesystem::exists(call / upload_marker_name));
  CHECK(value_of(node->uploads(metrics::upload_result::failed)) == 0);
  CHECK(value_of(node->upload_queue()) == 0);
}

TEST_CASE_METHOD(uploader_fixture, "a permanent refusal keeps every file and the marker says why",
                 "[recording_uploader]") {
  start();
  store->script["caller.wav"] = {net::s3_outcome::permanent};
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  // call.json never went up and says nothing of uploads; nothing local was deleted.
  for (const auto& key : keys())
    CHECK(key != "switchboard/2026-12-06/CA1/call.json");
  for (const char* file : {"caller.wav", "agent.wav", "transcript.jsonl", "call.json"}) {
    INFO(file);
    CHECK(std::filesystem::exists(call / file));
  }
  CHECK_FALSE(uploaded_url_of(read_text(call / "call.json"), "agent.wav"));
  const auto marker = read_upload_marker(call);
  REQUIRE(marker);
  CHECK(marker->node == "node-a");
  CHECK(marker->failed.find("AccessDenied") != std::string::npos);
  CHECK(marker->failed.find("caller.wav") != std::string::npos);
  CHECK(value_of(node->uploads(metrics::upload_result::failed)) == 1);
  CHECK(value_of(node->upload_queue()) == 0);
  // The next start finds the call, and uploads it once the bucket takes it.
  CHECK(find_pending_uploads(root.path(), "node-a") == std::vector<std::filesystem::path>{call});
  store->puts.clear();
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  CHECK(store->puts.size() == 5);
  CHECK_FALSE(std::filesystem::exists(call / upload_marker_name));
}

TEST_CASE_METHOD(uploader_fixture, "retries that run out count as failed and keep the files",
                 "[recording_uploader]") {
  start(false, /*max_attempts=*/3);
  store->script["agent.wav"] = {net::s3_outcome::retryable, net::s3_outcome::retryable,
                                net::s3_outcome::retryable};
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  advance(1s);
  advance(2s);
  CHECK(store->refused == 3);
  CHECK(value_of(node->uploads(metrics::upload_result::retried)) == 2);
  CHECK(value_of(node->uploads(metrics::upload_result::failed)) == 1);
  CHECK(std::filesystem::exists(call / "agent.wav"));
  CHECK(std::filesystem::exists(call / "caller.wav"));
  const auto marker = read_upload_marker(call);
  REQUIRE(marker);
  CHECK(marker->failed.find("3 tries") != std::string::npos);
}

TEST_CASE_METHOD(uploader_fixture,
                 "call.json rewritten after its upload goes up again with uploaded kept",
                 "[recording_uploader]") {
  start();
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  REQUIRE(store->puts.size() == 5);
  // The status book's rewrite (twilio_status) keeps every other field, "uploaded" included.
  auto json = boost::json::parse(read_text(call / "call.json")).as_object();
  json["twilio_status"] = "completed";
  std::ofstream(call / "call.json", std::ios::trunc) << boost::json::serialize(json);
  caf::anon_send(uploader, call_json_rewritten{"CA1", call.string()});
  run();
  REQUIRE(store->puts.size() == 7);
  CHECK(store->puts[5].key == "switchboard/2026-12-06/CA1/call.json");
  CHECK(store->puts[6].key == "switchboard/calls/CA1.json");
  for (const auto* sent : {&store->puts[5], &store->puts[6]}) {
    CHECK(sent->body.find("\"twilio_status\":\"completed\"") != std::string::npos);
    CHECK(uploaded_url_of(sent->body, "caller.wav"));
  }
  CHECK(std::filesystem::exists(call / "call.json"));
  CHECK_FALSE(std::filesystem::exists(call / upload_marker_name));
  CHECK(backlog().calls == 0);
}

TEST_CASE_METHOD(uploader_fixture, "a call.json sent again stays marked until the bucket has it",
                 "[recording_uploader]") {
  start();
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  REQUIRE(store->puts.size() == 5);
  REQUIRE_FALSE(std::filesystem::exists(call / upload_marker_name));
  // The bucket refuses the later call.json: the local one has the status, and the call is
  // marked so that the next start sends it.
  store->script["call.json"] = {net::s3_outcome::permanent};
  caf::anon_send(uploader, call_json_rewritten{"CA1", call.string()});
  run();
  CHECK(store->puts.size() == 5);
  CHECK(value_of(node->uploads(metrics::upload_result::failed)) == 1);
  const auto marker = read_upload_marker(call);
  REQUIRE(marker);
  CHECK(marker->node == "node-a");
  CHECK(find_pending_uploads(root.path(), "node-a") == std::vector<std::filesystem::path>{call});
  // The next start: only call.json is left locally, and it goes up under both keys.
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  CHECK(keys().size() == 7);
  CHECK(keys()[5] == "switchboard/2026-12-06/CA1/call.json");
  CHECK(keys()[6] == "switchboard/calls/CA1.json");
  CHECK_FALSE(std::filesystem::exists(call / upload_marker_name));
  // call.json still says where the deleted files went.
  CHECK(uploaded_url_of(read_text(call / "call.json"), "caller.wav"));
}

TEST_CASE_METHOD(uploader_fixture,
                 "at most UPLOAD_CONCURRENCY files are in flight and the rest wait their turn",
                 "[recording_uploader]") {
  // Workers that hold each job until the test runs it: the uploads in flight are visible.
  struct held_workers final : upload_workers {
    std::deque<std::function<void()>> jobs;
    void run(std::function<void()> job) override { jobs.push_back(std::move(job)); }
  };
  auto workers = std::make_shared<held_workers>();
  recording_uploader_config settings;
  settings.recordings_root = root.path();
  settings.prefix = "p";
  settings.node_name = "node-a";
  settings.concurrency = 2;
  settings.store = store;
  settings.metrics = node;
  settings.workers = workers;
  uploader = system.spawn(recording_uploader, std::move(settings));
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  CHECK(workers->jobs.size() == 2);
  CHECK(value_of(node->upload_queue()) == 4);
  while (!workers->jobs.empty()) {
    auto job = std::move(workers->jobs.front());
    workers->jobs.pop_front();
    job();
    run();
    CHECK(workers->jobs.size() <= 2);
  }
  CHECK(store->puts.size() == 5);
  CHECK(value_of(node->upload_queue()) == 0);
}

TEST_CASE_METHOD(uploader_fixture, "a directory without call.json is left marked",
                 "[recording_uploader]") {
  start();
  std::filesystem::remove(call / "call.json");
  caf::anon_send(uploader, upload_call{"CA1", call.string()});
  run();
  CHECK(store->puts.empty());
  CHECK(std::filesystem::exists(call / "caller.wav"));
  REQUIRE(read_upload_marker(call));
  CHECK_FALSE(read_upload_marker(call)->failed.empty());
}

TEST_CASE_METHOD(uploader_fixture, "the start-up scan resumes this node's marked calls",
                 "[recording_uploader]") {
  start();
  CHECK(resume_pending_uploads(root.path(), "node-b", uploader) == 0);
  CHECK(resume_pending_uploads(root.path(), "node-a", uploader) == 1);
  run();
  CHECK(store->puts.size() == 5);
  CHECK_FALSE(std::filesystem::exists(call / upload_marker_name));
}
