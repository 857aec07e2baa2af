// The call's actor protocol under CAF's deterministic scheduler and virtual clock: clock ticks,
// the barge-in sequence, the truncate position, late deltas dropped, a malformed frame.
#include "actors/call_supervisor.hpp"
#include "actors/openai_session.hpp"
#include "actors/silence_clock.hpp"
#include "audio/wav_format.hpp"
#include "call_under_test.hpp"
#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"
#include "wire_json.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace switchboard;
using namespace switchboard::actors;
using namespace switchboard::actors::testing;
using namespace std::chrono_literals;
using switchboard::testing::read_text;

namespace {

/// Collects what reaches a recorder.
struct recorder_probe_state {
  std::shared_ptr<std::vector<std::uint8_t>> heard;
};
recorder_actor::behavior_type recorder_probe(
    recorder_actor::stateful_pointer<recorder_probe_state> self,
    std::shared_ptr<std::vector<std::uint8_t>> heard) {
  self->state.heard = std::move(heard);
  return {
      [](call_peers&) {},
      [](recording_target&) {},
      [](caller_audio_batch&) {},
      [=](heard_audio& audio) {
        self->state.heard->insert(self->state.heard->end(), audio.mulaw.begin(), audio.mulaw.end());
      },
      [](track_write_done&) {},
      [](finalize_atom, std::uint64_t) { return recording_summary{}; },
  };
}

/// Collects what reaches the Twilio socket.
struct twilio_probe_log {
  std::vector<play_to_caller> played;
  int clears = 0;
};
twilio_socket_actor::behavior_type twilio_probe(twilio_socket_actor::pointer,
                                                std::shared_ptr<twilio_probe_log> log) {
  return {
      [](call_peers&) {},
      [](twilio_frame&) {},
      [](twilio_socket_closed&) {},
      [=](play_to_caller& audio) { log->played.push_back(std::move(audio)); },
      [=](clear_atom) { ++log->clears; },
      [](hangup_atom) {},
      [](close_stream&) {},
      [](drain_call&) {},
  };
}

std::string audio_base64(std::size_t bytes, std::uint8_t value) {
  return net::encode_base64(std::vector<std::uint8_t>(bytes, value));
}

bool contains(const std::vector<std::string>& texts, std::string_view needle) {
  return std::any_of(texts.begin(), texts.end(),
                     [&](const auto& text) { return text.find(needle) != std::string::npos; });
}

/// A ticking silence clock whose recorder and Twilio socket are probes.
struct clock_under_test {
  call_peers peers;
  std::shared_ptr<std::vector<std::uint8_t>> heard = std::make_shared<std::vector<std::uint8_t>>();
  std::shared_ptr<twilio_probe_log> twilio_log = std::make_shared<twilio_probe_log>();
};
clock_under_test start_clock(actor_fixture& fixture) {
  clock_under_test clock;
  clock.peers.clock =
      fixture.system.spawn(silence_clock, std::make_shared<const bridge_environment>());
  clock.peers.agent_recorder = fixture.system.spawn(recorder_probe, clock.heard);
  clock.peers.twilio = fixture.system.spawn(twilio_probe, clock.twilio_log);
  caf::anon_send(clock.peers.clock, clock.peers);
  caf::anon_send(clock.peers.clock, call_started{});
  return clock;
}

}  // namespace

TEST_CASE("the silence clock writes one 20 ms tick of μ-law silence per 20 ms of quiet",
          "[silence_clock]") {
  actor_fixture fixture;
  const auto [peers, heard, twilio_log] = start_clock(fixture);
  fixture.run();
  CHECK(heard->empty());

  // The clock wakes every 100 ms and hands the recorder the five slots played since.
  fixture.advance(20ms);
  CHECK(heard->empty());
  fixture.advance(80ms);
  CHECK(heard->size() == 5 * 160);
  fixture.advance(100ms);
  CHECK(heard->size() == 10 * 160);
  CHECK(std::all_of(heard->begin(), heard->end(), [](std::uint8_t b) { return b == 0xFF; }));
  caf::anon_send_exit(peers.clock, caf::exit_reason::user_shutdown);
}

