// A handed-over call's new stream under CAF's deterministic scheduler: a `start` carrying a key
// this node holds seeds the call (the model session's first session is told the conversation
// before the caller's audio, no second greeting, the transcript goes on); an unknown key starts
// the call afresh. And the draining side: a call asked for its state gives it, and Twilio's `stop`
// then ends it as handed over.
#include "actor_test_fixture.hpp"
#include "actors/call_supervisor.hpp"
#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"
#include "wire_json.hpp"

#include <caf/event_based_actor.hpp>
#include <catch2/catch.hpp>

#include <algorithm>

using namespace switchboard;
using namespace switchboard::actors;
using namespace switchboard::actors::testing;
using namespace std::chrono_literals;

namespace {

const std::string call_sid = "CA00000000000000000000000000000007";
const std::string stream_sid = "MZ00000000000000000000000000000007";
const std::string account_sid = "AC00000000000000000000000000000007";

bool contains(const std::vector<std::string>& texts, std::string_view needle) {
  return std::any_of(texts.begin(), texts.end(),
                     [&](const auto& text) { return text.find(needle) != std::string::npos; });
}

/// The state node-a sent: one exchange, its transcript, the call a minute old.
call_handover_state handed_state(std::chrono::system_clock::time_point now) {
  conversation talk;
  talk.caller_started("item_caller");
  talk.caller_said("item_caller", "A table for two on Friday please");
  talk.agent_audio("item_agent", 2000);
  talk.agent_said("item_agent", "Friday it is. At what time?");
  call_handover_state handed;
  handed.identity = {call_sid, "MZ-old-stream", account_sid, "+14155550100", "+14155550199", ""};
  handed.instructions = "You book tables.";
  handed.voice = "cedar";
  handed.conversation = conversation_entries(talk);
  handed.transcript = {{"caller", "item_caller", "A table for two on Friday please", 1000},
                       {"agent", "item_agent", "Friday it is. At what time?", 4000}};
  handed.started_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>((now - 60s).time_since_epoch()).count();
  handed.elapsed_ms = 60'000;
  handed.responses = 1;
  handed.parts = {{1, "node-a", "handed over"}};
  return handed;
}

struct handed_call {
  std::shared_ptr<fake_model_links> model = std::make_shared<fake_model_links>();
  std::shared_ptr<bridge_environment> env = std::make_shared<bridge_environment>();
  std::shared_ptr<recording_connection> twilio = std::make_shared<recording_connection>();
  std::shared_ptr<frame_ingress> ingress = std::make_shared<frame_ingress>();
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  call_supervisor_actor supervisor;

  explicit handed_call(const std::filesystem::path& recordings) {
    env->model_links = model;
    env->recordings_dir = recordings;
    env->session.instructions = "The node's own prompt.";
    env->greeting = "Welcome to the table line!";
    env->call_tokens = net::call_token_issuer::from_secret("token-secret");
    env->wall_clock = [at = now] {
      return at;
    };
  }

  /// The stream's `start`, carrying `key` when there is one; then the supervisor.
  void start(actor_fixture& fixture, const std::string& key) {
    net::twilio_start start;
    start.sequence_number = 1;
    start.stream_sid = stream_sid;
    start.account_sid = account_sid;
    start.call_sid = call_sid;
    start.tracks = {"inbound"};
    start.media_format = {"audio/x-mulaw", 8000, 1};
    start.custom_parameters = {
        {"From", "+14155550100"},
        {"To", "+14155550199"},
        {"token", env->call_tokens->issue({call_sid, "+14155550100", "+14155550199"}, now)}};
    if (!key.empty())
      start.custom_parameters.push_back({"handover", key});
    ingress->deliver({twilio_json(start), true});
    net::twilio_media media{
        2, stream_sid, "inbound", 2, 0, net::encode_base64(std::vector<std::uint8_t>(160, 0x22))};
    ingress->deliver({twilio_json(media), true});
    supervisor = spawn_local_call(fixture.system, bridge_environment_ptr(env),
                                  std::weak_ptr<net::websocket_connection>(twilio), ingress);
    fixture.run();
    REQUIRE(model->opens == 1);
  }

  /// The first session opens and takes its configuration: what the bridge sent it then.
  std::vector<std::string> first_session(actor_fixture& fixture) {
    model->connection_event(realtime_link_event::kind::opened);
    fixture.run();
    auto sent = model->take();
    model->server_sends(model_json(net::realtime_session_updated{"ev0", {}}));
    fixture.run();
    auto more = model->take();
    sent.insert(sent.end(), more.begin(), more.end());
    return sent;
  }

