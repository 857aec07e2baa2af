#include "actors/silence_clock.hpp"

#include "net/base64.hpp"

#include <spdlog/spdlog.h>

namespace switchboard::actors {

namespace {

using self_pointer = silence_clock_actor::stateful_pointer<silence_clock_state>;
constexpr auto tick_period = std::chrono::milliseconds(20);

void schedule_next_tick(self_pointer self) {
  auto& state = self->state;
  const auto deadline =
      state.started_at + tick_period * static_cast<std::int64_t>(state.totals.ticks + 1);
  const auto now = self->clock().now();
  const caf::actor_clock::duration_type delay =
      deadline > now ? caf::actor_clock::duration_type(deadline - now)
                     : caf::actor_clock::duration_type{0};
  self->delayed_send(self, delay, caf::tick_atom::value);
}

void on_tick(self_pointer self) {
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
  if (to_play > 0) {
    heard_audio heard;
    heard.mulaw.resize(static_cast<std::size_t>(to_play) * bytes_per_tick);
    for (std::uint64_t i = 0; i < to_play; ++i) {
      std::span<std::uint8_t> slot(heard.mulaw.data() + i * bytes_per_tick, bytes_per_tick);
      const auto agent_bytes = state.timeline.play_tick(slot);
      state.totals.agent_bytes_played += agent_bytes;
      if (agent_bytes == 0)
        ++state.totals.silence_ticks;
      ++state.totals.ticks;
    }
    self->send(state.peers->agent_recorder, std::move(heard));
  }
  schedule_next_tick(self);
}

}  // namespace

silence_clock_actor::behavior_type silence_clock(self_pointer self) {
  return {
      [=](call_peers& peers) { self->state.peers = std::move(peers); },
      [=](call_started&) {
        auto& state = self->state;
        if (state.ticking)
          return;
        state.ticking = true;
        state.started_at = self->clock().now();
        schedule_next_tick(self);
      },
      [=](agent_audio& audio) {
        auto& state = self->state;
        state.decoded.clear();
        if (auto decoded = net::append_decoded_base64(audio.payload_base64, state.decoded);
            !decoded) {
          spdlog::warn("agent audio dropped: {}", decoded.error().detail);
          return;
        }
        auto mark = state.timeline.enqueue(audio.item_id, state.decoded);
        self->send(state.peers->twilio,
                   play_to_caller{std::move(audio.payload_base64), std::move(mark)});
      },
      [=](mark_echoed& echo) {
        if (self->state.timeline.on_mark(echo.name) == mark_echo::cleared) {
          ++self->state.totals.marks_cleared;
        }
      },
      [=](cut_atom) -> playout_cut_result {
        auto& state = self->state;
        // Twilio first: every 20 ms of delay here is 20 ms more of the agent talking over the
        // caller.
        if (state.timeline.has_unplayed())
          self->send(state.peers->twilio, clear_atom::value);
        const auto cut = state.timeline.cut();
        return {cut.had_unplayed, cut.item_id, cut.heard_ms, cut.sent_ms};
      },
      [=](caf::tick_atom) { on_tick(self); },
      [=](stop_atom) -> playout_totals {
        self->state.ticking = false;
        self->quit();
        return self->state.totals;
      },
  };
}

}  // namespace switchboard::actors
