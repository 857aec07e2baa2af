#include "actors/silence_clock.hpp"

#include "actors/instrumented.hpp"
#include "net/base64.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace switchboard::actors {

namespace {

using self_pointer = silence_clock_actor::stateful_pointer<silence_clock_state>;
constexpr auto tick_period = std::chrono::milliseconds(20);
// The clock wakes every fifth slot (100 ms) and plays the slots due since; every event (agent
// audio, a mark echo, a cut, the stop) first plays the slots due before it, so each 20 ms slot
// still holds what the caller heard in it. Heard audio reaches the recorder once per wake-up:
// five times fewer timer wake-ups and recorder messages than one per slot.
constexpr std::uint64_t ticks_per_wakeup = 5;
constexpr std::size_t max_marks_in_flight = 1024;
constexpr auto drain_report_interval = std::chrono::milliseconds(250);

void schedule_next_tick(self_pointer self) {
  auto& state = self->state;
  const auto next = (state.totals.ticks / ticks_per_wakeup + 1) * ticks_per_wakeup;
  const auto deadline = state.started_at + tick_period * static_cast<std::int64_t>(next);
  const auto now = self->clock().now();
  const caf::actor_clock::duration_type delay =
      deadline > now ? caf::actor_clock::duration_type(deadline - now)
                     : caf::actor_clock::duration_type{0};
  self->delayed_send(self, delay, caf::tick_atom::value);
}

/// Everything sent to Twilio has played and Twilio confirmed it (every mark echoed).
bool drained(const silence_clock_state& state) {
  return !state.timeline.has_unplayed() && state.marks_in_flight.empty();
}

/// Answers drained_atom's askers.
void answer_drain_waiters(self_pointer self) {
  for (auto& waiter : std::exchange(self->state.drain_waiters, {}))
    waiter.deliver(playout_drained{});
}

/// Tells the supervisor once everything sent has played and Twilio confirmed it: a goodbye has
/// been heard, the agent has stopped speaking.
void report_if_drained(self_pointer self) {
  auto& state = self->state;
  if (!drained(state))
    return;
  answer_drain_waiters(self);
  if (!state.audio_since_drained)
    return;
  // At most a few reports a second: a steady talker drains between every chunk. A report held
  // back goes out on a later tick, if the playout is still drained then.
  const auto now = self->clock().now();
  if (now - state.last_drain_report < drain_report_interval)
    return;
  state.last_drain_report = now;
  state.audio_since_drained = false;
  self->send(state.peers->supervisor, playout_drained{});
}

/// Plays the 20 ms slots due by now into the heard audio waiting for the recorder.
void play_due_slots(self_pointer self) {
  auto& state = self->state;
  if (!state.ticking)
    return;
  const auto elapsed = self->clock().now() - state.started_at;
  const auto due = static_cast<std::uint64_t>(elapsed / tick_period);
  std::uint64_t to_play = due > state.totals.ticks ? due - state.totals.ticks : 0;
  if (to_play > max_catch_up_ticks) {
    // The process stalled for over a second: resynchronise; the gap stays silent in the
    // recording because finalisation pads to the call's length.
    state.totals.ticks += to_play - max_catch_up_ticks;
    to_play = max_catch_up_ticks;
  }
  auto& heard = state.heard_pending;
  for (std::uint64_t i = 0; i < to_play; ++i) {
    const auto start = heard.size();
    heard.resize(start + bytes_per_tick);
    std::span<std::uint8_t> slot(heard.data() + start, bytes_per_tick);
    const auto agent_bytes = state.timeline.play_tick(slot);
    state.totals.agent_bytes_played += agent_bytes;
    if (agent_bytes == 0) {
      ++state.totals.silence_ticks;
      state.env->metrics->silence_frames().Increment();
    }
    ++state.totals.ticks;
  }
}

/// Hands the heard audio played so far to the agent recorder.
void flush_heard(self_pointer self) {
  auto& state = self->state;
  if (state.heard_pending.empty())
    return;
  heard_audio heard;
  heard.mulaw.swap(state.heard_pending);
  state.heard_pending.reserve(ticks_per_wakeup * bytes_per_tick);
  self->send(state.peers->agent_recorder, std::move(heard));
}

void on_tick(self_pointer self) {
  auto& state = self->state;
  if (!state.ticking)
    return;
  play_due_slots(self);
  flush_heard(self);
  report_if_drained(self);
  schedule_next_tick(self);
}

}  // namespace

