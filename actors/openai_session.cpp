#include "actors/openai_session.hpp"

#include "actors/instrumented.hpp"
#include "config/tools_file.hpp"
#include "net/realtime_messages.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace switchboard::actors {

namespace {

using self_pointer = openai_session_actor::stateful_pointer<openai_session_state>;

void send_to_model(self_pointer self) {
  auto& state = self->state;
  if (state.link)
    state.link->send(state.outbound);
}

/// Keeps one watchdog check scheduled, at the watch's next deadline. A check that fires early
/// (the model spoke since) finds nothing due and schedules the next one.
void schedule_watch(self_pointer self) {
  auto& state = self->state;
  const auto next = state.watch.next_deadline();
  if (!next || (state.watch_check_at && *state.watch_check_at <= *next))
    return;
  state.watch_check_at = next;
  const auto now = self->clock().now();
  const caf::actor_clock::duration_type delay = *next > now
                                                    ? caf::actor_clock::duration_type(*next - now)
                                                    : caf::actor_clock::duration_type{0};
  self->delayed_send(self, delay, model_watch_check{++state.watch_generation});
}

void start_connecting(self_pointer self) {
  auto& state = self->state;
  if (state.closing || !state.env->model_links)
    return;
  state.watch.connecting();
  state.link_id = ++state.last_link_id;
  state.connect_started_ns = metrics::steady_now_ns();
  state.link =
      state.env->model_links->open(caf::actor_cast<openai_session_actor>(self), state.link_id);
}

void request_wanted_response(self_pointer self);
std::string say_instructions(std::string_view text);

/// Bytes of μ-law in a base64 delta, without decoding it: 3 bytes per 4 characters, less the
/// padding.
std::uint64_t decoded_size(std::string_view base64) {
  std::uint64_t bytes = base64.size() / 4 * 3;
  if (!base64.empty() && base64.back() == '=')
    --bytes;
  if (base64.size() > 1 && base64[base64.size() - 2] == '=')
    --bytes;
  return bytes;
}

/// The agent's line of `item_id` as the caller heard it, to the supervisor's transcript.
void send_agent_line(self_pointer self, const std::string& item_id) {
  auto& state = self->state;
  auto heard = state.talk.agent_heard(item_id);
  if (!heard || (heard->heard.empty() && heard->unheard.empty()))
    return;
  self->send(state.peers->supervisor, transcript_entry{"agent", item_id, std::move(heard->heard), 0,
                                                       std::move(heard->unheard)});
}

/// Barge-in: the caller heard `audio_end_ms` of the agent's `item_id`. The conversation keeps
/// what was heard, the transcript's line says so, and the model truncates its item to match.
void truncate_agent_item(self_pointer self, const std::string& item_id,
                         std::uint64_t audio_end_ms) {
  auto& state = self->state;
  // What the caller heard is the conversation's, whichever session said it.
  state.talk.agent_cut(item_id, audio_end_ms);
  // Its line went to the transcript already, unless the item is still being written (then
  // transcript.done carries the cut): sent again, cut.
  if (state.talk.agent_item(item_id) != nullptr && state.open_agent_item != item_id)
    send_agent_line(self, item_id);
  // Only the session that made the item knows it.
  if (!state.ready || !state.agent_items_here.contains(item_id))
    return;
  state.outbound.clear();
  net::append_realtime_truncate(state.outbound, item_id, audio_end_ms);
  send_to_model(self);
  state.env->metrics->truncations_sent().Increment();
}

/// The caller started speaking: the clock cuts what is unplayed of the agent (Twilio's `clear`
/// first). Asked from here, in order with the agent audio this session sends the clock: audio
/// of a new answer sent after this event is never what the cut takes.
void cut_the_playout(self_pointer self, std::int64_t speech_received_ns) {
  auto& state = self->state;
  self->request(state.peers->clock, std::chrono::seconds(5), cut_atom::value)
      .then(
          [=](playout_cut_result cut) {
            if (!cut.had_unplayed)
              return;
            if (!cut.item_id.empty())
              truncate_agent_item(self, cut.item_id, std::min(cut.heard_ms, cut.sent_ms));
            self->send(self->state.peers->supervisor,
                       barge_in_made{cut.item_id, cut.heard_ms, cut.sent_ms, speech_received_ns});
          },
          [=](caf::error& error) {
            // The clock is gone (it failed, or the call is ending): the caller keeps hearing
            // the agent until it is over. Never silent: logged and counted.
            auto& st = self->state;
            st.env->metrics->actor(metrics::actor_kind::silence_clock).request_errors->Increment();
            metrics::log_call(spdlog::level::warn, st.ids, "barge-in cut not made: {}",
                              to_string(error));
          });
}

/// A fresh session learns the call so far, before any of the caller's new audio.
void replay_conversation(self_pointer self) {
  auto& state = self->state;
  const auto events = state.talk.replay_events();
  std::size_t bytes = 0;
  for (const auto& event : events) {
    state.outbound = event;
    bytes += event.size();
    send_to_model(self);
  }
  if (!events.empty()) {
    ++state.replays;
    metrics::log_call(spdlog::level::info, state.ids,
                      "conversation replayed into the new session: {} items, {} bytes",
                      events.size(), bytes);
  }
}

/// The upgrade succeeded: configure the session and wait for the model to confirm it.
void on_opened(self_pointer self) {
  auto& state = self->state;
  state.env->metrics->model_connect().Observe(
      metrics::seconds_between(state.connect_started_ns, metrics::steady_now_ns()));
  state.watch.opened(self->clock().now());
  state.outbound.clear();
  net::append_realtime_session_update(state.outbound, state.session);
  send_to_model(self);
  metrics::log_call(spdlog::level::debug, state.ids, "model connected, configuring the session");
  schedule_watch(self);
}

// -- The 60-minute lifetime: the next session, opened ahead and switched to between turns ------

bool renewal_needed(const openai_session_state& state) {
  const auto longest_call = state.env->guards.max_duration;
  return longest_call.count() == 0 || longest_call > state.env->model_session.lifetime;
}

/// The current session became ready: the next one opens `renew_before` its end.
void schedule_renewal(self_pointer self) {
  auto& state = self->state;
  if (!renewal_needed(state))
    return;
  const auto& limits = state.env->model_session;
  const auto delay = limits.lifetime > limits.renew_before ? limits.lifetime - limits.renew_before
                                                           : std::chrono::milliseconds(0);
  self->delayed_send(self, delay, model_session_renewal{++state.renewal_generation});
}

void drop_standby(self_pointer self) {
  auto& state = self->state;
  if (state.standby)
    state.standby->close();
  state.standby.reset();
  state.standby_id = 0;
  state.standby_ready = false;
}

void on_renewal(self_pointer self, const model_session_renewal& renewal) {
  auto& state = self->state;
  if (renewal.generation != state.renewal_generation || state.closing || !state.ready ||
      state.standby || !state.env->model_links)
    return;
  state.standby_id = ++state.last_link_id;
  state.standby_ready = false;
  metrics::log_call(spdlog::level::info, state.ids,
                    "model session nears its lifetime: opening the next one");
  state.standby =
      state.env->model_links->open(caf::actor_cast<openai_session_actor>(self), state.standby_id);
}

void replay_conversation(self_pointer self);

/// The call moves to the standby session: it learns the conversation, and carries the call
/// from here on. Only at a turn boundary, or when the current one is gone.
void switch_to_standby(self_pointer self) {
  auto& state = self->state;
  if (state.link)
    state.link->close();
  state.link = std::exchange(state.standby, nullptr);
  state.link_id = std::exchange(state.standby_id, 0);
  state.standby_ready = false;
  state.ready = true;
  const auto now = self->clock().now();
  state.watch.connecting();
  state.watch.opened(now);
  state.watch.configured(now);
  state.agent_items_here.clear();
  state.open_agent_item.clear();
  replay_conversation(self);
  ++state.session_switches;
  metrics::log_call(spdlog::level::info, state.ids, "switched to the next model session ({})",
                    state.session_switches);
  schedule_renewal(self);
  request_wanted_response(self);
}

/// A turn boundary: nothing asked of the model or being said by it, the caller not speaking.
void switch_if_between_turns(self_pointer self) {
  auto& state = self->state;
  if (state.standby_ready && state.ready && !state.closing && !state.turns.active() &&
      !state.caller_speaking) {
    switch_to_standby(self);
  }
}

void on_standby_event(self_pointer self, const realtime_link_event& event) {
  auto& state = self->state;
  if (event.what == realtime_link_event::kind::opened) {
    std::string update;
    net::append_realtime_session_update(update, state.session);
    state.standby->send(std::move(update));
    return;
  }
  metrics::log_call(spdlog::level::warn, state.ids,
                    "the next model session failed to open ({}); trying again", event.reason);
  drop_standby(self);
  self->delayed_send(self, state.env->model_session.retry,
                     model_session_renewal{state.renewal_generation});
}

void on_standby_frame(self_pointer self, std::string_view text) {
  auto& state = self->state;
  const auto parsed = net::parse_realtime_event(text);
  if (!parsed || state.standby_ready)
    return;  // until it is switched to, only its answer to the configuration matters
  if (std::holds_alternative<net::realtime_session_updated>(*parsed)) {
    state.standby_ready = true;
    switch_if_between_turns(self);
  }
}

/// session.updated: the model took our configuration, the link carries the call from now on.
void on_configured(self_pointer self) {
  auto& state = self->state;
  state.ready = true;
  state.attempts = 0;
  auto& node = *state.env->metrics;
  if (state.ever_ready) {
    ++state.reconnects;
    node.model_reconnects().Increment();
  }
  state.ever_ready = true;
  if (state.outage) {
    state.outage = false;
    node.model_outages(metrics::model_outage_result::recovered).Increment();
  }
  state.agent_items_here.clear();
  replay_conversation(self);
  // The caller's words so far: held while the session was not ready, sent in order now, after
  // the conversation they follow.
  for (const auto& audio : state.held_audio) {
    state.outbound.clear();
    net::append_realtime_audio_append(state.outbound, audio);
    send_to_model(self);
  }
  if (!state.held_audio.empty())
    state.watch.caller_audio(self->clock().now());
  state.held_audio.clear();
  if (!state.greeted && !state.env->greeting.empty()) {
    state.greeted = true;
    state.turns.want_first(
        {say_instructions(state.env->greeting), std::string(), state.env->greeting});
    state.env->metrics->call_actions(metrics::call_action::greeting).Increment();
  }
  request_wanted_response(self);
  schedule_renewal(self);
  metrics::log_call(spdlog::level::info, state.ids, "model session ready{}",
                    state.reconnects > 0 ? " (reconnected)" : "");
  self->send(state.peers->supervisor, model_status{model_status::kind::connected, ""});
  schedule_watch(self);
}

/// Asks for the next wanted response when the model has none active.
void request_wanted_response(self_pointer self) {
  auto& state = self->state;
  if (!state.ready)
    return;
  // Until response.created says so the request counts as active: a second one now would be
  // refused as a duplicate.
  const auto request = state.turns.next_to_request();
  if (!request)
    return;
  state.outbound.clear();
  net::append_realtime_response_create(state.outbound, request->instructions);
  send_to_model(self);
}

/// A conversation item (already serialised, and in the conversation) for the model now, or in
/// the replay when the session is ready; and a response to it: keypad entries and tool results
/// are answered.
void add_item_and_respond(self_pointer self, std::string serialised) {
  auto& state = self->state;
  if (state.ready) {
    state.outbound = std::move(serialised);
    send_to_model(self);
  }
  state.turns.want({});
  request_wanted_response(self);
}

/// The words a lost response had said, for the next session to go on from.
std::string continuation_instructions(const response_turns::lost_response& lost,
                                      const std::string& heard) {
  if (lost.request && !lost.request->say_text.empty()) {
    return "The line to the caller dropped for a moment while you were saying, word for word: "
           "\"" +
           lost.request->say_text + "\". The caller heard: \"" + heard +
           "\". Say the rest of it, word for word, without repeating what they heard, then stop.";
  }
  return "The line to the caller dropped for a moment while you were speaking. The caller "
         "heard: \"" +
         heard +
         "\". Go on from where you stopped, briefly, without repeating what they already heard.";
}

// The turn detector's prefix padding (300 ms, §B3) in 20 ms frames: what is kept between turns.
constexpr std::size_t frames_before_a_turn = 15;

void keep_uncommitted(self_pointer self, std::string frame) {
  auto& state = self->state;
  const std::size_t bound =
      state.caller_speaking ? state.env->max_buffered_caller_frames : frames_before_a_turn;
  state.uncommitted_audio.push_back(std::move(frame));
  while (state.uncommitted_audio.size() > bound)
    state.uncommitted_audio.pop_front();
}

/// The caller's turn in progress went to a lost session: the next one hears it from its start,
/// before what was held meanwhile.
void resend_uncommitted_turn(self_pointer self) {
  auto& state = self->state;
  if (state.caller_speaking) {
    for (auto frame = state.uncommitted_audio.rbegin(); frame != state.uncommitted_audio.rend();
         ++frame) {
      if (state.held_audio.size() >= state.env->max_buffered_caller_frames)
        break;
      state.held_audio.push_front(std::move(*frame));
    }
  }
  state.uncommitted_audio.clear();
}

/// The link is gone with whatever response it was giving: an agent line cut off there stands
/// as the caller heard it, and the next session is asked to go on (or asked again what it had
/// not started) rather than to start over.
void on_response_lost(self_pointer self) {
  auto& state = self->state;
  std::string heard;
  if (!state.open_agent_item.empty()) {
    const auto item_id = std::exchange(state.open_agent_item, {});
    if (auto split = state.talk.agent_heard(item_id))
      heard = split->heard;
    send_agent_line(self, item_id);
  }
  auto lost = state.turns.link_lost();
  if (!lost) {
    // The caller's last turn was committed and transcribed, and no answer had started: the
    // next session answers it (the turn is in the replay).
    const auto& items = state.talk.items();
    if (!items.empty() && items.back().what == conversation::kind::caller_turn &&
        !items.back().text.empty() && state.turns.wanted() == 0) {
      state.turns.want_first({});
    }
    return;
  }
  const std::string tag = lost->request ? lost->request->tag : std::string();
  if (lost->interrupted) {
    // The caller had cut it: nothing to go on with; whoever waits for it hears it ended.
    self->send(state.peers->supervisor, response_finished{lost->response_id, "lost", {}, tag, 0});
    return;
  }
  if (lost->spoke && !heard.empty()) {
    state.turns.want_first({continuation_instructions(*lost, heard), tag, {}});
    return;
  }
  if (lost->request) {
    state.turns.want_first(std::move(*lost->request));  // never heard: asked again
    return;
  }
  // The model's own answer to the caller's last turn, lost before a word: the next session
  // answers it (the turn is in the replay).
  state.turns.want_first({});
}

std::string say_instructions(std::string_view text) {
  std::string instructions =
      "Say exactly the following to the caller, word for word, then stop: \"";
  instructions += text;
  instructions += '"';
  return instructions;
}

void on_function_call(self_pointer self, const net::realtime_output_item_done& call) {
  auto& state = self->state;
  metrics::log_call(spdlog::level::info, state.ids, "model called {}({})", call.name,
                    call.arguments);
  state.talk.function_called(call.call_id, call.name, call.arguments);
  if (call.name == config::end_call_tool_name || call.name == config::transfer_call_tool_name) {
    self->send(state.peers->supervisor, agent_tool_call{call.call_id, call.name, call.arguments});
    return;
  }
  const auto session = caf::actor_cast<openai_session_actor>(self);
  if (state.env->actions &&
      state.env->actions->run_tool(session, state.identity, state.metadata_json, call.call_id,
                                   call.name, call.arguments)) {
    return;
  }
  // The name comes from the model: serialised, never pasted into the JSON.
  self->send(session, tool_result{call.call_id,
                                  boost::json::serialize(boost::json::object{
                                      {"error", "no tool named " + call.name + " is available"}})});
}

void on_lost(self_pointer self, metrics::model_link_failure failure, const std::string& reason) {
  auto& state = self->state;
  state.ready = false;
  state.link.reset();
  if (state.closing)
    return;
  on_response_lost(self);
  resend_uncommitted_turn(self);
  if (state.standby && state.standby_ready) {
    // The session ended (its lifetime, or a drop) with the next one ready: no reconnect.
    metrics::log_call(spdlog::level::info, state.ids,
                      "model session ended ({}); the next one takes over", reason);
    return switch_to_standby(self);
  }
  state.watch.lost();
  auto& node = *state.env->metrics;
  node.model_link_failures(failure).Increment();
  state.outage = true;
  ++state.attempts;
  if (state.attempts >= state.env->reconnect.max_attempts) {
    node.model_outages(metrics::model_outage_result::gave_up).Increment();
    metrics::log_call(spdlog::level::err, state.ids, "model unavailable after {} attempts: {}",
                      state.attempts, reason);
    self->send(state.peers->supervisor, model_status{model_status::kind::unavailable, reason});
    return;
  }
  const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(state.jitter);
  const auto delay = reconnect_delay(state.env->reconnect, state.attempts, unit);
  metrics::log_call(
      spdlog::level::warn, state.ids, "model connection {} ({}): {}; retrying in {} ms",
      state.ever_ready ? "lost" : "failed", metrics::to_string(failure), reason, delay.count());
  self->send(state.peers->supervisor, model_status{model_status::kind::reconnecting, reason});
  self->delayed_send(self, delay, connect_atom::value);
}

/// The watchdog gave up on a link that is still open: close it, and ignore whatever it still
/// sends (a new link id), then handle it like any lost link.
void abandon_link(self_pointer self, metrics::model_link_failure failure,
                  const std::string& reason) {
  auto& state = self->state;
  if (state.link)
    state.link->close();
  state.link_id = ++state.last_link_id;  // its last words are ignored
  on_lost(self, failure, reason);
}

void on_watch_check(self_pointer self, const model_watch_check& check) {
  auto& state = self->state;
  if (check.generation != state.watch_generation)
    return;
  state.watch_check_at.reset();
  if (state.closing)
    return;
  const auto& settings = state.watch.settings();
  switch (state.watch.check(self->clock().now())) {
    case model_watch_due::nothing:
      break;
    case model_watch_due::probe:
      metrics::log_call(spdlog::level::debug, state.ids,
                        "model quiet while the caller talks: asking for a sign of life");
      state.outbound.assign(model_probe_event);
      send_to_model(self);
      break;
    case model_watch_due::ready_timeout:
      abandon_link(self, metrics::model_link_failure::ready_timeout,
                   "no answer to the session configuration within " +
                       std::to_string(settings.ready_timeout.count()) + " ms");
      break;
    case model_watch_due::silent:
      abandon_link(self, metrics::model_link_failure::silent,
                   "nothing from the model for " +
                       std::to_string(settings.silence_timeout.count()) +
                       " ms while the caller talked");
      break;
  }
  schedule_watch(self);
}

token_usage to_usage(const std::optional<net::realtime_usage>& usage) {
  if (!usage)
    return {};
  return {usage->input_tokens, usage->output_tokens, usage->input_audio_tokens,
          usage->output_audio_tokens, usage->input_cached_tokens};
}

void on_server_event(self_pointer self, std::string_view text, std::int64_t received_ns) {
  auto& state = self->state;
  auto& node = *state.env->metrics;
  auto parsed = net::parse_realtime_event(text);
  if (!parsed) {
    node.malformed_model_events().Increment();
    metrics::log_call(spdlog::level::warn, state.ids, "malformed model event dropped: {}",
                      parsed.error().detail);
    return;
  }
  const auto& supervisor = state.peers->supervisor;
  std::visit(
      [&](auto& event) {
        using type = std::decay_t<decltype(event)>;
        if constexpr (std::is_same_v<type, net::realtime_session_updated>) {
          // The answer to our session.update (or to a probe, once ready).
          if (state.watch.phase() == model_link_phase::configuring) {
            state.watch.configured(self->clock().now());
            on_configured(self);
          }
        } else if constexpr (std::is_same_v<type, net::realtime_speech_started>) {
          state.talk.caller_started(event.item_id);
          state.caller_speaking = true;
          if (state.turns.interrupt()) {
            // Barge-in: with interrupt_response the server cancels too, and may be first.
            state.outbound.clear();
            net::append_realtime_response_cancel(state.outbound);
            send_to_model(self);
          }
          if (!state.closing)
            cut_the_playout(self, received_ns);
          self->send(supervisor,
                     caller_speech_started{event.item_id, event.audio_start_ms, received_ns});
        } else if constexpr (std::is_same_v<type, net::realtime_speech_stopped>) {
          state.speech_stopped_ns = received_ns;
          state.caller_speaking = false;
          // The turn is the model's now (committed next): keep only the padding.
          while (state.uncommitted_audio.size() > frames_before_a_turn)
            state.uncommitted_audio.pop_front();
          switch_if_between_turns(self);
        } else if constexpr (std::is_same_v<type, net::realtime_response_created>) {
          if (const auto* request = state.turns.created(event.response_id);
              request && !request->say_text.empty()) {
            state.talk.say_requested(request->say_text);
          }
          self->send(supervisor, response_started{event.response_id});
        } else if constexpr (std::is_same_v<type, net::realtime_audio_delta>) {
          // All the audio generated counts, heard or not: the transcript covers all of it.
          state.talk.agent_audio(event.item_id, decoded_size(event.delta_base64) / 8);
          if (!state.turns.audio(event.response_id))
            return;  // the caller interrupted it: must not reach them
          if (state.agent_items_here.insert(event.item_id).second)
            self->send(supervisor, agent_item_started{event.item_id});
          state.open_agent_item = event.item_id;
          if (state.speech_stopped_ns) {
            node.first_audio_latency().Observe(
                metrics::seconds_between(*state.speech_stopped_ns, received_ns));
            state.speech_stopped_ns.reset();
          }
          // Straight to the playout: the clock alone keeps what is sent and not yet heard.
          self->send(state.peers->clock,
                     agent_audio{std::move(event.response_id), std::move(event.item_id),
                                 std::move(event.delta_base64), received_ns});
        } else if constexpr (std::is_same_v<type, net::realtime_transcript_delta>) {
          state.talk.agent_text_delta(event.item_id, event.delta);
        } else if constexpr (std::is_same_v<type, net::realtime_transcript_done>) {
          state.talk.agent_said(event.item_id, event.transcript);
          if (state.open_agent_item == event.item_id)
            state.open_agent_item.clear();
          send_agent_line(self, event.item_id);
        } else if constexpr (std::is_same_v<type, net::realtime_input_transcript>) {
          state.talk.caller_said(event.item_id, event.transcript);
          self->send(supervisor,
                     transcript_entry{"caller", event.item_id, event.transcript, 0, {}});
        } else if constexpr (std::is_same_v<type, net::realtime_response_done>) {
          if (!state.open_agent_item.empty()) {
            // No transcript.done for its item (cancelled early): the line from its deltas.
            send_agent_line(self, std::exchange(state.open_agent_item, {}));
          }
          const auto finished = state.turns.done(event.response_id);
          self->send(supervisor,
                     response_finished{event.response_id, event.status, to_usage(event.usage),
                                       finished.tag, finished.late_deltas_dropped});
          switch_if_between_turns(self);  // before the next response is asked of the old one
          request_wanted_response(self);
        } else if constexpr (std::is_same_v<type, net::realtime_output_item_done>) {
          if (event.item_type == "function_call")
            on_function_call(self, event);
        } else if constexpr (std::is_same_v<type, net::realtime_other_event>) {
          if (event.type == "conversation.item.truncated")
            node.truncations_confirmed().Increment();
        } else if constexpr (std::is_same_v<type, net::realtime_error>) {
          const auto code = event.code.value_or("other");
          node.model_errors(code).Increment();
          if (code == "conversation_already_has_active_response") {
            // Our response.create crossed one the server started itself (turn detection): ours
            // is asked again when that one is done.
            state.turns.refused_as_duplicate();
          }
          if (code == "response_cancel_not_active") {
            // Expected race: with interrupt_response the server cancels its own response on
            // speech_started, sometimes before our response.cancel arrives.
            metrics::log_call(spdlog::level::debug, state.ids,
                              "response already cancelled by the model");
            return;
          }
          metrics::log_call(spdlog::level::warn, state.ids, "model error {}: {}", code,
                            event.message);
          self->send(supervisor, model_status{model_status::kind::error_event, code});
        }
      },
      *parsed);
}

}  // namespace

