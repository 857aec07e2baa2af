#include "actors/call_supervisor.hpp"

#include "actors/call_files.hpp"
#include "actors/call_finaliser.hpp"
#include "actors/call_recovery.hpp"
#include "actors/instrumented.hpp"
#include "actors/openai_session.hpp"
#include "actors/recorder.hpp"
#include "actors/silence_clock.hpp"
#include "actors/stream_continuation.hpp"
#include "actors/twilio_socket.hpp"
#include "config/tools_file.hpp"
#include "metrics/call_log.hpp"
#include "net/base64.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace switchboard::actors {

namespace {

/// Changes the view of this part of the call in the node's directory.
void update_view(const call_supervisor_state& state,
                 const std::function<void(call_view&)>& change) {
  state.env->directory->update(state.record.identity.call_sid, change, part_number(state.record));
}

using self_pointer = call_supervisor_actor::stateful_pointer<call_supervisor_state>;

std::uint64_t call_elapsed_ms(self_pointer self) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                            self->state.started_steady)
          .count());
}

void finish(self_pointer self) {
  auto& state = self->state;
  state.record.ended_at = state.env->wall_clock();
  if (state.started) {
    // The place is free as soon as the stream is over, not when the files are written.
    state.env->admission->end();
    state.env->metrics->active_calls().Decrement();
  }
  // Mixing and file writes block: they run on a finaliser thread of their own, started from
  // the node's file thread once every file job posted before this one has run. The file thread
  // keeps posting order, so the recorders' closes are through the disk before call.json is
  // written, even when a close outlasted finalize's timeout (a stalled disk) or its recorder
  // failed with the close still queued.
  state.env->files->post([system = &self->home_system(), record = state.record,
                          started = state.started, directory = state.directory,
                          context = call_finaliser_context::of(*state.env)]() mutable {
    spawn_call_finaliser(*system, std::move(record), started, std::move(directory),
                         std::move(context));
  });
  // The children that have not ended themselves (the Twilio socket, or all of them on a refused
  // stream) end with the call.
  const auto reason = caf::exit_reason::user_shutdown;
  self->send_exit(state.peers.twilio, reason);
  self->send_exit(state.peers.model, reason);
  self->send_exit(state.peers.clock, reason);
  self->send_exit(state.peers.caller_recorder, reason);
  self->send_exit(state.peers.agent_recorder, reason);
  self->quit();
}

void on_recording_closed(self_pointer self, recording_summary summary) {
  auto& state = self->state;
  if (!summary.error.empty())
    state.record.problems.push_back(summary.track + " recording: " + summary.error);
  state.record.recordings.push_back(std::move(summary));
  if (--state.recordings_pending == 0)
    finish(self);
}

/// Pads both tracks to the call's length and closes them; the call finishes once both answer.
/// Waits for the call's directory when it is still being made (the recorders need its path).
void finalize_recordings(self_pointer self, std::uint64_t call_samples) {
  auto& st = self->state;
  if (st.directory_pending) {
    st.finalize_when_directory_known = call_samples;
    return;
  }
  st.recordings_pending = 2;
  for (const auto& recorder : {st.peers.caller_recorder, st.peers.agent_recorder}) {
    self->request(recorder, std::chrono::seconds(30), finalize_atom::value, call_samples)
        .then([=](recording_summary summary) { on_recording_closed(self, summary); },
              [=](caf::error& error) {
                on_recording_closed(self, recording_summary{"", "", 0, 0, to_string(error)});
              });
  }
}

void begin_ending(self_pointer self, std::string reason) {
  auto& state = self->state;
  if (state.ending)
    return;
  state.ending = true;
  state.record.end_reason = std::move(reason);
  self->send(state.peers.model, close_atom::value);
  if (!state.started)
    return finish(self);  // refused or never started: nothing recorded
  update_view(state, [&](call_view& view) {
    view.state = call_state::ending;
    view.end_reason = state.record.end_reason;
  });
  self->request(state.peers.clock, std::chrono::seconds(5), stop_atom::value)
      .then(
          [=](playout_totals totals) {
            auto& st = self->state;
            st.record.playout = totals;
            // Both tracks end at the call's length (the longer of the caller's last frame and
            // the clock), so they line up sample for sample.
            finalize_recordings(self,
                                std::max(st.record.stream.caller_end_ms * 8, totals.ticks * 160));
          },
          [=](caf::error& error) {
            // A failed clock: the tracks still end, at the caller's length.
            auto& st = self->state;
            st.record.problems.push_back("silence clock: " + to_string(error));
            finalize_recordings(self, st.record.stream.caller_end_ms * 8);
          });
}

metrics::call_ids ids_of(const call_supervisor_state& state) {
  return {state.record.identity.call_sid, state.record.identity.stream_sid};
}

void schedule_guard_check(self_pointer self);

/// A line of the transcript: in call.json's record and in the live view the API shows.
void add_transcript_line(self_pointer self, transcript_entry line) {
  auto& state = self->state;
  // A part of a handed-over call: its lines go on the call's timeline, after the earlier parts.
  line.offset_ms += state.part_offset_ms;
  update_view(state, [&](call_view& view) { view.transcript.push_back(line); });
  state.record.transcript.push_back(std::move(line));
}