TEST_CASE("agent audio goes to Twilio with a mark, and the caller hears it tick by tick",
          "[silence_clock]") {
  actor_fixture fixture;
  const auto [peers, heard, twilio_log] = start_clock(fixture);
  caf::anon_send(peers.clock, agent_audio{"resp_1", "item_1", audio_base64(240, 0x11)});
  fixture.run();
  REQUIRE(twilio_log->played.size() == 1);
  CHECK(twilio_log->played[0].mark_name == "item_1@240");

  fixture.advance(100ms);
  REQUIRE(heard->size() == 5 * 160);
  CHECK(std::count(heard->begin(), heard->end(), 0x11) == 240);
  CHECK((*heard)[240] == 0xFF);  // silence after the agent's 30 ms
  caf::anon_send_exit(peers.clock, caf::exit_reason::user_shutdown);
}

TEST_CASE("agent audio arriving between wake-ups plays from the next 20 ms slot, as heard",
          "[silence_clock]") {
  actor_fixture fixture;
  const auto [peers, heard, twilio_log] = start_clock(fixture);
  fixture.run();
  fixture.advance(50ms);  // two slots have passed in silence, the clock has not woken yet
  CHECK(heard->empty());
  caf::anon_send(peers.clock, agent_audio{"resp_1", "item_1", audio_base64(160, 0x11)});
  fixture.run();
  fixture.advance(50ms);  // the wake-up at 100 ms
  REQUIRE(heard->size() == 5 * 160);
  CHECK(
      std::all_of(heard->begin(), heard->begin() + 320, [](std::uint8_t b) { return b == 0xFF; }));
  CHECK(std::all_of(heard->begin() + 320, heard->begin() + 480,
                    [](std::uint8_t b) { return b == 0x11; }));
  CHECK(std::all_of(heard->begin() + 480, heard->end(), [](std::uint8_t b) { return b == 0xFF; }));
  caf::anon_send_exit(peers.clock, caf::exit_reason::user_shutdown);
}

