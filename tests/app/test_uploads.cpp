// Recordings in object storage against a real S3 server (issue 15 §3): the S3 stand-in
// (tests/s3: s3rver behind a front server that checks every request's SigV4 signature with the
// AWS SDK's signer, and injects faults). A call placed through the in-process bridge with both
// stand-ins; its files arrive under their keys with their bytes; the bucket answering 503 twice,
// then accepting; refusing with 403 (files stay, the error counted); a `switchboard serve` child
// killed with SIGKILL during an upload and its restart finishing it; the call API serving a
// file whose local copy is gone, streamed or as a presigned redirect.
#include "actors/upload_plan.hpp"
#include "app/bridge_server.hpp"
#include "bridge_harness.hpp"
#include "net/s3_client.hpp"
#include "sim/server_process.hpp"
#include "support/s3_standin.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* api_token = "uploads-api-token";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Polls `condition` until it holds or `limit` passes (a bound on a broken test only).
template <class Condition>
bool eventually(Condition condition, std::chrono::seconds limit = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

void use_bucket(config::settings& settings, const s3_standin& s3, const std::string& prefix) {
  settings.api_token = api_token;
  settings.recordings_bucket_url = "s3://" + s3.bucket() + "/" + prefix;
  settings.s3_endpoint = s3.endpoint();
  settings.aws_region = s3.region();
  settings.aws_access_key_id = s3.access_key();
  settings.aws_secret_access_key = s3.secret_key();
}

net::http_client_request api_get() {
  net::http_client_request request;
  request.method = "GET";
  request.headers = {{"Authorization", std::string("Bearer ") + api_token}};
  return request;
}

/// One short call: the caller asks, hears the start of the answer, hangs up. Returns its
/// directory once its call.json is written.
std::pair<std::string, std::filesystem::path> place_short_call(bridge_harness& harness) {
  const auto result = harness.place(harness.call({
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(200ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  REQUIRE_FALSE(finished[0].directory.empty());
  return {result.call_sid, finished[0].directory};
}

std::string object_of(const net::s3_client& client, const std::string& key) {
  std::string body;
  const auto got = client.get(key, [&](std::string_view piece) {
    body.append(piece);
    return true;
  });
  INFO(got.reason);
  CHECK(got.outcome == net::s3_outcome::ok);
  return body;
}

bool marked(const std::filesystem::path& directory) {
  return std::filesystem::exists(directory / actors::upload_marker_name);
}

}  // namespace

TEST_CASE("a call's files arrive in the bucket under their keys with their bytes",
          "[uploads][s3]") {
  s3_standin s3;
  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    use_bucket(settings, s3, "switchboard/test");
    settings.recordings_keep_local = true;  // to compare the bytes
  };
  bridge_harness harness(options);
  const auto [sid, directory] = place_short_call(harness);
  REQUIRE(eventually([&] { return !marked(directory); }));

  const auto base = "switchboard/test/" + directory.parent_path().filename().string() + "/" +
                    directory.filename().string();
  CHECK(directory.filename().string() == sid);
  const auto call_json = read_text(directory / "call.json");
  net::s3_client client(s3.client_config());
  for (const char* file :
       {"caller.wav", "agent.wav", "stereo.wav", "mono.wav", "transcript.jsonl", "call.json"}) {
    INFO(file);
    const auto key = base + "/" + file;
    CHECK(actors::uploaded_url_of(call_json, file) == "s3://recordings/" + key);
    const auto [head, info] = client.head(key);
    REQUIRE(info);
    CHECK(info->content_type == actors::upload_content_type(file));
    // Same bytes, so the same size and checksum (the stand-in checked each PUT's Content-MD5).
    CHECK(object_of(client, key) == read_text(directory / file));
  }
  // Every request signed as S3 checks it, with the body's MD5.
  for (const auto& request : s3.requests()) {
    INFO(request.method << " " << request.path);
    CHECK(request.signature_ok);
    if (request.method == "PUT")
      CHECK_FALSE(request.content_md5.empty());
  }
  auto& node = harness.server().metrics();
  CHECK(node.uploads(metrics::upload_result::ok).Value() == 6);
  CHECK(node.uploads(metrics::upload_result::failed).Value() == 0);
  CHECK(node.upload_queue().Value() == 0);
  CHECK(node.upload_bytes().Value() > 0);
}

TEST_CASE("uploaded and deleted locally the call API serves a recording from the bucket",
          "[uploads][s3]") {
  s3_standin s3;
  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    use_bucket(settings, s3, "calls");
  };
  bridge_harness harness(options);
  const auto [sid, directory] = place_short_call(harness);
  REQUIRE(eventually([&] { return !marked(directory); }));
  // The local copies are gone; call.json stays, saying where they went.
  CHECK_FALSE(std::filesystem::exists(directory / "caller.wav"));
  CHECK_FALSE(std::filesystem::exists(directory / "stereo.wav"));
  REQUIRE(std::filesystem::exists(directory / "call.json"));
  const auto url = actors::uploaded_url_of(read_text(directory / "call.json"), "stereo.wav");
  REQUIRE(url);
  const auto key = actors::split_bucket_url(*url)->second;

  const auto port = harness.server().port();
  const auto served = harness.send(port, "/calls/" + sid + "/recordings/stereo.wav", api_get());
  REQUIRE(served.status == 200);
  CHECK(served.body.substr(0, 4) == "RIFF");
  net::s3_client client(s3.client_config());
  CHECK(served.body == object_of(client, key));
  const auto transcript =
      harness.send(port, "/calls/" + sid + "/recordings/transcript.jsonl", api_get());
  CHECK(transcript.status == 200);

  // The bucket failing: the API says so (502), it does not pretend the file is absent.
  s3.inject_faults({.status = 500, .count = 1});
  const auto failing = harness.send(port, "/calls/" + sid + "/recordings/caller.wav", api_get());
  CHECK(failing.status == 502);
  s3.clear_faults();
  CHECK(harness.send(port, "/calls/" + sid + "/recordings/caller.wav", api_get()).status == 200);
}

TEST_CASE("with RECORDINGS_PRESIGN the call API redirects to a presigned URL that works",
          "[uploads][s3]") {
  s3_standin s3;
  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    use_bucket(settings, s3, "calls");
    settings.recordings_presign = true;
  };
  bridge_harness harness(options);
  const auto [sid, directory] = place_short_call(harness);
  REQUIRE(eventually([&] { return !marked(directory); }));
  const auto port = harness.server().port();
  const auto redirect = harness.send(port, "/calls/" + sid + "/recordings/caller.wav", api_get());
  REQUIRE(redirect.status == 302);
  const std::string location(redirect.header("Location"));
  INFO(location);
  REQUIRE(location.starts_with(s3.endpoint() + "/recordings/calls/"));
  CHECK(location.find("X-Amz-Signature=") != std::string::npos);
  net::http_client_request plain;
  plain.method = "GET";
  const auto fetched = harness.send(s3.port(), location.substr(s3.endpoint().size()), plain);
  CHECK(fetched.status == 200);
  CHECK(fetched.body.substr(0, 4) == "RIFF");
}

TEST_CASE("a bucket that answers 503 twice then accepts gets every file", "[uploads][s3]") {
  s3_standin s3;
  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    use_bucket(settings, s3, "calls");
  };
  bridge_harness harness(options);
  s3.inject_faults({.status = 503, .count = 2});
  const auto [sid, directory] = place_short_call(harness);
  REQUIRE(eventually([&] { return !marked(directory); }));
  auto& node = harness.server().metrics();
  CHECK(node.uploads(metrics::upload_result::retried).Value() == 2);
  CHECK(node.uploads(metrics::upload_result::ok).Value() == 6);
  CHECK(node.uploads(metrics::upload_result::failed).Value() == 0);
  const auto call_json = read_text(directory / "call.json");
  net::s3_client client(s3.client_config());
  for (const char* file : {"caller.wav", "agent.wav", "stereo.wav", "mono.wav"}) {
    INFO(file);
    const auto url = actors::uploaded_url_of(call_json, file);
    REQUIRE(url);
    const auto [head, info] = client.head(actors::split_bucket_url(*url)->second);
    CHECK(head.outcome == net::s3_outcome::ok);
  }
  int refused = 0;
  for (const auto& request : s3.requests())
    refused += request.status == 503 ? 1 : 0;
  CHECK(refused == 2);
}