/// A later line for an agent item already in the transcript (a barge-in cut it after its
/// transcript came): the line becomes what the caller heard. False when it is new.
bool amend_agent_line(self_pointer self, const transcript_entry& entry) {
  auto& state = self->state;
  const auto same_item = [&](const transcript_entry& line) {
    return line.speaker == "agent" && line.item_id == entry.item_id;
  };
  auto& lines = state.record.transcript;
  const auto found = std::find_if(lines.rbegin(), lines.rend(), same_item);
  if (found == lines.rend())
    return false;
  found->text = entry.text;
  found->unheard = entry.unheard;
  update_view(state, [&](call_view& view) {
    const auto line = std::find_if(view.transcript.rbegin(), view.transcript.rend(), same_item);
    if (line != view.transcript.rend()) {
      line->text = entry.text;
      line->unheard = entry.unheard;
    }
  });
  return true;
}

void on_speech_started(self_pointer self, const caller_speech_started& speech) {
  auto& state = self->state;
  state.caller_item_start_ms[speech.item_id] = speech.audio_start_ms;
  if (state.ending)
    return;
  if (state.guards) {
    state.guards->caller_activity(guard_clock::now());
    schedule_guard_check(self);
  }
}

/// The model session cut the playout as the caller spoke over the agent (and truncated the
/// model's item at what was heard): the call's record, its live view and the metrics.
void on_barge_in(self_pointer self, const barge_in_made& cut) {
  auto& st = self->state;
  ++st.record.barge_ins;
  update_view(st, [&](call_view& view) { view.barge_ins = st.record.barge_ins; });
  st.env->metrics->barge_ins().Increment();
  if (cut.speech_received_ns != 0) {
    st.env->metrics->barge_in_clear().Observe(
        metrics::seconds_between(cut.speech_received_ns, metrics::steady_now_ns()));
  }
  if (!cut.item_id.empty())
    ++st.record.truncations;
  metrics::log_call(spdlog::level::info, ids_of(st),
                    "barge-in: agent cut at {} ms of {} ({} ms sent)", cut.heard_ms, cut.item_id,
                    cut.sent_ms);
}

// -- Control: hang-ups, the agent's words, tools, guards -------------------------------------

// What the agent says when a guard acts. The model speaks them in the call's voice.
constexpr std::string_view idle_question = "Are you still there?";
constexpr std::string_view idle_goodbye = "It seems you are no longer there. Goodbye!";
constexpr std::string_view time_limit_goodbye =
    "We have reached the time limit for this call. Thank you for calling, goodbye!";
// The item id of the apology prompt's audio in marks and the transcript.
constexpr std::string_view unavailable_prompt_item = "bridge_model_unavailable";
// The tag of the goodbye a guard or the drain asks for: its response_finished says it is said.
constexpr std::string_view goodbye_tag = "goodbye";
// How long a hang-up waits for the agent's last words before it goes ahead regardless (a peer
// that never echoes marks, a model that never answers).
constexpr auto last_words_timeout = std::chrono::seconds(20);

void hang_up_now(self_pointer self, std::string reason) {
  auto& state = self->state;
  if (state.ending || !state.hangup_reason.empty())
    return;
  metrics::log_call(spdlog::level::info, ids_of(state), "hanging up: {}", reason);
  state.hangup_reason = std::move(reason);
  // Ending on purpose, said before the socket closes: Twilio asks <Connect action> the moment
  // the stream ends, and the answer (app/connect_action.hpp) must be <Hangup/>, not a new
  // stream, even when the close has not been handled here yet.
  update_view(state, [&](call_view& view) {
    view.state = call_state::ending;
    view.end_reason = state.hangup_reason;
  });
  // The socket closes, Twilio's side of the stream ends, and call_stream_ended follows.
  self->send(state.peers.twilio, hangup_atom::value);
}

void on_hangup_request(self_pointer self, hangup_request& request) {
  auto& state = self->state;
  if (state.ending)
    return;
  if (!state.started) {
    // Nothing to play before the stream starts: close at once.
    return hang_up_now(self, std::move(request.reason));
  }
  if (!request.after_playout)
    return hang_up_now(self, std::move(request.reason));
  // The clock knows what is still unplayed (agent audio reaches it straight from the model
  // session, which sent a goodbye's audio before its response_finished): it answers once all
  // of it has been heard. Bounded, should the marks never come back.
  if (state.hangup_after_playout)
    return;  // already waiting for the playout to end
  state.hangup_after_playout = std::move(request.reason);
  self->delayed_send(self, last_words_timeout, hangup_request{*state.hangup_after_playout, false});
  self->request(state.peers.clock, last_words_timeout, drained_atom::value)
      .then(
          [=](playout_drained) {
            if (auto reason = std::exchange(self->state.hangup_after_playout, {}))
              hang_up_now(self, std::move(*reason));
          },
          [](caf::error&) {});  // the clock is gone or late: the bound above hangs up
}