TEST_CASE("a call through the supervisor: session set-up, caller audio, barge-in, late deltas",
          "[call_supervisor]") {
  actor_fixture fixture;
  temporary_directory recordings;
  auto model = std::make_shared<fake_model_links>();
  auto env = std::make_shared<bridge_environment>();
  env->model_links = model;
  env->recordings_dir = recordings.path();
  env->session.instructions = "Be brief.";
  env->session.voice = "cedar";
  env->call_tokens = net::call_token_issuer::from_secret("token-secret");
  const auto now = std::chrono::system_clock::now();
  env->wall_clock = [now] {
    return now;
  };

  auto twilio = std::make_shared<recording_connection>();
  auto ingress = std::make_shared<frame_ingress>();
  const std::string call_sid = "CA00000000000000000000000000000001";
  const std::string stream_sid = "MZ00000000000000000000000000000001";
  // Frames may arrive before the actors exist: the ingress holds them.
  ingress->deliver({twilio_json(net::twilio_connected{"Call", "1.0.0"}), true});
  net::twilio_start start;
  start.sequence_number = 1;
  start.stream_sid = stream_sid;
  start.account_sid = "AC00000000000000000000000000000001";
  start.call_sid = call_sid;
  start.tracks = {"inbound"};
  start.media_format = {"audio/x-mulaw", 8000, 1};
  start.custom_parameters = {
      {"From", "+14155550100"},
      {"To", "+14155550199"},
      {"token", env->call_tokens->issue({call_sid, "+14155550100", "+14155550199"}, now)}};
  ingress->deliver({twilio_json(start), true});

  spawn_local_call(fixture.system, bridge_environment_ptr(env),
                   std::weak_ptr<net::websocket_connection>(twilio), ingress);
  fixture.run();
  REQUIRE(model->opens == 1);  // connects as soon as the call is known

  // Caller audio before the session is ready is held, not dropped.
  std::uint64_t sequence = 2;
  auto caller_frame = [&](std::uint64_t timestamp_ms) {
    net::twilio_media media{sequence++, stream_sid,   "inbound",
                            sequence,   timestamp_ms, audio_base64(160, 0x22)};
    ingress->deliver({twilio_json(media), true});
  };
  caller_frame(0);
  caller_frame(20);
  fixture.run();
  CHECK(model->take().empty());

  model->connection_event(realtime_link_event::kind::opened);
  fixture.run();
  auto sent = model->take();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].find("\"session.update\"") != std::string::npos);
  CHECK(sent[0].find("audio/pcmu") != std::string::npos);
  CHECK(sent[0].find("cedar") != std::string::npos);
  // The held audio follows once the model has taken the configuration.
  model->server_sends(model_json(net::realtime_session_updated{"ev0", {}}));
  fixture.run();
  sent = model->take();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].find("input_audio_buffer.append") != std::string::npos);
  CHECK(sent[1].find("input_audio_buffer.append") != std::string::npos);

  // A malformed frame is counted and dropped; the call goes on.
  ingress->deliver({"{not json", true});
  caller_frame(40);
  fixture.run();
  CHECK(contains(model->take(), "input_audio_buffer.append"));

  // The agent answers with 200 ms of audio; Twilio gets it with a mark.
  model->server_sends(model_json(net::realtime_response_created{"ev1", "resp_1", "in_progress"}));
  model->server_sends(model_json(
      net::realtime_audio_delta{"ev2", "resp_1", "item_a", 0, 0, audio_base64(1600, 0x33)}));
  fixture.run();
  auto to_twilio = twilio->take();
  REQUIRE(to_twilio.size() == 2);
  CHECK(to_twilio[0].find("\"media\"") != std::string::npos);
  CHECK(to_twilio[1].find("item_a@1600") != std::string::npos);

  // The caller hears 60 ms of it, then starts talking.
  fixture.advance(60ms);
  model->server_sends(model_json(net::realtime_speech_started{"ev3", "item_c", 900}));
  fixture.run();
  to_twilio = twilio->take();
  REQUIRE(to_twilio.size() == 1);
  CHECK(to_twilio[0].find("\"clear\"") != std::string::npos);
  sent = model->take();
  CHECK(contains(sent, "response.cancel"));
  REQUIRE(contains(sent, "conversation.item.truncate"));
  const auto truncate = *std::find_if(sent.begin(), sent.end(), [](const auto& text) {
    return text.find("conversation.item.truncate") != std::string::npos;
  });
  CHECK(truncate.find("\"item_a\"") != std::string::npos);
  CHECK(truncate.find("\"audio_end_ms\":60") != std::string::npos);

  // Late deltas of the interrupted response never reach the caller.
  model->server_sends(model_json(
      net::realtime_audio_delta{"ev4", "resp_1", "item_a", 0, 0, audio_base64(800, 0x33)}));
  fixture.run();
  CHECK(twilio->take().empty());

  // A new response after the barge-in plays again.
  model->server_sends(model_json(
      net::realtime_response_done{"ev5", "resp_1", "cancelled", "turn_detected", std::nullopt}));
  model->server_sends(model_json(net::realtime_response_created{"ev6", "resp_2", "in_progress"}));
  model->server_sends(model_json(
      net::realtime_audio_delta{"ev7", "resp_2", "item_b", 0, 0, audio_base64(160, 0x44)}));
  fixture.run();
  CHECK(contains(twilio->take(), "item_b@160"));

  // Twilio stops the stream: the model session is closed.
  net::twilio_stop stop{sequence++, stream_sid, start.account_sid, call_sid};
  ingress->deliver({twilio_json(stop), true});
  fixture.run();
  CHECK(model->closes == 1);
}

TEST_CASE(
    "the caller's frames reach the recorder five at a time, and the last few before the stream "
    "ends: the caller track is whole",
    "[call_supervisor][recorder]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.start();

  // Seven frames of the caller (a distinct byte, so the recording shows where they went),
  // delivered at once: the virtual clock stands still, so no tick reaches the agent's recorder.
  auto& recorder_messages = *call.env->metrics->actor(metrics::actor_kind::recorder).messages;
  const auto messages_before = recorder_messages.Value();
  for (std::uint64_t frame = 0; frame < 7; ++frame) {
    call.ingress->deliver(
        {twilio_json(net::twilio_media{call.sequence, call.stream_sid, "inbound", call.sequence,
                                       frame * 20, audio_base64(160, 0x22)}),
         true});
    ++call.sequence;
  }
  fixture.run();
  // Five went in one message; two wait for the next three or the stream's end.
  CHECK(recorder_messages.Value() - messages_before == 1);

  call.ingress->deliver(
      {twilio_json(net::twilio_stop{call.sequence++, call.stream_sid,
                                    "AC00000000000000000000000000000009", call.call_sid}),
       true});
  fixture.run();
  const auto finished = call.env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  const auto bytes = read_text(finished[0].directory / "caller.wav");
  const auto file = std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  const auto wav = audio::parse_wav_bytes(file);
  REQUIRE(wav.has_value());
  const auto data = file.subspan(wav->data_offset, wav->data_bytes);
  REQUIRE(data.size() >= 7 * 160);
  // All seven frames, at the start of the track, in order: none was held back at the end.
  CHECK(std::count(data.begin(), data.end(), std::uint8_t{0x22}) == 7 * 160);
  CHECK(std::all_of(data.begin(), data.begin() + 7 * 160, [](auto byte) { return byte == 0x22; }));
}

