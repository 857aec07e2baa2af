// The model link's failures under CAF's deterministic scheduler and virtual clock: a link that
// opens and never answers the configuration, one that goes quiet while the caller talks, a
// refusal at call start — each retried, and when nothing works the caller hears the apology
// prompt through the playout (marks awaited) before the bridge hangs up. A link lost mid-call:
// the new session is told the conversation (the agent's line cut where a barge-in stopped it)
// before the caller's held audio, and a goodbye asked for before the drop is said after it.
#include "actors/call_supervisor.hpp"
#include "actors/model_link_watch.hpp"
#include "call_under_test.hpp"
#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"
#include "wire_json.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace switchboard;
using namespace switchboard::actors;
using namespace switchboard::actors::testing;
using namespace std::chrono_literals;

namespace {

std::size_t count_containing(const std::vector<std::string>& texts, std::string_view needle) {
  return static_cast<std::size_t>(std::count_if(texts.begin(), texts.end(), [&](const auto& text) {
    return text.find(needle) != std::string::npos;
  }));
}

double counter(metrics::bridge_metrics& node, metrics::model_link_failure reason) {
  return node.model_link_failures(reason).Value();
}

}  // namespace

TEST_CASE("a model that accepts the upgrade and never answers the configuration is retried",
          "[openai_session]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.start();
  REQUIRE(call.model->opens == 1);
  call.model->connection_event(realtime_link_event::kind::opened);
  fixture.run();
  auto sent = call.model->take();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].find("\"session.update\"") != std::string::npos);

  // The caller's words wait for a configured session; session.created is not enough.
  call.model->server_sends(model_json(net::realtime_session_created{"ev_created", {}}));
  call.caller_speaks(200ms);
  CHECK(call.model->take().empty());

  fixture.advance(4600ms);  // 4.8 s since the upgrade
  CHECK(call.model->closes == 0);
  fixture.advance(200ms);  // 5 s: MODEL_READY_TIMEOUT
  CHECK(call.model->closes == 1);
  CHECK(counter(*call.env->metrics, metrics::model_link_failure::ready_timeout) == 1);

  fixture.advance(100ms);  // the backoff
  REQUIRE(call.model->opens == 2);
  call.model->connection_event(realtime_link_event::kind::opened);
  fixture.run();
  call.model->take();
  call.model_configured();
  // The held audio goes to the new link, in order.
  sent = call.model->take();
  CHECK(count_containing(sent, "input_audio_buffer.append") == 10);
  CHECK(call.env->metrics->model_outages(metrics::model_outage_result::recovered).Value() == 1);
  // Nothing more is due: the ready deadline of the abandoned link is gone.
  fixture.advance(10s);
  CHECK(call.model->closes == 1);
  CHECK(call.model->opens == 2);
}

TEST_CASE("a model quiet while the caller talks is probed, and lost when the probe is unanswered",
          "[openai_session]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.start_with_model_ready();
  call.model->take();

  // The caller talks; the model says nothing for half the silence timeout: a probe.
  call.caller_speaks(9980ms);
  CHECK(count_containing(call.model->take(), std::string(model_probe_event)) == 0);
  call.caller_speaks(40ms);
  auto sent = call.model->take();
  CHECK(std::count(sent.begin(), sent.end(), std::string(model_probe_event)) == 1);
  CHECK(net::parse_realtime_client_event(model_probe_event).has_value());

  // A live model answers it: the link stays, the quiet starts again.
  call.model_configured();
  call.caller_speaks(15s);
  CHECK(call.model->closes == 0);
  CHECK(counter(*call.env->metrics, metrics::model_link_failure::silent) == 0);

  // This time nothing answers: lost at the silence timeout, and reconnected.
  call.caller_speaks(6s);  // 21 s of quiet since the answer; the second probe went at 10 s
  CHECK(call.model->closes == 1);
  CHECK(counter(*call.env->metrics, metrics::model_link_failure::silent) == 1);
  CHECK(call.model->opens == 2);
}

TEST_CASE("a silent caller is no reason to drop a model that answers its probes",
          "[openai_session]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.start_with_model_ready();
  for (int i = 0; i < 6; ++i) {
    // 10 s of quiet from the first frame the session handles (20 ms after this starts).
    call.caller_speaks(10020ms);
    CHECK(count_containing(call.model->take(), std::string(model_probe_event)) == 1);
    call.model_configured();  // session.updated, the probe's answer
  }
  CHECK(call.model->closes == 0);
  CHECK(call.model->opens == 1);
}