/// A goodbye the model is asked to say, then the hang-up once it has played; after `bound` the
/// hang-up goes ahead regardless.
void say_goodbye_and_hang_up(self_pointer self, std::string_view goodbye, std::string reason,
                             std::chrono::milliseconds bound = last_words_timeout * 2) {
  auto& state = self->state;
  // The model session answers one response at a time, and asks a new session again (or to
  // finish it) when the link drops: whenever its response ends, the tag comes back.
  self->send(state.peers.model, say_request{std::string(goodbye), std::string(goodbye_tag)});
  state.hangup_after_response = reason;
  self->delayed_send(self, bound, hangup_request{std::move(reason), false});
}

/// The node's drain deadline: goodbye, then the hang-up (end reason "drained"). Once per call.
void on_drain_call(self_pointer self, const drain_call& drain) {
  auto& state = self->state;
  // The hand-over's fallback: the peer or Twilio refused, the call stays here after all.
  state.handover_pending = false;
  if (state.ending || state.drain_requested || !state.hangup_reason.empty())
    return;
  state.drain_requested = true;
  if (!state.started)
    return hang_up_now(self, std::string(drained_end_reason));  // nothing to say yet
  metrics::log_call(spdlog::level::info, ids_of(state),
                    "drain deadline: the agent says goodbye, then the call ends");
  add_transcript_line(self, {"agent", "", "[drain deadline]", call_elapsed_ms(self)});
  say_goodbye_and_hang_up(self, drain.goodbye, std::string(drained_end_reason),
                          std::chrono::milliseconds(drain.goodbye_bound_ms));
}

/// The parts of this call so far, this one last (a call that never moved: only this one).
std::vector<call_part> parts_so_far(const call_supervisor_state& state) {
  auto parts = state.record.parts;
  if (parts.empty())
    parts.push_back({1, state.env->metrics->node(), {}});
  return parts;
}

/// The node's drain asks for the call's state, for the peer that is to continue it. The model
/// session adds its part (the conversation); from here on Twilio's `stop` ends this part as
/// "handed over", unless the fallback (drain_call) comes instead.
caf::result<call_handover_state> on_handover(self_pointer self) {
  auto& state = self->state;
  if (!state.started || state.ending || !state.hangup_reason.empty() || state.drain_requested ||
      !state.transfer_pending_to.empty()) {
    return caf::make_error(caf::sec::runtime_error, "the call is not live here");
  }
  state.handover_pending = true;
  auto promise = self->make_response_promise<call_handover_state>();
  self->request(state.peers.model, std::chrono::seconds(5), handover_atom::value)
      .then(
          [=](session_handover& session) mutable {
            auto& st = self->state;
            call_handover_state out;
            out.identity = st.record.identity;
            out.instructions = std::move(session.instructions);
            out.voice = std::move(session.voice);
            out.metadata_json = std::move(session.metadata_json);
            out.conversation = std::move(session.conversation);
            out.conversation_items_dropped = session.conversation_items_dropped;
            out.transcript = st.record.transcript;
            const auto call_started_at =
                st.record.started_at - std::chrono::milliseconds(st.part_offset_ms);
            out.started_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    call_started_at.time_since_epoch())
                                    .count();
            out.elapsed_ms = st.part_offset_ms + call_elapsed_ms(self);
            out.barge_ins = st.record.barge_ins;
            out.truncations = st.record.truncations;
            out.responses = st.record.responses;
            out.model_reconnects = st.record.model_reconnects;
            out.parts = parts_so_far(st);
            out.parts.back().end_reason = std::string(handed_over_end_reason);
            promise.deliver(std::move(out));
          },
          [=](caf::error& error) mutable {
            self->state.handover_pending = false;
            promise.deliver(std::move(error));
          });
  return promise;
}

