// The Realtime model stand-in over real sockets on port 0, driven by a net::connect_websocket
// client the way a bridge drives api.openai.com. Every server event must parse with
// net::parse_realtime_event. Synchronisation is by waiting for events (a condition variable),
// never by sleeping; the long wait is only a guard against a hang.
#include "audio/mulaw.hpp"
#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/websocket_client.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/self_signed_ca.hpp"
#include "sim/speech_fixtures.hpp"
#include "support/running_io.hpp"
#include "support/temporary_directory.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace net = switchboard::net;
using namespace switchboard::sim;

using switchboard::testing::running_io;

namespace {

// Only a guard against a hang: a passing test never comes near it.
constexpr auto hang_guard = std::chrono::seconds(30);

struct received_event {
  std::size_t index = 0;
  std::string type;
  std::string text;
  net::realtime_server_event parsed;

  template <class Event>
  const Event& as() const {
    const auto* event = std::get_if<Event>(&parsed);
    INFO(text);
    REQUIRE(event != nullptr);
    return *event;
  }
};

/// A bridge's view of the model: records every event; the test waits for them in order.
class model_client final : public net::websocket_handler {
 public:
  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    std::lock_guard lock(mutex_);
    connection_ = connection;
    opened_ = true;
    changed_.notify_all();
  }
  void on_message(std::string message, bool) override {
    std::string type;
    boost::system::error_code ec;
    const auto value = boost::json::parse(message, ec);
    if (!ec && value.is_object()) {
      if (const auto* field = value.get_object().if_contains("type"); field && field->is_string()) {
        type = std::string(field->get_string());
      }
    }
    auto parsed = net::parse_realtime_event(message);
    std::lock_guard lock(mutex_);
    if (!parsed) {
      unparsable_.push_back(message + " → " + parsed.error().detail);
    } else {
      events_.push_back({events_.size(), std::move(type), std::move(message), *parsed});
    }
    changed_.notify_all();
  }
  void on_close(net::websocket_closed why) override {
    std::lock_guard lock(mutex_);
    closed_ = std::move(why);
    changed_.notify_all();
  }
  void on_connect_failed(net::websocket_connect_failure why) override {
    std::lock_guard lock(mutex_);
    failed_ = std::move(why);
    changed_.notify_all();
  }

  /// True once open; false when the connection failed or closed first.
  bool wait_open() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, hang_guard, [&] { return opened_ || failed_ || closed_; });
    return opened_;
  }

  /// The next event of `type` after the last one of that type returned; fails the test if the
  /// connection ends first. Compare `index` to check the order across types.
  received_event next(const std::string& type) {
    std::unique_lock lock(mutex_);
    std::optional<std::size_t> found;
    auto& cursor = cursors_[type];
    auto search = [&] {
      for (auto index = cursor; index < events_.size(); ++index) {
        if (events_[index].type == type) {
          found = index;
          return true;
        }
      }
      return closed_.has_value() || failed_.has_value();
    };
    changed_.wait_for(lock, hang_guard, search);
    if (!found) {
      std::string seen;
      for (const auto& event : events_)
        seen += event.type + " ";
      FAIL("no further " << type << " arrived" << (closed_ ? " before the connection closed" : "")
                         << "; seen: " << seen);
    }
    cursor = *found + 1;
    return events_[*found];
  }

  std::size_t count(std::string_view type) {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(
        events_.begin(), events_.end(), [&](const auto& event) { return event.type == type; }));
  }

  std::vector<received_event> events_of(std::string_view type, std::size_t after,
                                        std::size_t before) {
    std::lock_guard lock(mutex_);
    std::vector<received_event> selected;
    for (auto index = after + 1; index < before && index < events_.size(); ++index) {
      if (events_[index].type == type)
        selected.push_back(events_[index]);
    }
    return selected;
  }

  net::websocket_closed wait_closed() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, hang_guard, [&] { return closed_.has_value(); });
    if (!closed_)
      FAIL("the connection did not close");
    return *closed_;
  }

  net::websocket_connect_failure wait_failed() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, hang_guard, [&] { return failed_.has_value() || opened_; });
    if (!failed_)
      FAIL("the connection opened instead of failing");
    return *failed_;
  }

  void send(std::string text) {
    std::shared_ptr<net::websocket_connection> connection;
    {
      std::lock_guard lock(mutex_);
      connection = connection_.lock();
    }
    REQUIRE(connection);
    connection->send_text(std::move(text));
  }

  /// Server events that net::parse_realtime_event rejected (must stay empty).
  std::vector<std::string> unparsable() {
    std::lock_guard lock(mutex_);
    return unparsable_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::weak_ptr<net::websocket_connection> connection_;
  bool opened_ = false;
  std::vector<received_event> events_;
  std::vector<std::string> unparsable_;
  std::map<std::string, std::size_t> cursors_;
  std::optional<net::websocket_closed> closed_;
  std::optional<net::websocket_connect_failure> failed_;
};

std::shared_ptr<model_client> connect(running_io& io, const std::string& url,
                                      std::vector<std::pair<std::string, std::string>> headers = {},
                                      std::shared_ptr<net::tls_context> tls = nullptr) {
  auto client = std::make_shared<model_client>();
  net::connect_websocket(io.io, {.url = url, .headers = std::move(headers), .tls = std::move(tls)},
                         client);
  return client;
}