TEST_CASE("a bucket that refuses with 403 leaves the files local and counts the failure",
          "[uploads][s3]") {
  s3_standin s3;
  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    use_bucket(settings, s3, "calls");
  };
  bridge_harness harness(options);
  s3.inject_faults({.status = 403, .count = -1});
  const auto [sid, directory] = place_short_call(harness);
  auto& node = harness.server().metrics();
  REQUIRE(eventually([&] {
    const auto marker = actors::read_upload_marker(directory);
    return node.uploads(metrics::upload_result::failed).Value() >= 1 && marker &&
           !marker->failed.empty();
  }));
  for (const char* file :
       {"caller.wav", "agent.wav", "stereo.wav", "mono.wav", "transcript.jsonl", "call.json"}) {
    INFO(file);
    CHECK(std::filesystem::exists(directory / file));
  }
  CHECK(actors::read_upload_marker(directory)->failed.find("AccessDenied") != std::string::npos);
  CHECK_FALSE(actors::uploaded_url_of(read_text(directory / "call.json"), "caller.wav"));
  CHECK(node.uploads(metrics::upload_result::ok).Value() == 0);
  // The local files still serve the API.
  const auto served =
      harness.send(harness.server().port(), "/calls/" + sid + "/recordings/caller.wav", api_get());
  CHECK(served.status == 200);
}