TEST_CASE("a model refused at call start: the caller hears the apology, then the bridge hangs up",
          "[openai_session][call_supervisor]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  const std::vector<std::uint8_t> prompt(2000, 0x5A);  // 250 ms
  call.env->unavailable_prompt = prompt;
  call.start();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    REQUIRE(call.model->opens == attempt);
    caf::anon_send(
        call.model->session,
        realtime_link_event{call.model->link_id, realtime_link_event::kind::connect_failed,
                            "HTTP 429 Too Many Requests", 429});
    fixture.run();
    fixture.advance(100ms);
  }
  CHECK(call.model->opens == 3);
  CHECK(counter(*call.env->metrics, metrics::model_link_failure::refused) == 3);
  CHECK(call.env->metrics->model_outages(metrics::model_outage_result::gave_up).Value() == 1);

  // The prompt goes out like the agent's voice, with marks; the stream stays open until
  // Twilio confirms it played.
  const auto sent = call.sent_to_caller();
  CHECK(sent.audio == prompt);
  REQUIRE(sent.marks.size() == 3);  // 100 ms chunks
  fixture.advance(1s);
  CHECK_FALSE(call.twilio->closed());
  call.echo(sent.marks);
  fixture.advance(300ms);  // the clock reports the playout drained
  CHECK(call.twilio->closed());
  CHECK(call.twilio->close_code() == net::close_code::normal);

  auto finished = call.env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].end_reason == "model unavailable");
  REQUIRE_FALSE(finished[0].problems.empty());
  CHECK(finished[0].problems.front().find("429") != std::string::npos);
  CHECK(call.env->metrics->calls_ended(metrics::call_end::model_unavailable).Value() == 1);
  CHECK(call.env->metrics->calls_ended(metrics::call_end::completed).Value() == 0);
}

namespace {

/// The client events a session received, parsed, in order.
std::vector<net::realtime_client_event> parsed(const std::vector<std::string>& sent) {
  std::vector<net::realtime_client_event> events;
  for (const auto& text : sent) {
    INFO(text);
    auto event = net::parse_realtime_client_event(text);
    REQUIRE(event.has_value());
    events.push_back(*event);
  }
  return events;
}

template <class T>
std::size_t index_of_first(const std::vector<net::realtime_client_event>& events) {
  const auto found = std::find_if(events.begin(), events.end(), [](const auto& event) {
    return std::holds_alternative<T>(event);
  });
  return static_cast<std::size_t>(found - events.begin());
}

}  // namespace

TEST_CASE(
    "an answer that follows the caller's speech at once is played, not cut as a barge-in: the "
    "cut is asked in order with the agent audio",
    "[openai_session][barge_in]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.start_with_model_ready();
  call.model->take();
  call.twilio->take();

  // The model's events of a whole turn arrive in one read (a stalled connection catching up):
  // the caller's speech, then at once the answer's audio.
  call.model->server_sends(model_json(net::realtime_speech_started{"e1", "item_c1", 0}));
  call.model->server_sends(model_json(net::realtime_speech_stopped{"e2", "item_c1", 400}));
  call.model->server_sends(
      model_json(net::realtime_response_created{"e3", "resp_1", "in_progress"}));
  call.model->server_sends(model_json(net::realtime_audio_delta{
      "e4", "resp_1", "item_a1", 0, 0, net::encode_base64(std::vector<std::uint8_t>(1600, 0x33))}));
  fixture.run();

  // All 200 ms of it go to Twilio, with their mark; nothing was cut.
  const auto sent = call.sent_to_caller();
  CHECK(sent.audio == std::vector<std::uint8_t>(1600, 0x33));
  CHECK(sent.marks.size() == 1);
  CHECK(call.env->metrics->barge_ins().Value() == 0);
  CHECK(count_containing(call.model->take(), "conversation.item.truncate") == 0);

  // The caller hears 100 ms of it and speaks again: that is a barge-in, cut at 100 ms.
  fixture.advance(100ms);
  call.model->server_sends(model_json(net::realtime_speech_started{"e5", "item_c2", 500}));
  fixture.run();
  CHECK(call.env->metrics->barge_ins().Value() == 1);
  const auto model_got = call.model->take();
  REQUIRE(count_containing(model_got, "conversation.item.truncate") == 1);
  CHECK(count_containing(model_got, "\"audio_end_ms\":100") == 1);
}