std::unique_ptr<realtime_model_server> start_server(running_io& io, model_options options = {}) {
  auto server = realtime_model_server::start(io.io, std::move(options));
  REQUIRE(server.has_value());
  return std::move(*server);
}

std::string ga_session_update() {
  net::realtime_session_config config;
  config.instructions = "You are a helpful receptionist.";
  config.voice = "marin";
  config.transcription = net::realtime_transcription{"whisper-1", "en"};
  std::string out;
  net::append_realtime_session_update(out, config, "evt_session");
  return out;
}

void configure(model_client& client) {
  client.send(ga_session_update());
  client.next("session.updated");
}

void stream(model_client& client, std::span<const std::uint8_t> audio) {
  // 20 ms frames, as Twilio delivers them; not paced: the stand-in does not need real time.
  for (std::size_t offset = 0; offset < audio.size(); offset += 160) {
    std::string out;
    net::append_realtime_audio_append(
        out, audio.subspan(offset, std::min<std::size_t>(160, audio.size() - offset)));
    client.send(std::move(out));
  }
}

void stream_silence(model_client& client, std::uint64_t ms) {
  const std::vector<std::uint8_t> silence(ms * 8, switchboard::audio::mulaw_silence);
  stream(client, silence);
}

std::vector<std::uint8_t> decoded(const std::string& base64) {
  auto bytes = net::decode_base64(base64);
  REQUIRE(bytes.has_value());
  return *bytes;
}

std::vector<std::uint8_t> fixture_bytes(speech_fixture fixture) {
  const auto audio = fixture_audio(fixture);
  return {audio.begin(), audio.end()};
}

struct answered_turn {
  std::string user_item;
  std::uint64_t speech_start_ms = 0;
  received_event created;
  received_event done;
  std::string assistant_item;
  std::vector<std::uint8_t> audio;
  std::string transcript;
};

// The caller speaks caller_request after 500 ms of quiet and then waits 700 ms: one turn, one
// answer, collected up to response.done.
answered_turn speak_and_collect_answer(model_client& client) {
  answered_turn turn;
  stream_silence(client, 500);
  stream(client, fixture_audio(speech_fixture::caller_request));
  stream_silence(client, 700);

  const auto started =
      client.next("input_audio_buffer.speech_started").as<net::realtime_speech_started>();
  turn.user_item = started.item_id;
  turn.speech_start_ms = started.audio_start_ms;
  const auto stopped =
      client.next("input_audio_buffer.speech_stopped").as<net::realtime_speech_stopped>();
  CHECK(stopped.item_id == turn.user_item);
  CHECK(stopped.audio_end_ms > started.audio_start_ms);
  const auto committed =
      client.next("input_audio_buffer.committed").as<net::realtime_audio_committed>();
  CHECK(committed.item_id == turn.user_item);
  const auto transcript = client.next("conversation.item.input_audio_transcription.completed")
                              .as<net::realtime_input_transcript>();
  CHECK(transcript.item_id == turn.user_item);
  CHECK(transcript.transcript.find("caller spoke for") != std::string::npos);

  turn.created = client.next("response.created");
  const auto response_id = turn.created.as<net::realtime_response_created>().response_id;
  CHECK(response_id.rfind("resp_", 0) == 0);
  client.next("response.output_item.added");
  turn.done = client.next("response.done");
  CHECK(turn.done.as<net::realtime_response_done>().response_id == response_id);

  for (const auto& event :
       client.events_of("response.output_audio.delta", turn.created.index, turn.done.index)) {
    const auto& delta = event.as<net::realtime_audio_delta>();
    CHECK(delta.response_id == response_id);
    if (turn.assistant_item.empty())
      turn.assistant_item = delta.item_id;
    CHECK(delta.item_id == turn.assistant_item);
    const auto bytes = decoded(delta.delta_base64);
    turn.audio.insert(turn.audio.end(), bytes.begin(), bytes.end());
  }
  const auto transcripts = client.events_of("response.output_audio_transcript.done",
                                            turn.created.index, turn.done.index);
  REQUIRE(transcripts.size() == 1);
  turn.transcript = transcripts[0].as<net::realtime_transcript_done>().transcript;
  CHECK(turn.assistant_item.rfind("item_", 0) == 0);
  return turn;
}

using scratch_directory = switchboard::testing::temporary_directory;

}  // namespace