std::chrono::milliseconds reconnect_delay(const reconnect_policy& policy, unsigned attempt,
                                          double unit_random) {
  const double base = static_cast<double>(policy.first_delay.count()) *
                      std::pow(2.0, static_cast<double>(attempt > 0 ? attempt - 1 : 0));
  const double capped = std::min(base, static_cast<double>(policy.max_delay.count()));
  const double jittered = capped * (1.0 + policy.jitter * (2.0 * unit_random - 1.0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(0.0, jittered)));
}

openai_session_actor::behavior_type openai_session(self_pointer self, bridge_environment_ptr env) {
  self->state.env = std::move(env);
  self->state.session = self->state.env->session;
  self->state.watch = model_link_watch(self->state.env->model_watch);
  self->state.outbound.reserve(512);
  const auto& m = count_actor(self, self->state.env->metrics, metrics::actor_kind::openai_session);
  return {
      instrumented(self, m, [=](call_peers& peers) { self->state.peers = std::move(peers); }),
      instrumented(self, m,
                   [=](call_started& started) {
                     auto& state = self->state;
                     state.ids = {started.identity.call_sid, started.identity.stream_sid};
                     state.identity = started.identity;
                     if (!started.identity.dial_id.empty()) {
                       // An outbound call: POST /calls may have asked for its own prompt/voice,
                       // carried by its TwiML (with `start`) or left on this node by the dial.
                       auto changes = state.env->dials->take(started.identity.dial_id);
                       if (!started.overrides.empty()) {
                         auto& carried = started.overrides;
                         changes = dial_overrides::overrides{};
                         if (!carried.instructions.empty())
                           changes->instructions = std::move(carried.instructions);
                         if (!carried.voice.empty())
                           changes->voice = std::move(carried.voice);
                         changes->metadata_json = std::move(carried.metadata_json);
                       }
                       if (changes) {
                         if (changes->instructions)
                           state.session.instructions = *changes->instructions;
                         if (changes->voice)
                           state.session.voice = *changes->voice;
                         state.metadata_json = std::move(changes->metadata_json);
                       }
                     }
                     if (!self->state.link && !self->state.ready)
                       start_connecting(self);
                   }),
      instrumented(
          self, m,
          [=](session_handover& handed) {
            // A call handed over from a draining node: the session it had, and the
            // conversation so far, replayed into the first model session like after a
            // reconnect. It was greeted on the first node.
            auto& state = self->state;
            if (state.ever_ready)
              return;
            if (!handed.instructions.empty())
              state.session.instructions = std::move(handed.instructions);
            if (!handed.voice.empty())
              state.session.voice = std::move(handed.voice);
            state.metadata_json = std::move(handed.metadata_json);
            state.talk =
                restored_conversation(handed.conversation, handed.conversation_items_dropped);
            state.greeted = true;
            // After a dropped line the agent speaks first, to say so.
            if (!handed.first_response_instructions.empty()) {
              state.turns.want_first({std::move(handed.first_response_instructions), {}, {}});
            }
          }),
      instrumented(self, m,
                   [=](handover_atom) {
                     const auto& state = self->state;
                     return session_handover{state.session.instructions, state.session.voice,
                                             state.metadata_json, conversation_entries(state.talk),
                                             state.talk.items_dropped()};
                   }),
      instrumented(self, m,
                   [=](connect_atom) {
                     if (!self->state.link && !self->state.ready)
                       start_connecting(self);
                   }),
      instrumented(self, m,
                   [=](realtime_link_event& event) {
                     auto& state = self->state;
                     if (state.standby && event.link_id == state.standby_id)
                       return on_standby_event(self, event);
                     if (event.link_id != state.link_id)
                       return;  // an old connection's last words
                     switch (event.what) {
                       case realtime_link_event::kind::opened:
                         on_opened(self);
                         break;
                       case realtime_link_event::kind::closed:
                         on_lost(self, metrics::model_link_failure::closed, event.reason);
                         break;
                       case realtime_link_event::kind::connect_failed:
                         // Refused: an HTTP answer instead of the upgrade (429 quota, 401 key).
                         on_lost(self,
                                 event.http_status != 0 ? metrics::model_link_failure::refused
                                                        : metrics::model_link_failure::unreachable,
                                 event.reason);
                         break;
                     }
                   }),
      instrumented(self, m,
                   [=](realtime_frame& frame) {
                     if (self->state.standby && frame.link_id == self->state.standby_id)
                       return on_standby_frame(self, frame.text);
                     if (frame.link_id != self->state.link_id)
                       return;
                     // Any frame is a sign of life, even one we cannot read.
                     self->state.watch.model_event(self->clock().now());
                     on_server_event(self, frame.text, frame.received_ns);
                   }),
      instrumented(self, m, [=](model_watch_check& check) { on_watch_check(self, check); }),
      instrumented(self, m, [=](model_session_renewal& renewal) { on_renewal(self, renewal); }),
      instrumented(self, m,
                   [=](caller_audio& audio) {
                     auto& state = self->state;
                     if (state.closing)
                       return;
                     if (!state.ready) {
                       if (state.held_audio.size() >= state.env->max_buffered_caller_frames) {
                         state.held_audio.pop_front();
                         ++state.dropped_audio_frames;
                       }
                       // Held frames are not timed: they waited for the session, not for the
                       // bridge.
                       state.held_audio.push_back(std::move(audio.payload_base64));
                       return;
                     }
                     state.outbound.clear();
                     net::append_realtime_audio_append(state.outbound, audio.payload_base64);
                     send_to_model(self);
                     keep_uncommitted(self, std::move(audio.payload_base64));
                     state.watch.caller_audio(self->clock().now());
                     schedule_watch(self);
                     if (audio.received_ns != 0) {
                       state.env->metrics->latency_to_model().Observe(
                           metrics::seconds_between(audio.received_ns, metrics::steady_now_ns()));
                     }
                   }),
      instrumented(self, m,
                   [=](say_request& say) {
                     auto& state = self->state;
                     if (state.closing)
                       return;
                     state.turns.want({say_instructions(say.text), say.tag, say.text});
                     request_wanted_response(self);
                   }),
      instrumented(self, m,
                   [=](caller_keypad_entry& entry) {
                     if (self->state.closing)
                       return;
                     self->state.talk.keypad_entry(entry.digits);
                     std::string item;
                     net::append_realtime_user_text(item, conversation::keypad_text(entry.digits));
                     add_item_and_respond(self, std::move(item));
                   }),
      instrumented(self, m,
                   [=](tool_result& result) {
                     if (self->state.closing)
                       return;
                     self->state.talk.function_answered(result.call_id, result.output_json);
                     std::string item;
                     net::append_realtime_function_output(item, result.call_id, result.output_json);
                     add_item_and_respond(self, std::move(item));
                   }),
      instrumented(self, m,
                   [=](close_atom) {
                     auto& state = self->state;
                     state.closing = true;
                     state.ready = false;
                     drop_standby(self);
                     if (state.link)
                       state.link->close();
                     state.link.reset();
                     self->quit();
                   }),
  };
}

}  // namespace switchboard::actors