  void stop(actor_fixture& fixture) {
    net::twilio_stop stop{3, stream_sid, account_sid, call_sid};
    ingress->deliver({twilio_json(stop), true});
    fixture.run();
  }
};

std::size_t index_of(const std::vector<std::string>& sent, std::string_view needle) {
  const auto found = std::find_if(sent.begin(), sent.end(), [&](const auto& text) {
    return text.find(needle) != std::string::npos;
  });
  return static_cast<std::size_t>(found - sent.begin());
}

}  // namespace

TEST_CASE("a stream with a hand-over key goes on from the state the draining node sent",
          "[call_handover]") {
  temporary_directory recordings;  // outlives the fixture: the call's files are written last
  actor_fixture fixture;
  handed_call call(recordings.path());
  const auto key =
      call.env->handovers->put(handed_state(call.now), std::chrono::steady_clock::now());
  REQUIRE(key);
  call.start(fixture, *key);
  CHECK(call.env->handovers->waiting() == 0);  // taken, once

  const auto sent = call.first_session(fixture);
  // The session the call had on node-a, then the conversation, then the caller's held audio.
  REQUIRE_FALSE(sent.empty());
  CHECK(sent[0].find("You book tables.") != std::string::npos);
  CHECK(sent[0].find("cedar") != std::string::npos);
  const auto caller_turn = index_of(sent, "A table for two on Friday please");
  const auto agent_turn = index_of(sent, "Friday it is. At what time?");
  const auto held_audio = index_of(sent, "input_audio_buffer.append");
  REQUIRE(caller_turn < sent.size());
  REQUIRE(agent_turn < sent.size());
  REQUIRE(held_audio < sent.size());
  CHECK(caller_turn < agent_turn);
  CHECK(agent_turn < held_audio);
  // Greeted on node-a already.
  CHECK_FALSE(contains(sent, "Welcome to the table line!"));

  // The live view carries the transcript so far.
  const auto view = call.env->directory->find(call_sid);
  REQUIRE(view);
  REQUIRE(view->transcript.size() == 2);
  CHECK(view->transcript[0].text == "A table for two on Friday please");
  CHECK(view->identity.stream_sid == stream_sid);
  call.stop(fixture);
}

TEST_CASE("a stream naming a hand-over this node does not hold starts the call afresh",
          "[call_handover]") {
  temporary_directory recordings;  // outlives the fixture: the call's files are written last
  actor_fixture fixture;
  handed_call call(recordings.path());
  call.start(fixture, "00112233445566778899aabbccddeeff");
  const auto sent = call.first_session(fixture);
  REQUIRE_FALSE(sent.empty());
  CHECK(sent[0].find("The node's own prompt.") != std::string::npos);
  CHECK_FALSE(contains(sent, "conversation.item.create"));
  CHECK(contains(sent, "Welcome to the table line!"));  // a new call is greeted
  const auto view = call.env->directory->find(call_sid);
  REQUIRE(view);
  CHECK(view->transcript.empty());
  call.stop(fixture);
}

TEST_CASE("asked at the drain deadline a call gives its state and its stop ends it as handed over",
          "[call_handover]") {
  temporary_directory recordings;  // outlives the fixture: the call's files are written last
  actor_fixture fixture;
  handed_call call(recordings.path());
  call.start(fixture, "");
  call.first_session(fixture);
  call.model->server_sends(model_json(net::realtime_speech_started{"ev1", "item_x", 0}));
  call.model->server_sends(
      model_json(net::realtime_input_transcript{"ev2", "item_x", 0, "Is Friday free?"}));
  fixture.run();

  std::optional<call_handover_state> handed;
  // The supervisor as a spawn argument: CAF 0.17 binds a reference to a null tuple for a
  // function actor spawned without any (UBSan stops it).
  fixture.system.spawn(
      [&](caf::event_based_actor* self, call_supervisor_actor supervisor) {
        self->request(supervisor, 5s, handover_atom::value).then([&](call_handover_state& state) {
          handed = std::move(state);
        });
      },
      call.supervisor);
  fixture.run();
  REQUIRE(handed);
  CHECK(handed->identity.call_sid == call_sid);
  CHECK(handed->identity.from == "+14155550100");
  CHECK(handed->instructions == "The node's own prompt.");
  const auto said = std::find_if(handed->conversation.begin(), handed->conversation.end(),
                                 [](const auto& item) { return item.text == "Is Friday free?"; });
  CHECK(said != handed->conversation.end());
  REQUIRE(handed->transcript.size() == 1);
  CHECK(handed->transcript[0].text == "Is Friday free?");
  REQUIRE(handed->parts.size() == 1);
  CHECK(handed->parts[0].number == 1);
  CHECK(handed->parts[0].end_reason == "handed over");

  // Twilio ends the stream for the call update: this part is over, handed over.
  call.stop(fixture);
  const auto view = call.env->directory->find(call_sid);
  REQUIRE(view);
  CHECK(view->end_reason == "handed over");
}