TEST_CASE("a caller's turn is detected and answered with the greeting, byte for byte",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io, {.delta_interval = std::chrono::milliseconds(1)});
  auto client = connect(io, server->url() + "?model=gpt-realtime-mini");
  REQUIRE(client->wait_open());

  const auto created = client->next("session.created").as<net::realtime_session_created>();
  CHECK(created.session.model == "gpt-realtime-mini");
  CHECK(created.session.id.rfind("sess_", 0) == 0);
  client->next("conversation.created");

  client->send(ga_session_update());
  const auto updated = client->next("session.updated").as<net::realtime_session_updated>();
  CHECK(updated.session.input_format == "audio/pcmu");
  CHECK(updated.session.output_format == "audio/pcmu");
  CHECK(updated.session.voice == "marin");
  CHECK(updated.session.instructions == "You are a helpful receptionist.");
  CHECK(updated.session.turn_detection_type == "server_vad");

  const auto turn = speak_and_collect_answer(*client);
  // Speech begins in the first 100 ms after 500 ms of quiet; 300 ms of padding come before it.
  CHECK(turn.speech_start_ms >= 500 - 300);
  CHECK(turn.speech_start_ms <= 600 - 300);
  CHECK(turn.audio == fixture_bytes(speech_fixture::agent_greeting));
  CHECK(turn.transcript == fixture_text(speech_fixture::agent_greeting));
  const auto& done = turn.done.as<net::realtime_response_done>();
  CHECK(done.status == "completed");
  CHECK(done.status_reason.empty());
  REQUIRE(done.usage.has_value());
  CHECK(done.usage->output_audio_tokens > 0);
  CHECK(done.usage->input_audio_tokens > 0);
  CHECK(done.usage->total_tokens == done.usage->input_tokens + done.usage->output_tokens);
  CHECK(
      client->events_of("response.output_audio.done", turn.created.index, turn.done.index).size() ==
      1);

  const auto stats = server->stats();
  CHECK(stats.sessions_opened == 1);
  CHECK(stats.session_updates == 1);
  REQUIRE(stats.last_session.has_value());
  CHECK(stats.last_session->input_format == "audio/pcmu");
  CHECK(stats.last_session->output_format == "audio/pcmu");
  CHECK(stats.last_session->voice == "marin");
  CHECK(stats.last_session->turn_detection_type == "server_vad");
  CHECK(stats.last_session->transcription_model == "whisper-1");
  CHECK(stats.last_session->instructions == "You are a helpful receptionist.");
  const std::uint64_t appended =
      (500 + 700) * 8 + fixture_audio(speech_fixture::caller_request).size();
  CHECK(stats.append_bytes == appended);
  CHECK(stats.appends == (appended + 159) / 160);
  CHECK(stats.speech_turns == 1);
  CHECK(stats.responses_started == 1);
  CHECK(stats.responses_completed == 1);
  CHECK(stats.audio_bytes_sent == fixture_audio(speech_fixture::agent_greeting).size());
  CHECK(stats.errors_sent == 0);
  CHECK(client->unparsable().empty());
}

TEST_CASE("truncate is accepted within the item's audio and rejected past it or elsewhere",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io, {.delta_interval = std::chrono::milliseconds(0)});
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  configure(*client);
  const auto turn = speak_and_collect_answer(*client);
  const std::uint64_t item_ms = turn.audio.size() / 8;

  std::string out;
  net::append_realtime_truncate(out, turn.assistant_item, item_ms + 1, "evt_past");
  client->send(out);
  auto error = client->next("error").as<net::realtime_error>();
  CHECK(error.type == "invalid_request_error");
  CHECK(error.client_event_id == "evt_past");
  CHECK(error.param == "audio_end_ms");
  CHECK(error.message.find(turn.assistant_item) != std::string::npos);
  CHECK(error.message.find(std::to_string(item_ms) + " ms") != std::string::npos);

  out.clear();
  net::append_realtime_truncate(out, "item_unknown", 100, "evt_unknown");
  client->send(out);
  error = client->next("error").as<net::realtime_error>();
  CHECK(error.client_event_id == "evt_unknown");
  CHECK(error.message.find("item_unknown") != std::string::npos);

  out.clear();
  net::append_realtime_truncate(out, turn.user_item, 100, "evt_user");
  client->send(out);
  error = client->next("error").as<net::realtime_error>();
  CHECK(error.client_event_id == "evt_user");
  CHECK(error.message.find("assistant") != std::string::npos);

  out.clear();
  net::append_realtime_truncate(out, turn.assistant_item, 1500, "evt_ok");
  client->send(out);
  const auto truncated = client->next("conversation.item.truncated");
  const auto body = boost::json::parse(truncated.text).as_object();
  CHECK(body.at("item_id").as_string() == turn.assistant_item);
  CHECK(body.at("audio_end_ms").as_int64() == 1500);

  // The item now ends at 1500 ms: beyond that is rejected.
  out.clear();
  net::append_realtime_truncate(out, turn.assistant_item, 1600, "evt_again");
  client->send(out);
  CHECK(client->next("error").as<net::realtime_error>().client_event_id == "evt_again");

  const auto stats = server->stats();
  REQUIRE(stats.truncates.size() == 5);
  CHECK(stats.truncates_rejected == 4);
  CHECK(stats.truncates[3].accepted);
  CHECK(stats.truncates[3].item_id == turn.assistant_item);
  CHECK(stats.truncates[3].audio_end_ms == 1500);
  CHECK_FALSE(stats.truncates[0].accepted);
  CHECK(client->unparsable().empty());
}