/// The call's new stream carries a hand-over key: the call goes on from the state a draining
/// peer sent (its identity, transcript, counters; the conversation for the model session).
/// False when the key is unknown (expired, taken, forged): the call then starts afresh.
bool seed_from_handover(self_pointer self, const call_started& started) {
  auto& st = self->state;
  auto handed = st.env->handovers->take(started.handover_key, started.identity.call_sid,
                                        std::chrono::steady_clock::now());
  if (!handed) {
    metrics::log_call(spdlog::level::warn, ids_of(st),
                      "stream names a hand-over this node does not hold: the call starts afresh");
    st.record.problems.push_back("hand-over state not found: the conversation starts afresh");
    return false;
  }
  // The identity as the first node knew it (From, To, an outbound call's dial id); the stream
  // is this one.
  const auto stream_sid = st.record.identity.stream_sid;
  const auto account_sid = st.record.identity.account_sid;
  st.record.identity = handed->identity;
  st.record.identity.stream_sid = stream_sid;
  if (!account_sid.empty())
    st.record.identity.account_sid = account_sid;
  st.record.transcript = std::move(handed->transcript);
  st.record.barge_ins = handed->barge_ins;
  st.record.truncations = handed->truncations;
  st.record.responses = handed->responses;
  st.record.model_reconnects = handed->model_reconnects;
  st.record.parts = std::move(handed->parts);
  // Not a drain's hand-over: the earlier part was lost with its node or its socket, and Twilio
  // asked <Connect action> what next (actors/stream_continuation.hpp).
  const bool after_dropped_line = continues_after_lost_part(st.record.parts);
  const auto number = st.record.parts.empty() ? 2u : st.record.parts.back().number + 1;
  st.record.parts.push_back({number, st.env->metrics->node(), {}});
  // This part's time zero on the call's timeline: when it started, counted from the call's.
  const auto call_started_at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(handed->started_at_ms));
  const auto offset =
      std::chrono::duration_cast<std::chrono::milliseconds>(st.record.started_at - call_started_at)
          .count();
  st.part_offset_ms = static_cast<std::uint64_t>(
      std::max<std::int64_t>(offset, static_cast<std::int64_t>(handed->elapsed_ms)));
  st.record.part_offset_ms = st.part_offset_ms;
  // How long the caller was without the call between the parts (from the earlier part's end as
  // far as it is known: the hand-over, or the action request after a lost stream).
  st.record.part_gap_ms =
      st.part_offset_ms > handed->elapsed_ms ? st.part_offset_ms - handed->elapsed_ms : 0;
  if (after_dropped_line) {
    add_transcript_line(self, {"agent", "",
                               "[the line dropped: the call goes on, part " +
                                   std::to_string(number) + " on " + st.env->metrics->node() + "]",
                               0});
  }
  // Before call_started: the session replays the conversation into its first model session
  // (and, after a dropped line, first tells the caller what happened).
  self->send(st.peers.model,
             session_handover{
                 std::move(handed->instructions), std::move(handed->voice),
                 std::move(handed->metadata_json), std::move(handed->conversation),
                 handed->conversation_items_dropped,
                 after_dropped_line ? std::string(line_dropped_instructions) : std::string()});
  // The part before this one (none when the state named no parts).
  const std::string earlier_node =
      st.record.parts.size() > 1 ? st.record.parts[st.record.parts.size() - 2].node : "?";
  metrics::log_call(
      spdlog::level::info, ids_of(st), "{} {}: part {}, {} transcript lines",
      after_dropped_line ? "goes on after its stream was lost on" : "handed over from",
      earlier_node.empty() ? std::string("this node") : "node " + earlier_node, number,
      st.record.transcript.size());
  return true;
}

void schedule_guard_check(self_pointer self) {
  auto& state = self->state;
  std::optional<guard_clock::time_point> next;
  if (state.guards)
    next = state.guards->next_deadline();
  if (state.keypad) {
    if (const auto keypad = state.keypad->deadline(); keypad && (!next || *keypad < *next))
      next = keypad;
  }
  // One timer at a time: a check already due no later than `next` looks again when it fires.
  // (Scheduling one per call of this function piled up an hour-long timer, and its message,
  // for every agent turn of every call.)
  if (!next || (state.guard_check_at && *state.guard_check_at <= *next))
    return;
  state.guard_check_at = next;
  const auto delay = std::max<guard_clock::duration>(*next - guard_clock::now(), {});
  self->delayed_send(
      self,
      std::chrono::duration_cast<std::chrono::milliseconds>(delay) + std::chrono::milliseconds(1),
      guard_check{++state.guard_generation});
}

void keypad_entry(self_pointer self, std::string digits) {
  auto& state = self->state;
  metrics::log_call(spdlog::level::info, ids_of(state), "keypad: {}", digits);
  add_transcript_line(self, {"caller", "", "[keypad] " + digits, call_elapsed_ms(self)});
  self->send(state.peers.model, caller_keypad_entry{std::move(digits)});
  state.env->metrics->call_actions(metrics::call_action::keypad_entry).Increment();
}

void on_guard_check(self_pointer self, const guard_check& check) {
  auto& state = self->state;
  if (check.generation != state.guard_generation || state.ending)
    return;
  state.guard_check_at.reset();
  const auto now = guard_clock::now();
  if (state.keypad) {
    if (auto digits = state.keypad->due(now))
      keypad_entry(self, std::move(*digits));
  }
  if (state.guards) {
    const auto action = state.guards->due(now);
    const auto count = [&](metrics::call_action counted) {
      state.env->metrics->call_actions(counted).Increment();
    };
    switch (action) {
      case guard_action::none:
        break;
      case guard_action::ask_if_still_there:
        metrics::log_call(spdlog::level::info, ids_of(state), "idle: asking the caller");
        count(metrics::call_action::idle_question);
        self->send(state.peers.model, say_request{std::string(idle_question)});
        break;
      case guard_action::end_for_silence:
        count(metrics::call_action::idle_hangup);
        say_goodbye_and_hang_up(self, idle_goodbye, "idle timeout");
        break;
      case guard_action::warn_of_time_limit: {
        count(metrics::call_action::time_limit_warning);
        const auto lead = std::chrono::duration_cast<std::chrono::seconds>(
            call_guards::warning_lead(state.env->guards.max_duration));
        self->send(state.peers.model, say_request{"Just so you know, this call will end in about " +
                                                  std::to_string(lead.count()) +
                                                  (lead.count() == 1 ? " second." : " seconds.")});
        break;
      }
      case guard_action::end_at_time_limit:
        count(metrics::call_action::time_limit_hangup);
        say_goodbye_and_hang_up(self, time_limit_goodbye, "maximum call duration reached");
        break;
    }
  }
  schedule_guard_check(self);
}