TEST_CASE("a node killed during an upload finishes it when it starts again", "[uploads][s3]") {
  s3_standin s3;
  temporary_directory work;
  const auto recordings = work.path() / "recordings";
  // A call this node finished, marked for upload as its finaliser leaves it.
  const auto directory = recordings / "2026-12-06" / "CAkilled";
  std::filesystem::create_directories(directory);
  const std::string caller_audio(200'000, '\x7f');
  std::ofstream(directory / "caller.wav", std::ios::binary) << caller_audio;
  std::ofstream(directory / "transcript.jsonl") << "{\"speaker\":\"caller\",\"text\":\"hi\"}\n";
  std::ofstream(directory / "call.json") << R"({"call_sid":"CAkilled","end_reason":"completed"})";
  REQUIRE(actors::write_upload_marker(directory, {"node-k", ""}).empty());

  sim::server_process_options options;
  options.executable = std::getenv("SWITCHBOARD_BINARY") != nullptr
                           ? std::getenv("SWITCHBOARD_BINARY")
                           : SWITCHBOARD_BINARY_DIR "/switchboard";
  options.arguments = {"serve"};
  options.working_directory = work.path();
  options.environment = {"PORT=0",
                         "BIND_ADDRESS=127.0.0.1",
                         "IO_THREADS=1",
                         "NODE_NAME=node-k",
                         "ALLOW_UNSIGNED_TWILIO=true",
                         "RECORDINGS_DIR=" + recordings.string(),
                         "RECORDINGS_BUCKET_URL=s3://" + s3.bucket() + "/calls",
                         "S3_ENDPOINT=" + s3.endpoint(),
                         "AWS_ACCESS_KEY_ID=" + s3.access_key(),
                         "AWS_SECRET_ACCESS_KEY=" + s3.secret_key(),
                         "UPLOAD_CONCURRENCY=1",
                         "LOG_LEVEL=info"};
  // The first PUT hangs: the node is killed while it waits for the bucket's answer.
  s3.inject_faults({.status = 0, .count = 1, .hang_ms = 60'000});
  {
    auto first = sim::server_process::spawn(options);
    REQUIRE(first.has_value());
    REQUIRE((*first)->wait_for_port(30s).has_value());
    REQUIRE(eventually([&] { return !s3.requests().empty(); }));
    CHECK(s3.requests().front().method == "PUT");
    ::kill((*first)->pid(), SIGKILL);
    (*first)->wait_for_exit(30s);
  }
  // Nothing was confirmed: every file and the marker are still there.
  CHECK(std::filesystem::exists(directory / "caller.wav"));
  CHECK(marked(directory));
  s3.clear_faults();

  auto second = sim::server_process::spawn(options);
  REQUIRE(second.has_value());
  REQUIRE((*second)->wait_for_port(30s).has_value());
  REQUIRE(eventually([&] { return !marked(directory); }));
  CHECK_FALSE(std::filesystem::exists(directory / "caller.wav"));
  const auto call_json = read_text(directory / "call.json");
  net::s3_client client(s3.client_config());
  CHECK(object_of(client, "calls/2026-12-06/CAkilled/caller.wav") == caller_audio);
  CHECK(actors::uploaded_url_of(call_json, "caller.wav") ==
        "s3://recordings/calls/2026-12-06/CAkilled/caller.wav");
  const auto uploaded_call_json = object_of(client, "calls/2026-12-06/CAkilled/call.json");
  CHECK(actors::uploaded_url_of(uploaded_call_json, "transcript.jsonl"));
  CHECK((*second)->terminate() == 0);
}