TEST_CASE("response.cancel ends the active response and is an error without one",
          "[realtime_model_server]") {
  running_io io{2};
  // 200 ms per 100 ms delta: the greeting would take 21 s, so it is surely still streaming.
  auto server = start_server(io, {.delta_interval = std::chrono::milliseconds(200)});
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  configure(*client);

  std::string out;
  net::append_realtime_response_create(out, {}, "evt_create");
  client->send(out);
  const auto created = client->next("response.created");
  const auto response_id = created.as<net::realtime_response_created>().response_id;
  client->next("response.output_audio.delta");

  out.clear();
  net::append_realtime_response_cancel(out, {}, "evt_cancel");
  client->send(out);
  const auto audio_done = client->next("response.output_audio.done");
  const auto done = client->next("response.done");
  CHECK(audio_done.index < done.index);
  const auto& cancelled = done.as<net::realtime_response_done>();
  CHECK(cancelled.response_id == response_id);
  CHECK(cancelled.status == "cancelled");
  CHECK(cancelled.status_reason == "client_cancelled");

  out.clear();
  net::append_realtime_response_cancel(out, {}, "evt_cancel_again");
  client->send(out);
  const auto error = client->next("error").as<net::realtime_error>();
  CHECK(error.code == "response_cancel_not_active");
  CHECK(error.message == "Cancellation failed: no active response found");
  CHECK(error.client_event_id == "evt_cancel_again");

  // The session goes on: a new response can start (and be cancelled).
  out.clear();
  net::append_realtime_response_create(out);
  client->send(out);
  const auto second = client->next("response.created").as<net::realtime_response_created>();
  CHECK(second.response_id != response_id);
  out.clear();
  net::append_realtime_response_create(out, {}, "evt_busy");
  client->send(out);
  const auto busy = client->next("error").as<net::realtime_error>();
  CHECK(busy.code == "conversation_already_has_active_response");
  CHECK(busy.message.find(second.response_id) != std::string::npos);
  out.clear();
  net::append_realtime_response_cancel(out, second.response_id);
  client->send(out);
  CHECK(client->next("response.done").as<net::realtime_response_done>().status == "cancelled");

  const auto stats = server->stats();
  CHECK(stats.cancels_received == 3);
  CHECK(stats.responses_cancelled == 2);
  CHECK(stats.responses_interrupted == 0);
  CHECK(stats.responses_completed == 0);
  CHECK(client->unparsable().empty());
}

TEST_CASE("speech during a response cancels it (barge-in) and the new turn is answered",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io, {.delta_interval = std::chrono::milliseconds(200)});
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  configure(*client);

  stream_silence(*client, 500);
  stream(*client, fixture_audio(speech_fixture::caller_request));
  stream_silence(*client, 700);
  const auto first = client->next("response.created").as<net::realtime_response_created>();
  const auto delta = client->next("response.output_audio.delta").as<net::realtime_audio_delta>();

  stream(*client, fixture_audio(speech_fixture::caller_interruption));
  stream_silence(*client, 700);
  const auto started = client->next("input_audio_buffer.speech_started");
  const auto done = client->next("response.done");
  CHECK(started.index < done.index);
  const auto& interrupted = done.as<net::realtime_response_done>();
  CHECK(interrupted.response_id == first.response_id);
  CHECK(interrupted.status == "cancelled");
  CHECK(interrupted.status_reason == "turn_detected");
  CHECK(client->events_of("response.output_audio.done", started.index, done.index).size() == 1);

  // What was generated can be truncated: the bridge tells the model what was heard.
  std::string out;
  net::append_realtime_truncate(out, delta.item_id, 50);
  client->send(out);
  client->next("conversation.item.truncated");

  client->next("input_audio_buffer.speech_stopped");
  const auto second = client->next("response.created").as<net::realtime_response_created>();
  CHECK(second.response_id != first.response_id);
  const auto answer = client->next("response.output_audio.delta").as<net::realtime_audio_delta>();
  const auto answer_bytes = decoded(answer.delta_base64);
  const auto expected = fixture_bytes(speech_fixture::agent_answer);
  REQUIRE(answer_bytes.size() <= expected.size());
  CHECK(std::equal(answer_bytes.begin(), answer_bytes.end(), expected.begin()));

  const auto stats = server->stats();
  CHECK(stats.responses_interrupted == 1);
  CHECK(stats.speech_turns == 2);
  CHECK(client->unparsable().empty());
}

TEST_CASE("session.update is checked like the GA API: beta fields, formats, session.type",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io);
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  client->next("session.created");

  client->send(R"({"type":"session.update","event_id":"evt_beta","session":{"type":"realtime",)"
               R"("input_audio_format":"g711_ulaw"}})");
  auto error = client->next("error").as<net::realtime_error>();
  CHECK(error.type == "invalid_request_error");
  CHECK(error.message.find("Unknown parameter: 'session.input_audio_format'") != std::string::npos);
  CHECK(error.client_event_id == "evt_beta");

  client->send(R"({"type":"session.update","session":{"type":"realtime","audio":{"input":)"
               R"({"format":{"type":"g711_ulaw"}}}}})");
  error = client->next("error").as<net::realtime_error>();
  CHECK(error.param == "session.audio.input.format.type");
  CHECK(error.message.find("g711_ulaw") != std::string::npos);

  client->send(R"({"type":"session.update","session":{"instructions":"hi"}})");
  error = client->next("error").as<net::realtime_error>();
  CHECK(error.code == "missing_required_parameter");
  CHECK(error.param == "session.type");

  client->send("{this is not json");
  error = client->next("error").as<net::realtime_error>();
  CHECK(error.type == "invalid_request_error");

  client->send(R"({"type":"transcription_session.update","event_id":"evt_old"})");
  error = client->next("error").as<net::realtime_error>();
  CHECK(error.client_event_id == "evt_old");
  CHECK(error.message.find("transcription_session.update") != std::string::npos);

  // The connection is still open and a GA update is accepted.
  client->send(ga_session_update());
  CHECK(client->next("session.updated").as<net::realtime_session_updated>().session.input_format ==
        "audio/pcmu");

  const auto stats = server->stats();
  CHECK(stats.session_updates == 4);
  CHECK(stats.session_updates_rejected == 3);
  CHECK(stats.malformed_events == 2);
  CHECK(stats.errors_sent == 5);
  CHECK(client->unparsable().empty());
}