/// The model cannot be reached: the caller hears the apology prompt (through the playout
/// clock, so it is in the agent track and its marks confirm it played), then the bridge hangs
/// up. A caller who hangs up first ends the call as usual.
void end_for_unavailable_model(self_pointer self) {
  auto& state = self->state;
  if (state.ending)
    return;
  const auto prompt = state.env->unavailable_prompt;
  if (!prompt.empty()) {
    // Model-sized chunks (100 ms): each gets its mark, as the agent's voice does.
    constexpr std::size_t chunk_bytes = 800;
    for (std::size_t offset = 0; offset < prompt.size(); offset += chunk_bytes) {
      const auto chunk = prompt.subspan(offset, std::min(chunk_bytes, prompt.size() - offset));
      self->send(state.peers.clock, agent_audio{"", std::string(unavailable_prompt_item),
                                                net::encode_base64(chunk), 0});
    }
    add_transcript_line(self, {"agent", std::string(unavailable_prompt_item),
                               state.env->unavailable_prompt_text, call_elapsed_ms(self)});
  }
  hangup_request request{"model unavailable", true};
  on_hangup_request(self, request);
}

void on_tool_call(self_pointer self, const agent_tool_call& call) {
  auto& state = self->state;
  if (call.name == config::end_call_tool_name) {
    // The model says goodbye and then calls end_call in the same response: the goodbye is
    // already on its way to the caller; hang up once they have heard it. No result goes back:
    // it would make the model speak again.
    state.env->metrics->call_actions(metrics::call_action::end_call).Increment();
    hangup_request request{"the agent ended the call", true};
    return on_hangup_request(self, request);
  }
  // transfer_call {"to": "+E164"}
  std::string to;
  boost::system::error_code ec;
  const auto arguments = boost::json::parse(call.arguments_json, ec);
  if (!ec && arguments.is_object()) {
    if (const auto* value = arguments.as_object().if_contains("to"); value && value->is_string())
      to = std::string(value->as_string());
  }
  const auto reply_error = [&](const std::string& why) {
    boost::json::object output{{"error", why}};
    self->send(state.peers.model, tool_result{call.call_id, boost::json::serialize(output)});
  };
  if (to.empty())
    to = state.env->transfer_to;  // TRANSFER_TO; empty still: the actions refuse it
  if (!state.env->actions)
    return reply_error("transfers are not available on this line");
  state.transfer_pending_to = to;
  state.env->actions->transfer(self, call.call_id, state.record.identity.call_sid, to);
}

void on_transfer_outcome(self_pointer self, const transfer_outcome& outcome) {
  auto& state = self->state;
  state.transfer_pending_to.clear();
  if (!outcome.error.empty() && state.ending) {
    // The stream ended meanwhile, for another reason.
    state.record.problems.push_back("transfer to " + outcome.to + " failed: " + outcome.error);
    return;
  }
  if (!outcome.error.empty()) {
    metrics::log_call(spdlog::level::warn, ids_of(state), "transfer to {} failed: {}", outcome.to,
                      outcome.error);
    if (!outcome.tool_call_id.empty()) {
      boost::json::object output{{"error", "the transfer failed: " + outcome.error}};
      self->send(state.peers.model,
                 tool_result{outcome.tool_call_id, boost::json::serialize(output)});
    }
    return;
  }
  // Twilio now plays <Dial>: it ends this stream by itself.
  state.env->metrics->call_actions(metrics::call_action::transfer_call).Increment();
  metrics::log_call(spdlog::level::info, ids_of(state), "transferred to {}", outcome.to);
  state.hangup_reason = "transferred to " + outcome.to;
  add_transcript_line(self,
                      {"agent", "", "[transferred to " + outcome.to + "]", call_elapsed_ms(self)});
}

/// A stream is closed from here, before it counted as a call: no start in time, or no room.
void close_uncounted_stream(self_pointer self, net::close_code code, std::string reason) {
  auto& state = self->state;
  // The socket closes where it is: this node, or the one a hosted call's stream landed on.
  self->send(state.peers.twilio, close_stream{static_cast<std::uint16_t>(code), reason});
  state.record.stream.refused = true;  // calls_total{outcome="refused"}: it never began
  begin_ending(self, std::move(reason));
}

/// The stream's `start` has come (its token checked out): take it if the node has room.
bool admit_stream(self_pointer self) {
  auto& state = self->state;
  const auto& identity = state.record.identity;
  const auto refused = state.env->admission->start(
      call_admission_key(identity.call_sid, identity.dial_id), std::chrono::steady_clock::now());
  if (!refused)
    return true;
  // Its webhook was answered elsewhere or long ago, and this node is full now: Twilio hears a
  // close it may retry elsewhere (1013), the node keeps the round trip of its calls.
  state.env->metrics
      ->calls_refused(*refused == admission_refusal::full ? metrics::refusal_reason::full
                                                          : metrics::refusal_reason::overloaded,
                      metrics::refusal_source::stream)
      .Increment();
  metrics::log_call(spdlog::level::warn, ids_of(state), "stream refused: node {}",
                    to_string(*refused));
  close_uncounted_stream(self, net::close_code::try_again_later,
                         "node " + std::string(to_string(*refused)));
  return false;
}

