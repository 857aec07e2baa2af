#pragma once
// One call through the supervisor under CAF's deterministic scheduler: the model reached through
// fake_model_links and Twilio through a recording connection; the test plays both peers.
#include "actor_test_fixture.hpp"
#include "actors/call_supervisor.hpp"
#include "net/base64.hpp"
#include "net/twilio_messages.hpp"
#include "wire_json.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::actors::testing {

using namespace std::chrono_literals;

/// One call through the supervisor, the model reached through fake_model_links and Twilio
/// through a recording connection; the test plays both peers.
struct call_under_test {
  actor_fixture& fixture;
  temporary_directory recordings;
  std::shared_ptr<fake_model_links> model = std::make_shared<fake_model_links>();
  std::shared_ptr<bridge_environment> env = std::make_shared<bridge_environment>();
  std::shared_ptr<recording_connection> twilio = std::make_shared<recording_connection>();
  std::shared_ptr<frame_ingress> ingress = std::make_shared<frame_ingress>();
  std::string stream_sid = "MZ00000000000000000000000000000009";
  std::string call_sid = "CA00000000000000000000000000000009";
  std::uint64_t sequence = 1;
  std::uint64_t caller_ms = 0;

  explicit call_under_test(actor_fixture& f) : fixture(f) {
    env->model_links = model;
    env->recordings_dir = recordings.path();
    env->reconnect = {.max_attempts = 3, .first_delay = 100ms, .max_delay = 100ms, .jitter = 0};
    env->model_watch = {.ready_timeout = 5s, .silence_timeout = 20s};
  }

  /// Twilio stops the stream (if it is still open), so the call's actors end with the test.
  ~call_under_test() {
    if (!twilio->closed()) {
      ingress->deliver(
          {twilio_json(net::twilio_stop{sequence++, stream_sid,
                                        "AC00000000000000000000000000000009", call_sid}),
           true});
    }
    fixture.run();
    env->calls->wait_for_finished(1, 10s);
  }

  void start() {
    net::twilio_start start;
    start.sequence_number = sequence++;
    start.stream_sid = stream_sid;
    start.account_sid = "AC00000000000000000000000000000009";
    start.call_sid = call_sid;
    start.tracks = {"inbound"};
    start.media_format = {"audio/x-mulaw", 8000, 1};
    ingress->deliver({twilio_json(start), true});
    supervisor = spawn_local_call(fixture.system, bridge_environment_ptr(env),
                                  std::weak_ptr<net::websocket_connection>(twilio), ingress);
    fixture.run();
  }
  call_supervisor_actor supervisor;

  /// `ms` of caller audio, 20 ms frames delivered as the io thread would, the clock advanced.
  void caller_speaks(std::chrono::milliseconds ms) {
    for (std::int64_t i = 0; i < ms.count() / 20; ++i) {
      net::twilio_media media{sequence++, stream_sid,
                              "inbound",  sequence,
                              caller_ms,  net::encode_base64(std::vector<std::uint8_t>(160, 0x22))};
      caller_ms += 20;
      ingress->deliver({twilio_json(media), true});
      fixture.advance(20ms);
    }
  }

  void model_configured() {
    model->server_sends(model_json(net::realtime_session_updated{"ev_updated", {}}));
    fixture.run();
  }

  /// start(), then the model link opens and takes the session's configuration.
  void start_with_model_ready() {
    start();
    model->connection_event(realtime_link_event::kind::opened);
    fixture.run();
    model_configured();
  }

  /// What the bridge sent Twilio so far: the audio, and the marks Twilio echoes once played.
  struct to_caller {
    std::vector<std::uint8_t> audio;
    std::vector<std::string> marks;
  };
  to_caller sent_to_caller() {
    to_caller sent;
    for (const auto& text : twilio->take()) {
      auto message = net::parse_twilio_outbound(text);
      REQUIRE(message.has_value());
      if (const auto* media = std::get_if<net::twilio_outbound_media>(&*message)) {
        auto bytes = net::decode_base64(media->payload_base64);
        REQUIRE(bytes.has_value());
        sent.audio.insert(sent.audio.end(), bytes->begin(), bytes->end());
      } else if (const auto* mark = std::get_if<net::twilio_outbound_mark>(&*message)) {
        sent.marks.push_back(mark->name);
      }
    }
    return sent;
  }
  void echo(const std::vector<std::string>& marks) {
    for (const auto& name : marks)
      ingress->deliver({twilio_json(net::twilio_mark{sequence++, stream_sid, name}), true});
    fixture.run();
  }
};

}  // namespace switchboard::actors::testing