TEST_CASE("a beta client gets beta_api_shape_disabled and close code 4000",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io);
  auto client = connect(io, server->url(), {{"OpenAI-Beta", "realtime=v1"}});
  REQUIRE(client->wait_open());
  const auto error = client->next("error").as<net::realtime_error>();
  CHECK(error.code == "beta_api_shape_disabled");
  const auto closed = client->wait_closed();
  CHECK(closed.code == 4000);
  CHECK(client->count("session.created") == 0);
  CHECK(server->stats().beta_rejected == 1);
}

TEST_CASE("upgrades are refused with refuse_status, a wrong API key or a wrong path",
          "[realtime_model_server]") {
  running_io io{2};
  {
    auto server = start_server(io, {.refuse_status = 503});
    auto client = connect(io, server->url());
    CHECK(client->wait_failed().http_status == 503);
    CHECK(server->stats().upgrades_refused == 1);
  }
  auto server = start_server(io, {.expected_api_key = "sk-test"});
  auto anonymous = connect(io, server->url());
  CHECK(anonymous->wait_failed().http_status == 401);
  auto wrong = connect(io, server->url(), {{"Authorization", "Bearer sk-wrong"}});
  CHECK(wrong->wait_failed().http_status == 401);
  auto elsewhere = connect(io, "ws://127.0.0.1:" + std::to_string(server->port()) + "/v1/other",
                           {{"Authorization", "Bearer sk-test"}});
  CHECK(elsewhere->wait_failed().http_status == 404);
  auto right = connect(io, server->url(), {{"Authorization", "Bearer sk-test"}});
  REQUIRE(right->wait_open());
  right->next("session.created");
  const auto stats = server->stats();
  CHECK(stats.unauthorized == 2);
  CHECK(stats.upgrades_refused == 3);
  CHECK(stats.sessions_opened == 1);
}

TEST_CASE("drop_after cuts the first connection without a close frame, the reconnect stays",
          "[realtime_model_server]") {
  running_io io{2};
  auto server =
      start_server(io, {.drop_after = std::chrono::milliseconds(20), .drop_first_connections = 1});
  auto first = connect(io, server->url());
  REQUIRE(first->wait_open());
  first->next("session.created");
  const auto closed = first->wait_closed();
  CHECK_FALSE(closed.clean);  // like a network failure: no closing handshake
  CHECK(closed.code == 0);
  CHECK(server->stats().connections_dropped == 1);

  auto second = connect(io, server->url());
  REQUIRE(second->wait_open());
  configure(*second);
  CHECK(server->stats().connections_dropped == 1);
  CHECK(server->stats().sessions_opened == 2);
}

namespace {
/// Spins until the stand-in's counters satisfy `done` (they move on its strands, which the
/// test cannot otherwise observe); the hang guard bounds it.
template <class Condition>
void wait_for_stats(const realtime_model_server& server, Condition done) {
  const auto give_up = std::chrono::steady_clock::now() + hang_guard;
  while (!done(server.stats()) && std::chrono::steady_clock::now() < give_up)
    std::this_thread::yield();
  REQUIRE(done(server.stats()));
}
}  // namespace

TEST_CASE("a mute session accepts the upgrade and reads, and sends nothing at all",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io, {.mute_first_connections = 1});
  auto mute = connect(io, server->url());
  REQUIRE(mute->wait_open());
  wait_for_stats(*server, [](const model_stats& stats) { return stats.sessions_opened == 1; });
  mute->send(ga_session_update());
  stream_silence(*mute, 100);
  wait_for_stats(*server, [](const model_stats& stats) { return stats.appends == 5; });
  // The stand-in's own close follows whatever the session sent before it: here, nothing.
  server->close_sessions();
  CHECK(mute->wait_closed().code == static_cast<std::uint16_t>(net::close_code::going_away));
  CHECK(mute->count("session.created") == 0);
  CHECK(mute->count("session.updated") == 0);
  auto stats = server->stats();
  CHECK(stats.sessions_muted == 1);
  CHECK(stats.session_updates == 1);

  // The next connection is served as usual, until mute_sessions() silences it mid-call.
  auto live = connect(io, server->url());
  REQUIRE(live->wait_open());
  configure(*live);
  server->mute_sessions();
  live->send(ga_session_update());
  wait_for_stats(*server, [](const model_stats& s) { return s.session_updates == 3; });
  server->close_sessions();
  live->wait_closed();
  CHECK(live->count("session.updated") == 1);
  stats = server->stats();
  CHECK(stats.sessions_muted == 2);
  CHECK(stats.session_updates_rejected == 0);
}

TEST_CASE("mute_sessions(n) silences the next n connections too", "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io);
  server->mute_sessions(1);
  auto reconnect = connect(io, server->url());
  REQUIRE(reconnect->wait_open());
  wait_for_stats(*server, [](const model_stats& stats) { return stats.sessions_opened == 1; });
  server->close_sessions();
  reconnect->wait_closed();
  CHECK(reconnect->count("session.created") == 0);
  auto after = connect(io, server->url());
  REQUIRE(after->wait_open());
  after->next("session.created");
  CHECK(server->stats().sessions_muted == 1);
}

