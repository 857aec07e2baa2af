// Recordings in object storage against a real S3 server (issue 15 §3): the S3 stand-in
// (tests/s3: s3rver behind a front server that checks every request's SigV4 signature with the
// AWS SDK's signer, and injects faults). A call placed through the in-process bridge with both
// stand-ins; its files arrive under their keys with their bytes; the bucket answering 503 twice,
// then accepting; refusing with 403 (files stay, the error counted); a `switchboard serve` child
// killed with SIGKILL during an upload and its restart finishing it; the call API serving a
// file whose local copy is gone, streamed or as a presigned redirect.
#include "actors/call_recovery.hpp"
#include "actors/upload_plan.hpp"
#include "app/bridge_server.hpp"
#include "audio/wav_writer.hpp"
#include "bridge_harness.hpp"
#include "net/form_body.hpp"
#include "net/s3_client.hpp"
#include "net/twilio_signature.hpp"
#include "sim/server_process.hpp"
#include "sim/twilio_rest_api.hpp"
#include "support/s3_standin.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <sys/wait.h>
#include <thread>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* api_token = "uploads-api-token";

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

/// The object now, or "" when the GET fails (a poll may overlap the PUT that replaces it).
std::string object_now(const net::s3_client& client, const std::string& key) {
  std::string body;
  const auto got = client.get(key, [&](std::string_view piece) {
    body.append(piece);
    return true;
  });
  return got.outcome == net::s3_outcome::ok ? body : std::string{};
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

  // A node that never had the call (a peer, or the pod that replaced this one) finds it by its
  // CallSid in the bucket's index and serves the same bytes.
  bridge_harness::options elsewhere;
  elsewhere.node_name = "another-node";
  elsewhere.configure = [&](config::settings& settings) {
    use_bucket(settings, s3, "calls");
  };
  bridge_harness other(elsewhere);
  const auto other_port = other.server().port();
  const auto from_index =
      other.send(other_port, "/calls/" + sid + "/recordings/stereo.wav", api_get());
  REQUIRE(from_index.status == 200);
  CHECK(from_index.body == served.body);
  CHECK(other.send(other_port, "/calls/" + sid + "/recordings/call.json", api_get()).status == 200);
  // A CallSid the bucket does not know is 404 there too; a file the call has not is 404.
  CHECK(other.send(other_port, "/calls/CAnotacall/recordings/stereo.wav", api_get()).status == 404);
  CHECK(other.send(other_port, "/calls/" + sid + "/recordings/other.wav", api_get()).status == 404);
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

/// Twilio's status callback for `call_sid`, signed as Twilio signs it for a bridge reached as
/// http://voice.test (the Host header says so).
net::http_client_request status_callback(const bridge_harness& harness, const std::string& call_sid,
                                         std::string_view status, std::uint64_t sequence) {
  sim::outbound_call call;
  call.sid = call_sid;
  call.account_sid = "AC0123456789abcdef0123456789abcdef";
  call.from = "+15005550006";
  call.to = "+15005550001";
  const auto params = sim::status_callback_parameters(call, status, sequence, 200,
                                                      std::chrono::system_clock::now());
  net::http_client_request request;
  request.method = "POST";
  request.body = net::encode_form_body(params);
  request.headers = {
      {"Host", "voice.test"},
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"X-Twilio-Signature", net::compute_twilio_signature(
                                 harness.auth_token(), "http://voice.test/call-status", params)}};
  return request;
}

TEST_CASE("call.json rewritten with a later twilio_status goes up to the bucket again",
          "[uploads][s3]") {
  s3_standin s3;
  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    use_bucket(settings, s3, "calls");
  };
  bridge_harness harness(options);
  const auto port = harness.server().port();
  std::promise<void> release;
  std::promise<void> holding;
  auto call = harness.call({
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(200ms),
      sim::hold_until(release.get_future().share(), [&] { holding.set_value(); }),
      sim::hangup(),
  });
  call.call_sid = sim::generate_call_sid();
  auto ended = harness.start(call);
  holding.get_future().wait();
  // Twilio's in-progress while the call streams: the status book knows the call from now on.
  REQUIRE(
      harness.send(port, "/call-status", status_callback(harness, call.call_sid, "in-progress", 2))
          .status == 204);
  release.set_value();
  REQUIRE(ended.get().ok());
  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  const auto directory = finished[0].directory;
  REQUIRE(eventually([&] { return !marked(directory); }));
  net::s3_client client(s3.client_config());
  const auto key = actors::split_bucket_url(
                       *actors::uploaded_url_of(read_text(directory / "call.json"), "call.json"))
                       ->second;
  CHECK(object_of(client, key).find(R"("twilio_status":"in-progress")") != std::string::npos);

  // Twilio's completed, after the stream's end: call.json is rewritten, and goes up again.
  REQUIRE(
      harness.send(port, "/call-status", status_callback(harness, call.call_sid, "completed", 3))
          .status == 204);
  REQUIRE(eventually([&] {
    return object_now(client, key).find(R"("twilio_status":"completed")") != std::string::npos;
  }));
  const auto in_bucket = object_of(client, key);
  CHECK(actors::uploaded_url_of(in_bucket, "caller.wav"));
  CHECK(read_text(directory / "call.json") == in_bucket);
  // The call's index follows, and the marker put back for the new call.json comes off again.
  const auto index = actors::call_index_key("calls", call.call_sid);
  CHECK(eventually([&] { return object_now(client, index) == in_bucket && !marked(directory); }));
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