void on_start_due(self_pointer self) {
  auto& state = self->state;
  if (state.started || state.ending)
    return;
  state.env->metrics->stream_start_timeouts().Increment();
  spdlog::warn("a media stream sent no `start` within {} ms: closed",
               state.env->start_timeout.count());
  close_uncounted_stream(
      self, net::close_code::policy_violation,
      "no start within " + std::to_string(state.env->start_timeout.count()) + " ms");
}

/// The call's directory exists (or could not be made): the recorders get their files, and an
/// end that was waiting for it goes on.
void on_call_directory_made(self_pointer self, const call_directory_made& made) {
  auto& st = self->state;
  st.directory_pending = false;
  st.directory = made.path;
  if (!made.error.empty()) {
    st.record.problems.push_back(made.error);
    metrics::log_call(spdlog::level::err, ids_of(st), "{}{}",
                      st.directory.empty() ? "recordings off for this call: " : "", made.error);
  }
  if (st.directory.empty() && st.env->record_audio) {
    // Both tracks are lost, as when their recorders fail.
    auto& node = *st.env->metrics;
    node.recording_errors(metrics::recording_track::caller).Increment();
    node.recording_errors(metrics::recording_track::agent).Increment();
  }
  const auto& identity = st.record.identity;
  // No directory (the error above names the real path): the recorders drop the audio rather
  // than try a path that cannot exist.
  const bool discard = !st.env->record_audio || st.directory.empty();
  const auto path_of = [&](const char* file) {
    return discard ? std::string() : (st.directory / file).string();
  };
  self->send(st.peers.caller_recorder,
             recording_target{"caller", path_of("caller.wav"), identity.call_sid,
                              identity.stream_sid, discard});
  self->send(st.peers.agent_recorder,
             recording_target{"agent", path_of("agent.wav"), identity.call_sid, identity.stream_sid,
                              discard});
  if (auto samples = std::exchange(st.finalize_when_directory_known, std::nullopt))
    finalize_recordings(self, *samples);
}

/// A linked child ended. Normal ends (each child quits once the call's end reaches it) are
/// nothing to do; a failure is logged, counted (switchboard_actor_failures_total, by the child)
/// and written into call.json's problems, and the call goes on without the child or ends.
void on_child_exit(self_pointer self, caf::exit_msg& exit) {
  auto& st = self->state;
  const auto is = [&](const auto& child) {
    return child && exit.source == caf::actor_cast<caf::actor_addr>(child);
  };
  const char* kind = is(st.peers.twilio)            ? "twilio_socket"
                     : is(st.peers.model)           ? "openai_session"
                     : is(st.peers.clock)           ? "silence_clock"
                     : is(st.peers.caller_recorder) ? "caller recorder"
                     : is(st.peers.agent_recorder)  ? "agent recorder"
                                                    : nullptr;
  if (kind == nullptr) {
    // Not a child: an exit sent to the call from outside ends it as before the trap.
    self->quit(exit.reason);
    return;
  }
  if (!exit.reason || exit.reason == caf::exit_reason::normal ||
      exit.reason == caf::exit_reason::user_shutdown)
    return;
  if (!st.failed_children.insert(kind).second)
    return;
  const auto why = std::string(kind) + " failed: " + to_string(exit.reason);
  metrics::log_call(spdlog::level::err, ids_of(st), "{}", why);
  st.record.problems.push_back(why);
  if (is(st.peers.caller_recorder) || is(st.peers.agent_recorder)) {
    // A failed recording must never drop the audio bridge: the call goes on without the track
    // (what reached its file stays, its header as of the last checkpoint).
    st.env->metrics
        ->recording_errors(is(st.peers.agent_recorder) ? metrics::recording_track::agent
                                                       : metrics::recording_track::caller)
        .Increment();
    return;
  }
  if (is(st.peers.twilio)) {
    // Nothing reaches the caller any more, and no call_stream_ended will come: the node of
    // the socket closes it as the actor goes (spawn_twilio_socket), the call ends here.
    st.record.stream.reason = why;
    return begin_ending(self, why);
  }
  // The model session or the clock: the caller would hear nothing more. Hang up (the Twilio
  // socket closes the stream, and the call ends as any other).
  if (st.ending)
    return;
  if (!st.started)
    return begin_ending(self, why);
  st.hangup_reason.clear();
  hang_up_now(self, why);
}

}  // namespace