TEST_CASE("echo mode answers every append at once with the same audio", "[realtime_model_server]") {
  // As the load generator runs it too: one io thread, events handled inline.
  const bool single_threaded = GENERATE(false, true);
  INFO("single_threaded_io: " << single_threaded);
  running_io io{single_threaded ? 1u : 2u};
  auto server = start_server(io, {.echo = true, .single_threaded_io = single_threaded});
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  configure(*client);
  const auto speech = fixture_audio(speech_fixture::caller_request).first(3 * 160);
  stream(*client, speech);

  const auto created = client->next("response.created").as<net::realtime_response_created>();
  std::vector<std::uint8_t> echoed;
  for (int chunk = 0; chunk < 3; ++chunk) {
    const auto delta = client->next("response.output_audio.delta").as<net::realtime_audio_delta>();
    CHECK(delta.response_id == created.response_id);
    const auto bytes = decoded(delta.delta_base64);
    CHECK(bytes.size() == 160);
    echoed.insert(echoed.end(), bytes.begin(), bytes.end());
  }
  CHECK(echoed == std::vector<std::uint8_t>(speech.begin(), speech.end()));
  const auto stats = server->stats();
  CHECK(stats.responses_started == 1);
  CHECK(stats.appends == 3);
  CHECK(stats.append_bytes == speech.size());
  CHECK(stats.audio_deltas_sent == 3);
  CHECK(stats.audio_bytes_sent == speech.size());
  CHECK(stats.speech_started == 0);
}

TEST_CASE("error_after_session_update sends an error after session.updated",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io, {.error_after_session_update = true});
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  configure(*client);
  CHECK(client->next("error").as<net::realtime_error>().type == "server_error");
}

TEST_CASE("stop closes open sessions with going away", "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io);
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  client->next("session.created");
  server->stop();
  CHECK(client->wait_closed().code == static_cast<std::uint16_t>(net::close_code::going_away));
}

TEST_CASE("wss:// with the self-signed CA: trusted clients connect, others fail the handshake",
          "[realtime_model_server]") {
  scratch_directory trusted_directory;
  scratch_directory other_directory;
  auto ca = write_self_signed_ca(trusted_directory.path());
  REQUIRE(ca.has_value());
  auto other_ca = write_self_signed_ca(other_directory.path());
  REQUIRE(other_ca.has_value());

  // tls_context::client() reads SSL_CERT_FILE when it is created; set it before any io thread
  // runs, and put back what was there.
  const char* previous = std::getenv("SSL_CERT_FILE");
  const std::optional<std::string> saved =
      previous ? std::optional<std::string>(previous) : std::nullopt;
  ::setenv("SSL_CERT_FILE", ca->ca_certificate.c_str(), 1);
  auto trusting = net::tls_context::client();
  ::setenv("SSL_CERT_FILE", other_ca->ca_certificate.c_str(), 1);
  auto untrusting = net::tls_context::client();
  if (saved) {
    ::setenv("SSL_CERT_FILE", saved->c_str(), 1);
  } else {
    ::unsetenv("SSL_CERT_FILE");
  }
  REQUIRE(trusting.has_value());
  REQUIRE(untrusting.has_value());
  auto server_tls = net::tls_context::server(ca->server_certificate_chain, ca->server_key);
  REQUIRE(server_tls.has_value());

  running_io io{2};
  auto server = start_server(io, {.tls = *server_tls});
  CHECK(server->url().rfind("wss://127.0.0.1:", 0) == 0);

  auto client = connect(io, server->url(), {}, *trusting);
  REQUIRE(client->wait_open());
  CHECK(client->next("session.created").as<net::realtime_session_created>().session.model ==
        "gpt-realtime");

  auto stranger = connect(io, server->url(), {}, *untrusting);
  const auto failure = stranger->wait_failed();
  CHECK(failure.http_status == 0);
  CHECK(failure.reason.find("TLS") != std::string::npos);
}

// ---- scripted function calls (model_options::tool_calls) ---------------------------------------

namespace {

net::realtime_function_tool declared_tool(std::string name) {
  return {std::move(name), "A tool of the test.",
          boost::json::parse(R"({"type":"object","properties":{}})")};
}

std::string session_update_with_tools(std::vector<net::realtime_function_tool> tools) {
  net::realtime_session_config config;
  config.instructions = "You are a helpful receptionist.";
  config.transcription = net::realtime_transcription{"whisper-1", "en"};
  config.tools = std::move(tools);
  std::string out;
  net::append_realtime_session_update(out, config);
  return out;
}

// response.done's output items, as the raw JSON lists them.
boost::json::array response_output(const received_event& done) {
  return boost::json::parse(done.text).at("response").at("output").as_array();
}

}  // namespace