TEST_CASE("a stream whose call token does not check out is refused before the model is called",
          "[call_supervisor]") {
  actor_fixture fixture;
  temporary_directory recordings;
  auto model = std::make_shared<fake_model_links>();
  auto env = std::make_shared<bridge_environment>();
  env->model_links = model;
  env->recordings_dir = recordings.path();
  env->call_tokens = net::call_token_issuer::from_secret("token-secret");

  auto twilio = std::make_shared<recording_connection>();
  auto ingress = std::make_shared<frame_ingress>();
  net::twilio_start start;
  start.sequence_number = 1;
  start.stream_sid = "MZ00000000000000000000000000000002";
  start.call_sid = "CA00000000000000000000000000000002";
  start.media_format = {"audio/x-mulaw", 8000, 1};
  start.custom_parameters = {{"token", "1.forged"}};
  ingress->deliver({twilio_json(start), true});
  spawn_local_call(fixture.system, bridge_environment_ptr(env),
                   std::weak_ptr<net::websocket_connection>(twilio), ingress);
  fixture.run();
  CHECK(model->opens == 0);
  CHECK(twilio->closed());
  CHECK(twilio->close_code() == net::close_code::policy_violation);
  auto finished = env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].refused);
}

TEST_CASE(
    "a call token opens one stream: a second stream with it is refused before the model is "
    "called, whatever From and To it names",
    "[call_supervisor][hostile]") {
  actor_fixture fixture;
  temporary_directory recordings;
  auto model = std::make_shared<fake_model_links>();
  auto env = std::make_shared<bridge_environment>();
  env->model_links = model;
  env->recordings_dir = recordings.path();
  env->call_tokens = net::call_token_issuer::from_secret("token-secret");
  const auto now = std::chrono::system_clock::now();
  env->wall_clock = [now] {
    return now;
  };
  const std::string call_sid = "CA00000000000000000000000000000003";
  const auto token = env->call_tokens->issue({call_sid, "+14155550100", "+14155550199"}, now);

  struct stream {
    std::shared_ptr<recording_connection> twilio;
    std::shared_ptr<frame_ingress> ingress;
  };
  auto open_stream = [&](std::string stream_sid, std::string from) {
    auto twilio = std::make_shared<recording_connection>();
    auto ingress = std::make_shared<frame_ingress>();
    net::twilio_start start;
    start.sequence_number = 1;
    start.stream_sid = std::move(stream_sid);
    start.account_sid = "AC00000000000000000000000000000001";
    start.call_sid = call_sid;
    start.media_format = {"audio/x-mulaw", 8000, 1};
    start.custom_parameters = {{"From", std::move(from)}, {"To", "+14155550199"}, {"token", token}};
    ingress->deliver({twilio_json(start), true});
    spawn_local_call(fixture.system, bridge_environment_ptr(env),
                     std::weak_ptr<net::websocket_connection>(twilio), ingress);
    fixture.run();
    return stream{twilio, ingress};
  };

  const auto first = open_stream("MZ00000000000000000000000000000031", "+14155550100");
  CHECK_FALSE(first.twilio->closed());
  CHECK(model->opens == 1);

  const auto replay = open_stream("MZ00000000000000000000000000000032", "+14155550100");
  CHECK(replay.twilio->closed());
  CHECK(replay.twilio->close_code() == net::close_code::policy_violation);

  const auto other_caller = open_stream("MZ00000000000000000000000000000033", "+19995550100");
  CHECK(other_caller.twilio->closed());
  CHECK(other_caller.twilio->close_code() == net::close_code::policy_violation);
  CHECK(model->opens == 1);
  auto refused = env->calls->wait_for_finished(2, 10s);
  REQUIRE(refused.size() == 2);
  CHECK(refused[0].refused);
  CHECK(refused[1].refused);

  // The first stream is the call: it runs on and ends as usual.
  first.ingress->deliver(
      {twilio_json(net::twilio_stop{2, "MZ00000000000000000000000000000031",
                                    "AC00000000000000000000000000000001", call_sid}),
       true});
  fixture.run();
  auto all = env->calls->wait_for_finished(3, 10s);
  REQUIRE(all.size() == 3);
  CHECK_FALSE(all[2].refused);
}