silence_clock_actor::behavior_type silence_clock(self_pointer self, bridge_environment_ptr env) {
  self->state.env = std::move(env);
  const auto& m = count_actor(self, self->state.env->metrics, metrics::actor_kind::silence_clock);
  return {
      instrumented(self, m, [=](call_peers& peers) { self->state.peers = std::move(peers); }),
      instrumented(self, m,
                   [=](call_started& started) {
                     auto& state = self->state;
                     state.ids = {started.identity.call_sid, started.identity.stream_sid};
                     if (state.ticking)
                       return;
                     state.ticking = true;
                     state.started_at = self->clock().now();
                     schedule_next_tick(self);
                   }),
      instrumented(
          self, m,
          [=](agent_audio& audio) {
            auto& state = self->state;
            play_due_slots(self);  // the audio starts after the slots already due
            state.decoded.clear();
            if (auto decoded = net::append_decoded_base64(audio.payload_base64, state.decoded);
                !decoded) {
              state.env->metrics->malformed_model_events().Increment();
              metrics::log_call(spdlog::level::warn, state.ids, "agent audio dropped: {}",
                                decoded.error().detail);
              return;
            }
            state.audio_since_drained = true;
            auto mark = state.timeline.enqueue(audio.item_id, state.decoded);
            // Bounded: a peer that never echoes marks must not grow it for the whole call.
            if (state.marks_in_flight.size() >= max_marks_in_flight)
              state.marks_in_flight.pop_front();
            state.marks_in_flight.emplace_back(mark, metrics::steady_now_ns());
            self->send(state.peers->twilio, play_to_caller{std::move(audio.payload_base64),
                                                           std::move(mark), audio.received_ns});
          }),
      instrumented(self, m,
                   [=](mark_echoed& echo) {
                     auto& state = self->state;
                     play_due_slots(self);
                     if (state.timeline.on_mark(echo.name) == mark_echo::cleared)
                       ++state.totals.marks_cleared;
                     // Twilio echoes marks in the order they were sent: older ones still listed
                     // were cleared by a barge-in and are forgotten with this one.
                     const auto sent =
                         std::find_if(state.marks_in_flight.begin(), state.marks_in_flight.end(),
                                      [&](const auto& mark) { return mark.first == echo.name; });
                     if (sent != state.marks_in_flight.end()) {
                       state.env->metrics->mark_echo_delay().Observe(
                           metrics::seconds_between(sent->second, metrics::steady_now_ns()));
                       state.marks_in_flight.erase(state.marks_in_flight.begin(), sent + 1);
                     }
                     report_if_drained(self);
                   }),
      instrumented(self, m,
                   [=](cut_atom) -> playout_cut_result {
                     auto& state = self->state;
                     play_due_slots(self);
                     // Twilio first: every 20 ms of delay here is 20 ms more of the agent talking
                     // over the caller.
                     if (state.timeline.has_unplayed())
                       self->send(state.peers->twilio, clear_atom::value);
                     // Cleared marks are echoed at once; they say nothing about playout lag.
                     state.marks_in_flight.clear();
                     const auto cut = state.timeline.cut();
                     return {cut.had_unplayed, cut.item_id, cut.heard_ms, cut.sent_ms};
                   }),
      instrumented(self, m,
                   [=](drained_atom) -> caf::result<playout_drained> {
                     auto& state = self->state;
                     play_due_slots(self);
                     if (drained(state))
                       return playout_drained{};
                     // Answered by a later tick or mark echo (report_if_drained), or the stop.
                     auto waiter = self->make_response_promise<playout_drained>();
                     state.drain_waiters.push_back(waiter);
                     return waiter;
                   }),
      instrumented(self, m, [=](caf::tick_atom) { on_tick(self); }),
      instrumented(self, m,
                   [=](stop_atom) -> playout_totals {
                     play_due_slots(self);
                     flush_heard(self);           // before the reply: the recorder then finalises
                     answer_drain_waiters(self);  // nothing more will play
                     self->state.ticking = false;
                     self->quit();
                     return self->state.totals;
                   }),
  };
}

}  // namespace switchboard::actors