TEST_CASE("a scripted end_call: the response says goodbye, then calls the function",
          "[realtime_model_server]") {
  running_io io{2};
  model_options options{.delta_interval = std::chrono::milliseconds(0)};
  options.tool_calls = {{.turn = 1, .name = "end_call", .arguments = "{}", .speak_first = true}};
  auto server = start_server(io, std::move(options));
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  client->send(session_update_with_tools({declared_tool("end_call")}));
  CHECK(client->next("session.updated").as<net::realtime_session_updated>().session.input_format ==
        "audio/pcmu");

  const auto turn = speak_and_collect_answer(*client);
  CHECK(turn.audio == fixture_bytes(speech_fixture::agent_greeting));
  const auto response_id = turn.created.as<net::realtime_response_created>().response_id;

  // The audio item first (output 0), then the function call (output 1), in the same response.
  const auto audio_done = client->next("response.output_audio.done");
  const auto first_item = client->next("response.output_item.done");
  const auto call_done = client->next("response.function_call_arguments.done");
  const auto second_item = client->next("response.output_item.done");
  CHECK(audio_done.index < first_item.index);
  CHECK(first_item.index < call_done.index);
  CHECK(call_done.index < second_item.index);
  CHECK(second_item.index < turn.done.index);
  CHECK(first_item.as<net::realtime_output_item_done>().item_type == "message");

  const auto& call = call_done.as<net::realtime_function_call_done>();
  CHECK(call.response_id == response_id);
  CHECK(call.name == "end_call");
  CHECK(call.arguments == "{}");
  CHECK(call.output_index == 1);
  CHECK(call.call_id.rfind("call_", 0) == 0);
  const auto& item = second_item.as<net::realtime_output_item_done>();
  CHECK(item.item_type == "function_call");
  CHECK(item.item_status == "completed");
  CHECK(item.item_id == call.item_id);
  CHECK(item.call_id == call.call_id);
  CHECK(item.name == "end_call");
  CHECK(item.arguments == "{}");
  CHECK(item.output_index == 1);

  const auto& done = turn.done.as<net::realtime_response_done>();
  CHECK(done.status == "completed");
  const auto output = response_output(turn.done);
  REQUIRE(output.size() == 2);
  CHECK(output[0].at("type") == "message");
  CHECK(output[1].at("type") == "function_call");
  CHECK(output[1].at("call_id").as_string() == call.call_id);
  CHECK(output[1].at("arguments") == "{}");
  // output_item.added came for both items, the call's with empty arguments (they stream).
  const auto added =
      client->events_of("response.output_item.added", turn.created.index, turn.done.index);
  REQUIRE(added.size() == 2);
  const auto added_call = boost::json::parse(added[1].text);
  CHECK(added_call.at("output_index") == 1);
  CHECK(added_call.at("item").at("type") == "function_call");
  CHECK(added_call.at("item").at("status") == "in_progress");
  CHECK(added_call.at("item").at("name") == "end_call");
  CHECK(added_call.at("item").at("arguments") == "");

  // The bridge answers the call; the model speaks again on response.create.
  std::string out;
  net::append_realtime_function_output(out, call.call_id, R"({"ok":true})");
  client->send(out);
  out.clear();
  net::append_realtime_response_create(out);
  client->send(out);
  const auto next = client->next("response.created").as<net::realtime_response_created>();
  const auto next_done = client->next("response.done");
  CHECK(next_done.as<net::realtime_response_done>().response_id == next.response_id);
  CHECK(next_done.as<net::realtime_response_done>().status == "completed");
  const auto next_output = response_output(next_done);
  REQUIRE(next_output.size() == 1);
  CHECK(next_output[0].at("type") == "message");

  const auto stats = server->stats();
  REQUIRE(stats.function_calls.size() == 1);
  CHECK(stats.function_calls[0].name == "end_call");
  CHECK(stats.function_calls[0].call_id == call.call_id);
  CHECK(stats.function_calls[0].response_id == response_id);
  REQUIRE(stats.function_outputs.size() == 1);
  CHECK(stats.function_outputs[0].call_id == call.call_id);
  CHECK(stats.function_outputs[0].output == R"({"ok":true})");
  CHECK(stats.function_outputs[0].known_call);
  CHECK(stats.function_calls_undeclared == 0);
  CHECK(stats.responses_completed == 2);
  CHECK(stats.errors_sent == 0);
  CHECK(client->unparsable().empty());
}

TEST_CASE(
    "turn 0: the first response.create gets a call-only response, arguments stream in "
    "deltas",
    "[realtime_model_server]") {
  running_io io{2};
  const std::string arguments = R"({"order":"A-1234","include_items":true})";
  model_options options{.delta_interval = std::chrono::milliseconds(0)};
  options.tool_calls = {{.turn = 0, .name = "lookup_order", .arguments = arguments}};
  auto server = start_server(io, std::move(options));
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  client->send(session_update_with_tools({declared_tool("lookup_order")}));
  client->next("session.updated");

  std::string out;
  net::append_realtime_response_create(out, "Look the order up.");
  client->send(out);
  const auto created = client->next("response.created");
  const auto done = client->next("response.done");
  CHECK(done.as<net::realtime_response_done>().status == "completed");
  CHECK(client->events_of("response.output_audio.delta", created.index, done.index).empty());
  CHECK(client->events_of("response.content_part.added", created.index, done.index).empty());
  std::string streamed;
  for (const auto& delta :
       client->events_of("response.function_call_arguments.delta", created.index, done.index)) {
    streamed += boost::json::parse(delta.text).at("delta").as_string().c_str();
  }
  CHECK(streamed == arguments);
  const auto calls =
      client->events_of("response.function_call_arguments.done", created.index, done.index);
  REQUIRE(calls.size() == 1);
  const auto& call = calls[0].as<net::realtime_function_call_done>();
  CHECK(call.name == "lookup_order");
  CHECK(call.arguments == arguments);
  CHECK(call.output_index == 0);
  const auto output = response_output(done);
  REQUIRE(output.size() == 1);
  CHECK(output[0].at("type") == "function_call");

  // The tool's answer and a second response.create: an ordinary spoken answer, no call again.
  out.clear();
  net::append_realtime_function_output(out, call.call_id, R"({"status":"shipped"})");
  client->send(out);
  out.clear();
  net::append_realtime_response_create(out);
  client->send(out);
  const auto spoken = client->next("response.created");
  const auto spoken_done = client->next("response.done");
  CHECK(client->events_of("response.output_audio.delta", spoken.index, spoken_done.index).size() >
        0);
  CHECK(client->events_of("response.function_call_arguments.done", spoken.index, spoken_done.index)
            .empty());

  const auto stats = server->stats();
  CHECK(stats.response_creates == 2);
  CHECK(stats.response_instructions == std::vector<std::string>{"Look the order up."});
  REQUIRE(stats.function_calls.size() == 1);
  REQUIRE(stats.function_outputs.size() == 1);
  CHECK(stats.function_outputs[0].output == R"({"status":"shipped"})");
  CHECK(stats.audio_bytes_sent == fixture_audio(speech_fixture::agent_greeting).size());
  CHECK(client->unparsable().empty());
}