call_supervisor_actor::behavior_type call_supervisor(self_pointer self, bridge_environment_ptr env,
                                                     twilio_socket_actor twilio) {
  auto& state = self->state;
  state.env = env;
  state.record.started_at = env->wall_clock();
  state.started_steady = std::chrono::steady_clock::now();
  // Not a call yet: an upgrade that never sends `start` must not hold a place or count.
  self->delayed_send(self, env->start_timeout, no_start_atom::value);
  const auto& m = count_actor(self, env->metrics, metrics::actor_kind::call_supervisor);

  // Linked, so that they die with the supervisor; their exits are trapped here, so that a
  // failed child ends the call cleanly (or, a recorder, only its track) instead of taking the
  // call's bookkeeping with it.
  self->set_exit_handler([=](caf::exit_msg& exit) { on_child_exit(self, exit); });
  state.peers.supervisor = self;
  // The Twilio socket's actor was spawned where its socket is (here, or the node a hosted
  // call's stream landed on): linked like the others, across the cluster link if need be.
  state.peers.twilio = std::move(twilio);
  self->link_to(state.peers.twilio);
  state.peers.model = self->spawn<caf::linked>(openai_session, env);
  state.peers.clock = self->spawn<caf::linked>(silence_clock, env);
  state.peers.caller_recorder = self->spawn<caf::linked>(recorder, recorder_context::of(*env));
  state.peers.agent_recorder = self->spawn<caf::linked>(recorder, recorder_context::of(*env));
  for (auto send_peers :
       {+[](self_pointer s, const call_peers&p) { s->send(p.clock, p); },
        +[](self_pointer s, const call_peers&p) { s->send(p.model, p); },
        +[](self_pointer s, const call_peers&p) { s->send(p.caller_recorder, p); },
        +[](self_pointer s, const call_peers&p) { s->send(p.agent_recorder, p); },
        // The Twilio socket last: it opens the door for frames.
        +[](self_pointer s, const call_peers&p) {
          s->send(p.twilio, p);
        }}) {
    send_peers(self, state.peers);
  }

  return {
      instrumented(
          self, m,
          [=](call_started& started) {
            auto& st = self->state;
            if (st.started || st.ending)
              return;
            st.record.identity = started.identity;
            const bool handed_over =
                !started.handover_key.empty() && seed_from_handover(self, started);
            if (!admit_stream(self))
              return;
            st.started = true;
            // Counted from here: the stream started and was admitted.
            st.env->calls->call_opened();
            st.env->metrics->calls_started().Increment();
            st.env->metrics->active_calls().Increment();
            // The directory and its marker are made on the node's file thread: the
            // io thread running this actor never waits on the disk. The recorders
            // hold the audio until their targets come (call_directory_made).
            const auto& identity = st.record.identity;
            call_marker marker{st.env->metrics->node(), process_instance_id(), started.identity,
                               started.identity.dial_id.empty() ? "inbound" : "outbound",
                               st.record.started_at};
            if (handed_over && !st.record.parts.empty())
              marker.part = st.record.parts.back().number;
            st.directory_pending = true;
            st.env->files->post([root = st.env->recordings_dir, marker = std::move(marker),
                                 supervisor = caf::actor_cast<call_supervisor_actor>(self)] {
              std::string error;
              auto made = make_marked_call_directory(root, marker, error);
              caf::anon_send(supervisor, call_directory_made{made.string(), error});
            });
            self->send(st.peers.clock, started);
            self->send(st.peers.model, call_started{st.record.identity, {}, started.overrides});
            call_view view;
            view.identity = st.record.identity;
            if (handed_over)
              view.transcript = st.record.transcript;
            view.direction = identity.dial_id.empty() ? "inbound" : "outbound";
            view.started_at = st.record.started_at;
            // A later part's news outranks its earlier part's end ("handed over") at the peers.
            view.revision = part_revision_base(part_number(st.record));
            st.env->directory->started(self, std::move(view), part_number(st.record));
            st.guards.emplace(st.env->guards, guard_clock::now());
            st.keypad.emplace(st.env->keypad_pause);
            schedule_guard_check(self);
          }),
      instrumented(self, m,
                   [=](call_stream_ended& ended) {
                     auto& st = self->state;
                     st.record.stream = ended;
                     // Ours first: a hang-up, or a transfer Twilio is carrying out (its answer
                     // to the redirect may come after the stream's end).
                     if (st.handover_pending && st.hangup_reason.empty()) {
                       // Twilio ended this stream for the call update: the call goes on at the
                       // peer, this part is over.
                       st.record.parts = parts_so_far(st);
                       st.hangup_reason = std::string(handed_over_end_reason);
                     }
                     auto reason = !st.hangup_reason.empty() ? st.hangup_reason
                                   : !st.transfer_pending_to.empty()
                                       ? "transferred to " + st.transfer_pending_to
                                       : ended.reason;
                     begin_ending(self, std::move(reason));
                   }),
      instrumented(self, m,
                   [=](caller_speech_started& speech) { on_speech_started(self, speech); }),
      instrumented(self, m, [=](barge_in_made& cut) { on_barge_in(self, cut); }),
      instrumented(self, m,
                   [=](agent_item_started& item) {
                     self->state.agent_item_start_ms.try_emplace(std::move(item.item_id),
                                                                 call_elapsed_ms(self));
                   }),
      instrumented(self, m, [=](response_started&) { ++self->state.record.responses; }),
      instrumented(self, m,
                   [=](response_finished& response) {
                     auto& st = self->state;
                     st.record.late_deltas_dropped += response.late_deltas_dropped;
                     if (st.hangup_after_response && response.tag == goodbye_tag) {
                       // The goodbye a guard asked for is complete: hang up once it has played.
                       hangup_request request{*std::exchange(st.hangup_after_response, {}), true};
                       on_hangup_request(self, request);
                     }
                     auto& usage = st.record.usage;
                     usage.input_tokens += response.usage.input_tokens;
                     usage.output_tokens += response.usage.output_tokens;
                     usage.input_audio_tokens += response.usage.input_audio_tokens;
                     usage.output_audio_tokens += response.usage.output_audio_tokens;
                     usage.cached_tokens += response.usage.cached_tokens;
                     auto& node = *st.env->metrics;
                     const auto add = [](prometheus::Counter& counter, std::uint64_t tokens) {
                       counter.Increment(static_cast<double>(tokens));
                     };
                     add(node.input_tokens(), response.usage.input_tokens);
                     add(node.output_tokens(), response.usage.output_tokens);
                     add(node.input_audio_tokens(), response.usage.input_audio_tokens);
                     add(node.output_audio_tokens(), response.usage.output_audio_tokens);
                     add(node.cached_tokens(), response.usage.cached_tokens);
                   }),
      instrumented(self, m,
                   [=](transcript_entry& entry) {
                     auto& st = self->state;
                     if (entry.speaker == "agent" && !entry.item_id.empty() &&
                         amend_agent_line(self, entry)) {
                       return;
                     }
                     const auto& starts = entry.speaker == "caller" ? st.caller_item_start_ms
                                                                    : st.agent_item_start_ms;
                     if (auto found = starts.find(entry.item_id); found != starts.end()) {
                       entry.offset_ms = found->second;
                     } else {
                       entry.offset_ms = call_elapsed_ms(self);
                     }
                     add_transcript_line(self, std::move(entry));
                   }),
      instrumented(self, m,
                   [=](model_status& status) {
                     auto& st = self->state;
                     switch (status.what) {
                       case model_status::kind::connected:
                         break;
                       case model_status::kind::reconnecting:
                         ++st.record.model_reconnects;
                         break;
                       case model_status::kind::error_event:
                         ++st.record.model_errors;
                         break;
                       case model_status::kind::unavailable:
                         st.record.problems.push_back("model unavailable: " + status.detail);
                         st.record.model_unavailable = true;
                         end_for_unavailable_model(self);
                         break;
                     }
                   }),
      instrumented(self, m,
                   [=](recording_problem& problem) {
                     self->state.record.problems.push_back(problem.track +
                                                           " recording: " + problem.message);
                   }),
      instrumented(self, m, [=](hangup_request& request) { on_hangup_request(self, request); }),
      instrumented(self, m, [=](drain_call& drain) { on_drain_call(self, drain); }),
      instrumented(self, m, [=](handover_atom) { return on_handover(self); }),
      instrumented(self, m,
                   [=](handed_atom) {
                     metrics::log_call(spdlog::level::info, ids_of(self->state),
                                       "Twilio took the call update: the call goes on at the peer");
                   }),
      instrumented(self, m,
                   [=](say_request& say) {
                     if (!self->state.ending)
                       self->send(self->state.peers.model, std::move(say));
                   }),
      instrumented(self, m,
                   [=](caller_keypress& key) {
                     auto& st = self->state;
                     if (st.ending || !st.keypad)
                       return;
                     const auto now = guard_clock::now();
                     st.guards->caller_activity(now);
                     if (auto digits = st.keypad->press(key.digit, now))
                       keypad_entry(self, std::move(*digits));
                     schedule_guard_check(self);
                   }),
      instrumented(self, m,
                   [=](playout_drained) {
                     // The agent has stopped speaking (a hang-up after the playout waits for the
                     // clock's answer to drained_atom instead: this report may predate audio
                     // that was on its way to the clock).
                     auto& st = self->state;
                     if (st.guards) {
                       st.guards->agent_activity(guard_clock::now());
                       schedule_guard_check(self);
                     }
                   }),
      instrumented(self, m, [=](agent_tool_call& call) { on_tool_call(self, call); }),
      instrumented(self, m, [=](transfer_outcome& outcome) { on_transfer_outcome(self, outcome); }),
      instrumented(self, m, [=](guard_check& check) { on_guard_check(self, check); }),
      instrumented(self, m, [=](no_start_atom) { on_start_due(self); }),
      instrumented(self, m, [=](call_directory_made& made) { on_call_directory_made(self, made); }),
  };
}

call_supervisor_actor spawn_local_call(caf::actor_system& system, bridge_environment_ptr env,
                                       std::weak_ptr<net::websocket_connection> connection,
                                       std::shared_ptr<frame_ingress> ingress) {
  auto twilio = spawn_twilio_socket(system, env, std::move(connection), std::move(ingress));
  return system.spawn(call_supervisor, std::move(env), std::move(twilio));
}

}  // namespace switchboard::actors