TEST_CASE("reconnect delays grow, are capped and jittered", "[openai_session]") {
  reconnect_policy policy;
  policy.first_delay = 250ms;
  policy.max_delay = 1000ms;
  policy.jitter = 0.25;
  CHECK(reconnect_delay(policy, 1, 0.5) == 250ms);
  CHECK(reconnect_delay(policy, 2, 0.5) == 500ms);
  CHECK(reconnect_delay(policy, 5, 0.5) == 1000ms);  // capped
  CHECK(reconnect_delay(policy, 1, 0.0) == 187ms);   // -25 %
  CHECK(reconnect_delay(policy, 1, 1.0) == 312ms);   // +25 %
}

namespace {

/// A stream's `start` as Twilio sends it, with a token from `env`'s issuer.
net::twilio_start signed_start(const bridge_environment& env, const std::string& call_sid,
                               std::chrono::system_clock::time_point now) {
  net::twilio_start start;
  start.sequence_number = 1;
  start.stream_sid = "MZ" + call_sid.substr(2);
  start.account_sid = "AC00000000000000000000000000000001";
  start.call_sid = call_sid;
  start.tracks = {"inbound"};
  start.media_format = {"audio/x-mulaw", 8000, 1};
  start.custom_parameters = {{"token", env.call_tokens->issue({call_sid, "", ""}, now)}};
  return start;
}

std::shared_ptr<bridge_environment> admission_environment(
    std::shared_ptr<fake_model_links> model, const std::filesystem::path& recordings,
    std::chrono::system_clock::time_point now) {
  auto env = std::make_shared<bridge_environment>();
  env->model_links = std::move(model);
  env->recordings_dir = recordings;
  env->call_tokens = net::call_token_issuer::from_secret("token-secret");
  env->wall_clock = [now] {
    return now;
  };
  return env;
}

bool directory_is_empty(const std::filesystem::path& path) {
  return std::filesystem::directory_iterator(path) == std::filesystem::directory_iterator();
}

}  // namespace

TEST_CASE("a stream that never starts is closed at START_TIMEOUT and never counts as a call",
          "[call_supervisor]") {
  actor_fixture fixture;
  temporary_directory recordings;
  auto model = std::make_shared<fake_model_links>();
  auto env = admission_environment(model, recordings.path(), std::chrono::system_clock::now());
  env->start_timeout = 5s;

  auto twilio = std::make_shared<recording_connection>();
  auto ingress = std::make_shared<frame_ingress>();
  ingress->deliver({twilio_json(net::twilio_connected{"Call", "1.0.0"}), true});
  spawn_local_call(fixture.system, bridge_environment_ptr(env),
                   std::weak_ptr<net::websocket_connection>(twilio), ingress);
  fixture.run();
  CHECK(env->metrics->active_calls().Value() == 0);
  CHECK(env->metrics->calls_started().Value() == 0);
  CHECK(env->calls->active_calls() == 0);
  CHECK(env->admission->streaming() == 0);

  fixture.advance(4999ms);
  CHECK_FALSE(twilio->closed());
  fixture.advance(1ms);
  CHECK(twilio->closed());
  CHECK(twilio->close_code() == net::close_code::policy_violation);
  CHECK(env->metrics->stream_start_timeouts().Value() == 1);

  auto finished = env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].refused);
  CHECK_FALSE(finished[0].started);
  CHECK(finished[0].directory.empty());
  // Nothing a call begins with was begun: no model session, no recordings, no count.
  CHECK(model->opens == 0);
  CHECK(directory_is_empty(recordings.path()));
  CHECK(env->metrics->active_calls().Value() == 0);
  CHECK(env->metrics->calls_started().Value() == 0);
  CHECK(env->metrics->calls_ended(metrics::call_end::refused).Value() == 1);
  CHECK(env->calls->active_calls() == 0);
}