/// A call this node finished, marked for upload as its finaliser leaves it, and the settings of
/// a `switchboard serve` child that uploads to the stand-in.
struct marked_call_node {
  temporary_directory work;
  std::filesystem::path recordings = work.path() / "recordings";
  std::filesystem::path directory = recordings / "2026-12-06" / "CAkilled";
  std::string caller_audio = std::string(200'000, '\x7f');
  sim::server_process_options options;

  explicit marked_call_node(const s3_standin& s3) {
    std::filesystem::create_directories(directory);
    std::ofstream(directory / "caller.wav", std::ios::binary) << caller_audio;
    std::ofstream(directory / "transcript.jsonl") << "{\"speaker\":\"caller\",\"text\":\"hi\"}\n";
    std::ofstream(directory / "call.json") << R"({"call_sid":"CAkilled","end_reason":"completed"})";
    REQUIRE(actors::write_upload_marker(directory, {"node-k", ""}).empty());
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
  }

  std::unique_ptr<sim::server_process> start() const {
    auto started = sim::server_process::spawn(options);
    REQUIRE(started.has_value());
    REQUIRE((*started)->wait_for_port(30s).has_value());
    return std::move(*started);
  }

  /// Every file in the bucket, call.json saying where, nothing local but call.json.
  void check_uploaded(const s3_standin& s3) const {
    CHECK_FALSE(marked(directory));
    CHECK_FALSE(std::filesystem::exists(directory / "caller.wav"));
    const auto call_json = read_text(directory / "call.json");
    net::s3_client client(s3.client_config());
    CHECK(object_of(client, "calls/2026-12-06/CAkilled/caller.wav") == caller_audio);
    CHECK(actors::uploaded_url_of(call_json, "caller.wav") ==
          "s3://recordings/calls/2026-12-06/CAkilled/caller.wav");
    const auto uploaded_call_json = object_of(client, "calls/2026-12-06/CAkilled/call.json");
    CHECK(actors::uploaded_url_of(uploaded_call_json, "transcript.jsonl"));
  }
};

TEST_CASE("a node killed during an upload finishes it when it starts again", "[uploads][s3]") {
  s3_standin s3;
  marked_call_node node(s3);
  // The first PUT hangs: the node is killed while it waits for the bucket's answer.
  s3.inject_faults({.status = 0, .count = 1, .hang_ms = 60'000});
  {
    auto first = node.start();
    REQUIRE(eventually([&] { return !s3.requests().empty(); }));
    CHECK(s3.requests().front().method == "PUT");
    ::kill(first->pid(), SIGKILL);
    first->wait_for_exit(30s);
  }
  // Nothing was confirmed: every file and the marker are still there.
  CHECK(std::filesystem::exists(node.directory / "caller.wav"));
  CHECK(marked(node.directory));
  s3.clear_faults();

  auto second = node.start();
  REQUIRE(eventually([&] { return !marked(node.directory); }));
  node.check_uploaded(s3);
  CHECK(second->terminate() == 0);
}

TEST_CASE("SIGTERM waits for the upload under way before the node exits", "[uploads][s3]") {
  s3_standin s3;
  marked_call_node node(s3);
  // The first PUT is answered after 2 s: the drain begins while it is under way.
  s3.inject_faults({.status = 0, .count = 1, .hang_ms = 2000});
  auto process = node.start();
  REQUIRE(eventually([&] { return !s3.requests().empty(); }));
  ::kill(process->pid(), SIGTERM);
  const auto status = process->wait_for_exit(60s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  node.check_uploaded(s3);
}

TEST_CASE("a node stopped at once cancels the upload under way and leaves the call marked",
          "[uploads][s3]") {
  s3_standin s3;
  marked_call_node node(s3);
  // Every PUT is held ten minutes: only a cancel ends the one under way before that.
  s3.inject_faults({.status = 0, .count = -1, .hang_ms = 600'000});
  auto lines = std::make_shared<std::vector<std::string>>();
  auto lines_mutex = std::make_shared<std::mutex>();
  node.options.on_log_line = [lines, lines_mutex](std::string_view line) {
    std::lock_guard lock(*lines_mutex);
    lines->emplace_back(line);
  };
  const auto logged = [&](std::string_view text) {
    std::lock_guard lock(*lines_mutex);
    return std::any_of(lines->begin(), lines->end(), [&](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  };
  auto process = node.start();
  REQUIRE(eventually([&] { return !s3.requests().empty(); }));
  // The first signal drains (it waits for uploads); the second stops at once.
  ::kill(process->pid(), SIGTERM);
  REQUIRE(eventually([&] { return logged("signal again to stop at once"); }));
  ::kill(process->pid(), SIGTERM);
  const auto status = process->wait_for_exit(120s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(logged("1 request(s) to the bucket under way cancelled"));
  // Nothing was confirmed: every file and the marker are still there for the next start.
  CHECK(std::filesystem::exists(node.directory / "caller.wav"));
  CHECK(marked(node.directory));
  s3.clear_faults();
}

// A figure, not a check (hidden: run by name). From the caller's hang-up to every file of the
// call confirmed in the bucket (call.json recording them, local copies deleted, marker gone),
// call after call, with the S3 stand-in on loopback:
//   UPLOAD_BENCH_CALLS=10 build/tests/app/test_uploads "[.upload_bench]"
TEST_CASE("time from a call's end to its files in the bucket", "[.upload_bench]") {
  s3_standin s3;
  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    use_bucket(settings, s3, "bench");
  };
  bridge_harness harness(options);
  const char* wanted = std::getenv("UPLOAD_BENCH_CALLS");
  const std::size_t calls = wanted != nullptr ? std::stoul(wanted) : 5;
  std::vector<double> seconds;
  for (std::size_t i = 0; i < calls; ++i) {
    const auto result = harness.place(harness.call({
        sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
        sim::wait_for_agent_audio(200ms),
        sim::hangup(),
    }));
    REQUIRE(result.ok());
    const auto hung_up = std::chrono::steady_clock::now();
    const auto finished = harness.server().calls().wait_for_finished(i + 1, 30s);
    REQUIRE(finished.size() == i + 1);
    const auto directory = finished[i].directory;
    const auto deadline = hung_up + 60s;
    while (marked(directory) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    REQUIRE_FALSE(marked(directory));
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - hung_up).count());
  }
  std::sort(seconds.begin(), seconds.end());
  std::uint64_t bytes =
      static_cast<std::uint64_t>(harness.server().metrics().upload_bytes().Value());
  std::printf(
      "upload_bench: %zu calls, %.1f kB uploaded per call; hang-up to files in the bucket: "
      "min %.3f s, median %.3f s, max %.3f s\n",
      calls, static_cast<double>(bytes) / 1000.0 / static_cast<double>(calls), seconds.front(),
      seconds[seconds.size() / 2], seconds.back());
}

TEST_CASE("a call cut by a crash is finished at the restart and uploaded", "[uploads][s3]") {
  s3_standin s3;
  marked_call_node node(s3);
  // A call the node was recording when it died: its running marker and one track, no call.json.
  actors::call_marker running;
  running.node = "node-k";
  running.process = "an-earlier-process";
  running.identity.call_sid = "CAcrashed";
  running.direction = "inbound";
  running.started_at = std::chrono::system_clock::now();
  std::string error;
  const auto crashed = actors::make_marked_call_directory(node.recordings, running, error);
  REQUIRE(error.empty());
  {
    auto writer = audio::wav_writer::create((crashed / "caller.wav").string(),
                                            audio::wav_format::mulaw_8k_mono());
    REQUIRE(writer.has_value());
    REQUIRE(writer->append(std::vector<std::uint8_t>(8000, 0x22)).has_value());
    REQUIRE(writer->close().has_value());
  }
  const auto track = read_text(crashed / "caller.wav");  // complete: the repair leaves it be
  auto process = node.start();
  // Both: the one the finaliser had marked, and the one recovery finished and marked.
  REQUIRE(eventually([&] { return !marked(node.directory) && !marked(crashed); }));
  CHECK_FALSE(std::filesystem::exists(crashed / actors::call_marker_name));
  CHECK_FALSE(std::filesystem::exists(crashed / "caller.wav"));
  const auto call_json = read_text(crashed / "call.json");
  CHECK(call_json.find("node crashed") != std::string::npos);
  const auto url = actors::uploaded_url_of(call_json, "caller.wav");
  REQUIRE(url);
  net::s3_client client(s3.client_config());
  CHECK(object_of(client, actors::split_bucket_url(*url)->second) == track);
  CHECK(process->terminate() == 0);
}
