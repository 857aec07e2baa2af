// The uploader's decisions (actors/upload_plan.hpp): what goes up under which key, the marker,
// the backoff, and call.json's "uploaded".
#include "actors/upload_plan.hpp"
#include "support/temporary_directory.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace switchboard::actors;
using namespace std::chrono_literals;
using switchboard::testing::read_text;
using switchboard::testing::temporary_directory;

namespace {}  // namespace

TEST_CASE("upload plan: content types by file", "[upload_plan]") {
  CHECK(upload_content_type("caller.wav") == "audio/wav");
  CHECK(upload_content_type("stereo.wav") == "audio/wav");
  CHECK(upload_content_type("call.json") == "application/json");
  CHECK(upload_content_type("transcript.jsonl") == "application/x-ndjson");
  CHECK(upload_content_type("notes.txt") == "application/octet-stream");
}

TEST_CASE("upload plan: keys are prefix then date then CallSid then file", "[upload_plan]") {
  const std::filesystem::path root = "/var/recordings";
  CHECK(call_key_base("switchboard/prod", root, root / "2026-12-06" / "CA1") ==
        "switchboard/prod/2026-12-06/CA1");
  // A second part keeps its suffix: the parts never overwrite each other.
  CHECK(call_key_base("p", root, root / "2026-12-06" / "CA1-2") == "p/2026-12-06/CA1-2");
  CHECK(call_key_base("", root, root / "2026-12-06" / "CA1") == "2026-12-06/CA1");
  CHECK(call_key_base("p", "/var/recordings/", "/var/recordings/./2026-12-06/CA1/") ==
        "p/2026-12-06/CA1");
  // Anything that is not RECORDINGS_DIR/<date>/<call>.
  CHECK_FALSE(call_key_base("p", root, root / "CA1"));
  CHECK_FALSE(call_key_base("p", root, "/elsewhere/2026-12-06/CA1"));
  CHECK_FALSE(call_key_base("p", root, root / "2026-12-06" / "CA1" / "x"));
}

TEST_CASE("upload plan: every file but markers and temporaries goes up with call.json last",
          "[upload_plan]") {
  const auto plan = plan_call_upload("p/2026-12-06/CA1", {{"call.json", 900},
                                                          {"caller.wav", 16044},
                                                          {"upload.pending", 20},
                                                          {"call.running", 200},
                                                          {".call.json.123.1.partial", 10},
                                                          {"transcript.jsonl", 300},
                                                          {"agent.wav", 16044},
                                                          {"mono.wav", 32044},
                                                          {"stereo.wav", 64044}});
  std::vector<std::string> names;
  for (const auto& file : plan)
    names.push_back(file.name);
  CHECK(names == std::vector<std::string>{"agent.wav", "caller.wav", "mono.wav", "stereo.wav",
                                          "transcript.jsonl", "call.json"});
  CHECK(plan.front().key == "p/2026-12-06/CA1/agent.wav");
  CHECK(plan.front().content_type == "audio/wav");
  CHECK(plan.front().size == 16044);
  CHECK(plan.back().key == "p/2026-12-06/CA1/call.json");
}

TEST_CASE("upload plan: the directory on disk", "[upload_plan]") {
  temporary_directory root;
  const auto call = root.path() / "2026-12-06" / "CA1";
  std::filesystem::create_directories(call);
  std::ofstream(call / "caller.wav") << "RIFF";
  std::ofstream(call / "call.json") << "{}";
  std::ofstream(call / "upload.pending") << "{}";
  std::filesystem::create_directories(call / "subdirectory");
  const auto plan = plan_call_upload("p/2026-12-06/CA1", call);
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].name == "caller.wav");
  CHECK(plan[0].size == 4);
  CHECK(plan[1].name == "call.json");
}

TEST_CASE("upload plan: a call's index is found by its directory's name alone", "[upload_plan]") {
  CHECK(call_index_key("switchboard/prod", "CA1") == "switchboard/prod/calls/CA1.json");
  CHECK(call_index_key("", "CA1") == "calls/CA1.json");
  // A later part has an index of its own: the first part's stays the call's.
  CHECK(call_index_key("p", "CA1-part2") == "p/calls/CA1-part2.json");
}

TEST_CASE("upload plan: a marker is added once and a given-up one keeps its reason",
          "[upload_plan]") {
  temporary_directory root;
  const auto call = root.path() / "2026-12-06" / "CA1";
  std::filesystem::create_directories(call);
  REQUIRE(ensure_upload_marker(call, "node-a").empty());
  CHECK(read_upload_marker(call)->node == "node-a");
  REQUIRE(write_upload_marker(call, {"node-a", "403 AccessDenied"}).empty());
  REQUIRE(ensure_upload_marker(call, "node-b").empty());
  CHECK(read_upload_marker(call)->failed == "403 AccessDenied");
  CHECK(read_upload_marker(call)->node == "node-a");
  // A directory that is gone: the error in words.
  CHECK_FALSE(ensure_upload_marker(root.path() / "nowhere" / "CA2", "node-a").empty());
}