TEST_CASE("a call counts from its start, and START_TIMEOUT leaves a started call alone",
          "[call_supervisor]") {
  actor_fixture fixture;
  temporary_directory recordings;
  auto model = std::make_shared<fake_model_links>();
  const auto now = std::chrono::system_clock::now();
  auto env = admission_environment(model, recordings.path(), now);
  env->start_timeout = 5s;
  env->admission = std::make_shared<call_admission>(admission_policy::limits{.max_calls = 1});
  const std::string call_sid = "CA00000000000000000000000000000004";
  // The webhook promised this call its place.
  REQUIRE_FALSE(env->admission->reserve(call_sid, call_admission::clock::now(), 30s));

  auto twilio = std::make_shared<recording_connection>();
  auto ingress = std::make_shared<frame_ingress>();
  spawn_local_call(fixture.system, bridge_environment_ptr(env),
                   std::weak_ptr<net::websocket_connection>(twilio), ingress);
  fixture.advance(2s);
  CHECK(env->metrics->active_calls().Value() == 0);
  CHECK(model->opens == 0);

  const auto start = signed_start(*env, call_sid, now);
  ingress->deliver({twilio_json(start), true});
  fixture.run();
  CHECK(env->metrics->active_calls().Value() == 1);
  CHECK(env->metrics->calls_started().Value() == 1);
  CHECK(env->calls->active_calls() == 1);
  CHECK(env->admission->streaming() == 1);
  CHECK(model->opens == 1);

  fixture.advance(10s);  // well past START_TIMEOUT
  CHECK_FALSE(twilio->closed());
  CHECK(env->metrics->stream_start_timeouts().Value() == 0);

  net::twilio_stop stop{2, start.stream_sid, start.account_sid, call_sid};
  ingress->deliver({twilio_json(stop), true});
  fixture.run();
  auto finished = env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].started);
  CHECK_FALSE(finished[0].refused);
  CHECK(env->metrics->active_calls().Value() == 0);
  CHECK(env->calls->active_calls() == 0);
  CHECK(env->admission->streaming() == 0);
}

TEST_CASE("a stream beyond MAX_CALLS is refused at its start with 1013, counted, model uncalled",
          "[call_supervisor]") {
  actor_fixture fixture;
  temporary_directory recordings;
  auto model = std::make_shared<fake_model_links>();
  const auto now = std::chrono::system_clock::now();
  auto env = admission_environment(model, recordings.path(), now);
  env->admission = std::make_shared<call_admission>(admission_policy::limits{.max_calls = 1});
  // The one place is promised to another call: this stream's webhook was answered elsewhere.
  REQUIRE_FALSE(env->admission->reserve("CA00000000000000000000000000000099",
                                        call_admission::clock::now(), 30s));

  auto twilio = std::make_shared<recording_connection>();
  auto ingress = std::make_shared<frame_ingress>();
  ingress->deliver(
      {twilio_json(signed_start(*env, "CA00000000000000000000000000000005", now)), true});
  spawn_local_call(fixture.system, bridge_environment_ptr(env),
                   std::weak_ptr<net::websocket_connection>(twilio), ingress);
  fixture.run();
  CHECK(twilio->closed());
  CHECK(twilio->close_code() == net::close_code::try_again_later);
  CHECK(env->metrics->calls_refused(metrics::refusal_reason::full, metrics::refusal_source::stream)
            .Value() == 1);
  auto finished = env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].refused);
  CHECK_FALSE(finished[0].started);
  CHECK(model->opens == 0);
  CHECK(directory_is_empty(recordings.path()));
  CHECK(env->metrics->active_calls().Value() == 0);
  CHECK(env->admission->streaming() == 0);
  CHECK(env->admission->promised(call_admission::clock::now()) == 1);  // the other's, kept
}

namespace {

/// The issuing node's ledger, as the node actor keeps it: each token granted once. `answer`
/// false: it never answers (a node that is frozen).
struct token_authority_log {
  std::vector<call_token_claim> claims;
  std::set<std::string> spent;
  bool answer = true;
};
call_token_authority_actor::behavior_type fake_token_authority(
    call_token_authority_actor::pointer self, std::shared_ptr<token_authority_log> log) {
  return {[self, log](call_token_claim& claim) -> caf::result<call_token_verdict> {
    log->claims.push_back(claim);
    if (!log->answer)
      return self->make_response_promise<call_token_verdict>();  // never delivered
    if (log->spent.insert(claim.token).second)
      return call_token_verdict{true, {}};
    return call_token_verdict{false, "call token already used by another stream"};
  }};
}

}  // namespace