TEST_CASE(
    "a lost model link: the new session gets the conversation, cut where the caller "
    "stopped hearing, before the audio held meanwhile",
    "[openai_session][reconnect]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.start_with_model_ready();
  call.model->take();

  // The caller asks; the model transcribes it and answers with 1 s of audio (10 ms of text per
  // character: "Your table for two is booked at eight pm", 40 characters over 1000 ms).
  call.caller_speaks(200ms);
  call.model->server_sends(model_json(net::realtime_speech_started{"e1", "item_c1", 0}));
  call.model->server_sends(model_json(net::realtime_speech_stopped{"e1", "item_c1", 200}));
  call.model->server_sends(
      model_json(net::realtime_input_transcript{"e2", "item_c1", 0, "Is my table booked?"}));
  call.model->server_sends(
      model_json(net::realtime_response_created{"e3", "resp_1", "in_progress"}));
  for (int i = 0; i < 10; ++i) {
    call.model->server_sends(model_json(
        net::realtime_audio_delta{"e4", "resp_1", "item_a1", 0, 0,
                                  net::encode_base64(std::vector<std::uint8_t>(800, 0x33))}));
  }
  call.model->server_sends(model_json(net::realtime_transcript_done{
      "e5", "resp_1", "item_a1", 0, 0, "Your table for two is booked at eight pm"}));
  call.model->server_sends(
      model_json(net::realtime_response_done{"e6", "resp_1", "completed", "", std::nullopt}));
  fixture.run();
  call.model->take();

  // The caller hears 480 ms of it (Twilio echoes the marks of what played), then talks over it:
  // barge-in at 480 ms, the truncate says so.
  fixture.advance(480ms);
  call.model->server_sends(model_json(net::realtime_speech_started{"e7", "item_c2", 1000}));
  fixture.run();
  auto sent = call.model->take();
  REQUIRE(count_containing(sent, "conversation.item.truncate") == 1);
  CHECK(count_containing(sent, "\"audio_end_ms\":480") == 1);
  call.model->server_sends(model_json(net::realtime_speech_stopped{"e8", "item_c2", 1500}));
  call.model->server_sends(
      model_json(net::realtime_input_transcript{"e8", "item_c2", 0, "What about the window?"}));
  fixture.run();

  // The link drops. The caller goes on talking meanwhile: held.
  call.model->connection_event(realtime_link_event::kind::closed, "socket closed");
  fixture.run();
  call.caller_speaks(100ms);  // 5 frames, held
  fixture.advance(100ms);     // the backoff
  REQUIRE(call.model->opens == 2);
  call.model->connection_event(realtime_link_event::kind::opened);
  fixture.run();
  sent = call.model->take();
  REQUIRE(sent.size() == 1);  // the configuration first, nothing else until it is taken
  CHECK(sent[0].find("\"session.update\"") != std::string::npos);
  call.model_configured();
  const auto events = parsed(call.model->take());

  // The conversation, in order, as the caller heard it: the agent's line ends at the word the
  // barge-in cut (480 ms of 1000: character 19, after "two").
  std::vector<net::realtime_create_message> replayed;
  for (const auto& event : events) {
    if (const auto* message = std::get_if<net::realtime_create_message>(&event))
      replayed.push_back(*message);
  }
  const std::vector<net::realtime_create_message> expected{
      {"", "user", "Is my table booked?"},
      {"", "assistant", "Your table for two"},
      {"", "user", "What about the window?"},
  };
  CHECK(replayed == expected);
  // ...all of it before the caller's audio held during the gap, which follows in full.
  const auto first_audio = index_of_first<net::realtime_audio_append>(events);
  CHECK(first_audio == 3);
  CHECK(count_containing(call.model->sent, "input_audio_buffer.append") == 0);
  CHECK(std::count_if(events.begin(), events.end(), [](const auto& event) {
          return std::holds_alternative<net::realtime_audio_append>(event);
        }) == 5);
  // The caller's last turn had no answer yet when the link dropped: the new session is asked
  // for one, after it has heard everything, the held audio too.
  const auto create = index_of_first<net::realtime_response_create>(events);
  REQUIRE(create < events.size());
  CHECK(create > first_audio);
  CHECK_FALSE(std::get<net::realtime_response_create>(events[create]).instructions);

  // The transcript shows the line as heard, the rest marked unheard.
  auto line = call.env->directory->find(call.call_sid);
  REQUIRE(line);
  const auto agent = std::find_if(line->transcript.begin(), line->transcript.end(),
                                  [](const auto& entry) { return entry.speaker == "agent"; });
  REQUIRE(agent != line->transcript.end());
  CHECK(agent->text == "Your table for two");
  CHECK(agent->unheard == "is booked at eight pm");
}