TEST_CASE("upload plan: the marker round-trips and a torn one is not ours", "[upload_plan]") {
  CHECK(parse_upload_marker(upload_marker_json({"node-a", ""}))->node == "node-a");
  const auto failed = parse_upload_marker(upload_marker_json({"node-a", "403 AccessDenied"}));
  REQUIRE(failed);
  CHECK(failed->failed == "403 AccessDenied");
  CHECK_FALSE(parse_upload_marker("{\"node\":\"node-a\""));
  CHECK_FALSE(parse_upload_marker("{}"));
  CHECK_FALSE(parse_upload_marker("[]"));
}

TEST_CASE("upload plan: pending uploads of this node with a call.json oldest first",
          "[upload_plan]") {
  temporary_directory root;
  const auto make = [&](const std::string& date, const std::string& sid, const char* node,
                        bool call_json) {
    const auto directory = root.path() / date / sid;
    std::filesystem::create_directories(directory);
    if (node != nullptr)
      REQUIRE(write_upload_marker(directory, {node, ""}).empty());
    if (call_json)
      std::ofstream(directory / "call.json") << "{}";
    return directory;
  };
  const auto older = make("2026-12-05", "CA9", "node-a", true);
  const auto newer = make("2026-12-06", "CA1", "node-a", true);
  make("2026-12-06", "CA2", "node-b", true);   // another node's
  make("2026-12-06", "CA3", nullptr, true);    // uploaded, or uploads off
  make("2026-12-06", "CA4", "node-a", false);  // its call.json waits for the disk
  const auto found = find_pending_uploads(root.path(), "node-a");
  CHECK(found == std::vector<std::filesystem::path>{older, newer});
  remove_upload_marker(newer);
  CHECK(find_pending_uploads(root.path(), "node-a") == std::vector<std::filesystem::path>{older});
}

TEST_CASE("upload plan: the backoff doubles up to its cap with bounded jitter", "[upload_plan]") {
  const upload_retry_policy policy{1000ms, 60'000ms, 0.25, 8};
  CHECK(upload_backoff(policy, 1, 0.5) == 1000ms);
  CHECK(upload_backoff(policy, 2, 0.5) == 2000ms);
  CHECK(upload_backoff(policy, 3, 0.5) == 4000ms);
  CHECK(upload_backoff(policy, 7, 0.5) == 60'000ms);
  CHECK(upload_backoff(policy, 1000, 0.5) == 60'000ms);
  CHECK(upload_backoff(policy, 1, 0.0) == 750ms);
  CHECK(upload_backoff(policy, 1, 0.999999) >= 1249ms);
  CHECK(upload_backoff(policy, 1, 0.999999) <= 1250ms);
  CHECK(upload_backoff(policy, 100, 1.0) == 75'000ms);
}

TEST_CASE("upload plan: call.json records where files went and keeps its other fields",
          "[upload_plan]") {
  temporary_directory root;
  const auto path = root.write("call.json", R"({"call_sid":"CA1","twilio_status":"completed"})");
  REQUIRE(record_uploads_in_call_json(path, {{"caller.wav", "s3://b/p/CA1/caller.wav"}}).empty());
  // A later process adds what it uploaded; what an earlier one recorded stays.
  REQUIRE(record_uploads_in_call_json(path, {{"call.json", "s3://b/p/CA1/call.json"}}).empty());
  const auto text = read_text(path);
  const auto json = boost::json::parse(text).as_object();
  CHECK(json.at("twilio_status").as_string() == "completed");
  CHECK(uploaded_url_of(text, "caller.wav") == "s3://b/p/CA1/caller.wav");
  CHECK(uploaded_url_of(text, "call.json") == "s3://b/p/CA1/call.json");
  CHECK_FALSE(uploaded_url_of(text, "agent.wav"));
  CHECK_FALSE(uploaded_url_of("not json", "caller.wav"));
  CHECK_FALSE(record_uploads_in_call_json(root.path() / "missing.json", {}).empty());
  const auto bad = root.write("bad.json", "[1,2]");
  CHECK_FALSE(record_uploads_in_call_json(bad, {}).empty());
}

TEST_CASE("upload plan: s3 URLs split into bucket and key", "[upload_plan]") {
  CHECK(bucket_url("b", "p/2026-12-06/CA1/call.json") == "s3://b/p/2026-12-06/CA1/call.json");
  const auto split = split_bucket_url("s3://b/p/CA1/call.json");
  REQUIRE(split);
  CHECK(split->first == "b");
  CHECK(split->second == "p/CA1/call.json");
  CHECK_FALSE(split_bucket_url("https://b/p"));
  CHECK_FALSE(split_bucket_url("s3://b"));
  CHECK_FALSE(split_bucket_url("s3://b/"));
  CHECK_FALSE(split_bucket_url("s3:///key"));
}