TEST_CASE(
    "a token another node issued is claimed at that node before the call starts, frames that "
    "come meanwhile wait, and refused, unanswered or with no cluster the stream gets 1008",
    "[call_supervisor][hostile]") {
  actor_fixture fixture;
  temporary_directory recordings;
  auto model = std::make_shared<fake_model_links>();
  auto env = std::make_shared<bridge_environment>();
  env->model_links = model;
  env->recordings_dir = recordings.path();
  env->record_audio = false;
  env->call_tokens = net::call_token_issuer::from_secret("token-secret");
  env->call_tokens->set_issuer("node-a#1");
  const auto now = std::chrono::system_clock::now();
  env->wall_clock = [now] {
    return now;
  };
  auto log = std::make_shared<token_authority_log>();
  env->token_authority = fixture.system.spawn(fake_token_authority, log);
  auto node_b = net::call_token_issuer::from_secret("token-secret");
  node_b.set_issuer("node-b#2");

  const std::string call_sid = "CA00000000000000000000000000000071";
  const auto token = node_b.issue({call_sid, "+14155550100", "+14155550199"}, now);
  auto open_stream = [&](const std::string& stream_sid, bool with_frame) {
    auto twilio = std::make_shared<recording_connection>();
    auto ingress = std::make_shared<frame_ingress>();
    net::twilio_start start;
    start.sequence_number = 1;
    start.stream_sid = stream_sid;
    start.call_sid = call_sid;
    start.media_format = {"audio/x-mulaw", 8000, 1};
    start.custom_parameters = {{"From", "+14155550100"}, {"To", "+14155550199"}, {"token", token}};
    ingress->deliver({twilio_json(start), true});
    if (with_frame) {
      net::twilio_media media{2, stream_sid, "inbound", 1, 0, audio_base64(160, 0x22)};
      ingress->deliver({twilio_json(media), true});
    }
    spawn_local_call(fixture.system, bridge_environment_ptr(env),
                     std::weak_ptr<net::websocket_connection>(twilio), ingress);
    fixture.run();
    return std::pair{twilio, ingress};
  };

  // Granted by node b: the call starts, and the frame that came during the claim is handled.
  auto [first, first_ingress] = open_stream("MZ00000000000000000000000000000071", true);
  REQUIRE(log->claims.size() == 1);
  CHECK(log->claims[0].issuer == "node-b#2");
  CHECK(log->claims[0].token == token);
  CHECK_FALSE(first->closed());
  CHECK(model->opens == 1);
  // The same token on another stream: node b refuses it.
  auto [replay, replay_ingress] = open_stream("MZ00000000000000000000000000000072", false);
  CHECK(replay->closed());
  CHECK(replay->close_code() == net::close_code::policy_violation);
  CHECK(model->opens == 1);
  first_ingress->deliver(
      {twilio_json(net::twilio_stop{3, "MZ00000000000000000000000000000071", "", call_sid}), true});
  fixture.run();
  auto finished = env->calls->wait_for_finished(2, 10s);
  REQUIRE(finished.size() == 2);
  CHECK(finished[0].refused);
  CHECK_FALSE(finished[1].refused);
  CHECK(finished[1].frames_in == 1);
  CHECK(finished[1].malformed_frames == 0);
  // None of it was claimed in this node's own ledger.
  CHECK(env->spent_call_tokens->size() == 0);

  // Node b does not answer: refused when the claim times out.
  log->answer = false;
  log->spent.clear();
  auto [unanswered, unanswered_ingress] = open_stream("MZ00000000000000000000000000000073", true);
  CHECK_FALSE(unanswered->closed());
  fixture.advance(3s);
  CHECK(unanswered->closed());
  CHECK(unanswered->close_code() == net::close_code::policy_violation);

  // A node with no cluster cannot claim another node's token: refused.
  env->token_authority = nullptr;
  auto [alone, alone_ingress] = open_stream("MZ00000000000000000000000000000074", false);
  CHECK(alone->closed());
  CHECK(alone->close_code() == net::close_code::policy_violation);
  CHECK(model->opens == 1);
}