TEST_CASE(
    "a goodbye asked for while the model spoke is said after a reconnect, and the call "
    "ends without waiting for the lost session",
    "[openai_session][call_supervisor][reconnect]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.start_with_model_ready();
  call.model->take();

  // The model is mid-answer (200 ms of audio so far) when the node's drain asks for the goodbye.
  call.model->server_sends(
      model_json(net::realtime_response_created{"e1", "resp_1", "in_progress"}));
  call.model->server_sends(model_json(net::realtime_transcript_delta{
      "e2", "resp_1", "item_a1", 0, 0, "Let me check the times for"}));
  call.model->server_sends(model_json(net::realtime_audio_delta{
      "e3", "resp_1", "item_a1", 0, 0, net::encode_base64(std::vector<std::uint8_t>(1600, 0x33))}));
  fixture.run();
  caf::anon_send(call.supervisor, drain_call{"Goodbye!", 40'000});
  fixture.run();
  auto sent = call.model->take();
  CHECK(count_containing(sent, "response.create") == 0);  // one response at a time

  // The link drops mid-answer, before response.done.
  call.model->connection_event(realtime_link_event::kind::closed, "socket closed");
  fixture.run();
  fixture.advance(100ms);  // the backoff
  REQUIRE(call.model->opens == 2);
  call.model->connection_event(realtime_link_event::kind::opened);
  fixture.run();
  call.model->take();
  call.model_configured();
  const auto events = parsed(call.model->take());
  // The words heard before the drop are in the conversation; the cut answer is continued from
  // there, not asked again from its start.
  REQUIRE(index_of_first<net::realtime_create_message>(events) < events.size());
  CHECK(std::get<net::realtime_create_message>(
            events[index_of_first<net::realtime_create_message>(events)]) ==
        net::realtime_create_message{"", "assistant", "Let me check the times for"});
  const auto create = index_of_first<net::realtime_response_create>(events);
  REQUIRE(create < events.size());
  const auto& continuation = std::get<net::realtime_response_create>(events[create]);
  REQUIRE(continuation.instructions);
  CHECK(continuation.instructions->find("Let me check the times for") != std::string::npos);
  CHECK(continuation.instructions->find("without repeating") != std::string::npos);

  // The new session finishes the answer, then says the goodbye.
  const auto respond = [&](const std::string& id, const std::string& item) {
    call.model->server_sends(model_json(net::realtime_response_created{"e", id, "in_progress"}));
    call.model->server_sends(model_json(net::realtime_audio_delta{
        "e", id, item, 0, 0, net::encode_base64(std::vector<std::uint8_t>(800, 0x44))}));
    call.model->server_sends(
        model_json(net::realtime_response_done{"e", id, "completed", "", std::nullopt}));
    fixture.run();
  };
  respond("resp_2", "item_a2");
  sent = call.model->take();
  REQUIRE(count_containing(sent, "response.create") == 1);
  CHECK(count_containing(sent, "Goodbye!") == 1);
  respond("resp_3", "item_a3");

  // Once the caller has heard it all, the bridge hangs up: seconds, not the 40 s bound.
  fixture.advance(100ms);
  CHECK_FALSE(call.twilio->closed());
  call.echo(call.sent_to_caller().marks);
  fixture.advance(100ms);
  CHECK(call.twilio->closed());
  auto finished = call.env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].end_reason == "drained");
}