TEST_CASE("a function the session did not declare is not called: the response just speaks",
          "[realtime_model_server]") {
  running_io io{2};
  model_options options{.delta_interval = std::chrono::milliseconds(0)};
  options.tool_calls = {{.turn = 1, .name = "transfer_call", .arguments = R"({"to":"+1415"})"}};
  auto server = start_server(io, std::move(options));
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  client->send(session_update_with_tools({declared_tool("end_call")}));
  client->next("session.updated");

  const auto turn = speak_and_collect_answer(*client);
  CHECK(turn.audio == fixture_bytes(speech_fixture::agent_greeting));
  CHECK(client->count("response.function_call_arguments.done") == 0);
  CHECK(response_output(turn.done).size() == 1);
  const auto stats = server->stats();
  CHECK(stats.function_calls.empty());
  CHECK(stats.function_calls_undeclared == 1);
}

TEST_CASE("a barge-in cancels a speak-first response before its call is made",
          "[realtime_model_server]") {
  running_io io{2};
  model_options options{.delta_interval = std::chrono::milliseconds(200)};
  options.tool_calls = {{.turn = 1, .name = "end_call", .speak_first = true}};
  auto server = start_server(io, std::move(options));
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  client->send(session_update_with_tools({declared_tool("end_call")}));
  client->next("session.updated");

  stream_silence(*client, 500);
  stream(*client, fixture_audio(speech_fixture::caller_request));
  stream_silence(*client, 700);
  client->next("response.created");
  client->next("response.output_audio.delta");
  stream(*client, fixture_audio(speech_fixture::caller_interruption));
  const auto done = client->next("response.done");
  CHECK(done.as<net::realtime_response_done>().status_reason == "turn_detected");
  CHECK(response_output(done).size() == 1);
  CHECK(client->count("response.function_call_arguments.done") == 0);
  CHECK(server->stats().function_calls.empty());
}

TEST_CASE("user text items and response instructions reach the stats, in order",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io, {.delta_interval = std::chrono::milliseconds(0)});
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  configure(*client);

  // Each item is announced (conversation.item.done) before the next is sent; a response's own
  // items come only after the last of them.
  std::string out;
  net::append_realtime_user_text(out, "The caller pressed 5.");
  client->send(out);
  client->next("conversation.item.done");
  out.clear();
  net::append_realtime_function_output(out, "call_unknown", R"({"x":1})");
  client->send(out);
  client->next("conversation.item.done");
  out.clear();
  net::append_realtime_user_text(out, "The caller pressed #.");
  client->send(out);
  client->next("conversation.item.done");
  out.clear();
  net::append_realtime_response_create(out, "Say: your order has shipped.");
  client->send(out);
  client->next("response.done");

  const auto stats = server->stats();
  CHECK(stats.user_texts ==
        std::vector<std::string>{"The caller pressed 5.", "The caller pressed #."});
  CHECK(stats.response_creates == 1);
  CHECK(stats.response_instructions == std::vector<std::string>{"Say: your order has shipped."});
  REQUIRE(stats.function_outputs.size() == 1);
  CHECK_FALSE(stats.function_outputs[0].known_call);
  CHECK(client->unparsable().empty());
}

TEST_CASE("session_lifetime ends each session with session_expired, as the GA API does at 60 min",
          "[realtime_model_server]") {
  running_io io{2};
  auto server = start_server(io, {.session_lifetime = std::chrono::milliseconds(1000)});
  auto client = connect(io, server->url());
  REQUIRE(client->wait_open());
  configure(*client);
  const auto expired = client->next("error").as<net::realtime_error>();
  CHECK(expired.code == "session_expired");
  CHECK(expired.message.find("maximum duration") != std::string::npos);
  const auto closed = client->wait_closed();
  CHECK(closed.clean);
  CHECK(closed.code == static_cast<std::uint16_t>(net::close_code::going_away));
  CHECK(server->stats().sessions_expired == 1);
  // The next session lives its own lifetime.
  auto second = connect(io, server->url());
  REQUIRE(second->wait_open());
  configure(*second);
  CHECK(second->next("error").as<net::realtime_error>().code == "session_expired");
  // Its close too: a test that ended with the close still in flight left the client and its
  // connection holding each other (LeakSanitizer, now and then).
  CHECK(second->wait_closed().code == static_cast<std::uint16_t>(net::close_code::going_away));
  CHECK(server->stats().sessions_expired == 2);
}