TEST_CASE("at 55 minutes the next model session opens, and the call switches to it between turns",
          "[openai_session][reconnect][lifetime]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.env->guards.max_duration = 0ms;  // MAX_CALL_DURATION=0: the call may outlast a session
  call.start_with_model_ready();
  const auto first = call.model->link_id;
  call.model->take();

  // A turn, so that there is a conversation to carry over.
  call.model->server_sends(model_json(net::realtime_speech_started{"e1", "item_c1", 0}));
  call.model->server_sends(model_json(net::realtime_speech_stopped{"e2", "item_c1", 900}));
  call.model->server_sends(
      model_json(net::realtime_input_transcript{"e3", "item_c1", 0, "Book me for Friday."}));
  call.model->server_sends(
      model_json(net::realtime_response_created{"e4", "resp_1", "in_progress"}));
  call.model->server_sends(model_json(net::realtime_audio_delta{
      "e5", "resp_1", "item_a1", 0, 0, net::encode_base64(std::vector<std::uint8_t>(800, 0x33))}));
  call.model->server_sends(
      model_json(net::realtime_transcript_done{"e6", "resp_1", "item_a1", 0, 0, "Done."}));
  call.model->server_sends(
      model_json(net::realtime_response_done{"e7", "resp_1", "completed", "", std::nullopt}));
  fixture.run();

  // 55 minutes of virtual time: nothing yet at 54:59, the next session opens at 55:00.
  fixture.advance(std::chrono::minutes(55) - 1s);
  CHECK(call.model->opens == 1);
  fixture.advance(1s);
  REQUIRE(call.model->opens == 2);
  const auto next = call.model->link_id;
  REQUIRE(next != first);
  call.model->connection_event_on(next, realtime_link_event::kind::opened);
  fixture.run();
  auto on_next = call.model->take_on(next);
  REQUIRE(on_next.size() == 1);
  CHECK(on_next[0].find("\"session.update\"") != std::string::npos);

  // The agent is mid-sentence in the old session when the new one is ready: no switch yet.
  call.model->server_sends_on(
      first, model_json(net::realtime_response_created{"e8", "resp_2", "in_progress"}));
  call.model->server_sends_on(first,
                              model_json(net::realtime_audio_delta{
                                  "e9", "resp_2", "item_a2", 0, 0,
                                  net::encode_base64(std::vector<std::uint8_t>(800, 0x44))}));
  call.model->server_sends_on(next, model_json(net::realtime_session_updated{"n1", {}}));
  fixture.run();
  CHECK(call.model->take_on(next).empty());
  CHECK(call.model->closed_links.empty());

  // Its sentence done: the switch. The new session gets the conversation, both turns; the old
  // one is closed.
  call.model->server_sends_on(first, model_json(net::realtime_transcript_done{
                                         "e10", "resp_2", "item_a2", 0, 0, "Anything else?"}));
  call.model->server_sends_on(first, model_json(net::realtime_response_done{
                                         "e11", "resp_2", "completed", "", std::nullopt}));
  fixture.run();
  CHECK(call.model->closed_links == std::vector<std::uint32_t>{first});
  const auto events = parsed(call.model->take_on(next));
  std::vector<net::realtime_create_message> replayed;
  for (const auto& event : events) {
    if (const auto* message = std::get_if<net::realtime_create_message>(&event))
      replayed.push_back(*message);
  }
  const std::vector<net::realtime_create_message> expected{
      {"", "user", "Book me for Friday."},
      {"", "assistant", "Done."},
      {"", "assistant", "Anything else?"},
  };
  CHECK(replayed == expected);
  CHECK(index_of_first<net::realtime_response_create>(events) == events.size());  // nothing asked

  // The caller's audio goes to the new session from now on, and late events of the old one
  // are ignored.
  call.model->take();
  call.caller_speaks(40ms);
  CHECK(count_containing(call.model->take_on(next), "input_audio_buffer.append") == 2);
  call.model->server_sends_on(first, model_json(net::realtime_speech_started{"x", "item_x", 0}));
  fixture.run();
  CHECK(call.model->take_on(next).empty());

  call.model->server_sends_on(next, model_json(net::realtime_session_updated{"n2", {}}));
  fixture.run();  // the new session is alive (its watch heard from it)

  // No reconnect was counted: the caller heard no gap and the model no outage.
  CHECK(call.env->metrics->model_reconnects().Value() == 0);
  // The next renewal is due 55 minutes into the new session.
  fixture.advance(std::chrono::minutes(55));
  CHECK(call.model->opens == 3);
  CHECK(call.env->metrics->model_reconnects().Value() == 0);
}

TEST_CASE("a call that ends before the session's lifetime never opens a second session",
          "[openai_session][lifetime]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.env->guards.max_duration = std::chrono::minutes(60);  // MAX_CALL_DURATION's default
  call.start_with_model_ready();
  fixture.advance(std::chrono::minutes(59));
  CHECK(call.model->opens == 1);
}

TEST_CASE("a link lost while the caller speaks: the next session hears the turn from its start",
          "[openai_session][reconnect]") {
  actor_fixture fixture;
  call_under_test call(fixture);
  call.start_with_model_ready();
  call.caller_speaks(1000ms);  // quiet: only the last 300 ms are kept, the padding of a turn
  call.model->server_sends(model_json(net::realtime_speech_started{"e1", "item_c1", 700}));
  fixture.run();
  call.caller_speaks(400ms);  // the turn so far went to the session that is about to be lost
  call.model->take();
  call.model->connection_event(realtime_link_event::kind::closed, "socket closed");
  fixture.run();
  call.caller_speaks(100ms);  // held; the backoff passes meanwhile
  REQUIRE(call.model->opens == 2);
  call.model->connection_event(realtime_link_event::kind::opened);
  fixture.run();
  call.model->take();
  call.model_configured();
  // 15 frames of padding and 20 of the turn sent again, then the 5 held: 700 ms, in order.
  CHECK(count_containing(call.model->take(), "input_audio_buffer.append") == 40);
}
