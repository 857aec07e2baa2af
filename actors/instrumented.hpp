#pragma once
// Per-actor-type metrics without touching the handlers' logic. CAF 0.17's actor_profiler hooks
// are compiled out of Debian's libcaf, so each actor wraps its own handlers:
//
//   return {instrumented(self, m, [=](caller_audio& audio) { ... }), ...};
//
// counts the message and, for a sample of them, times the handler and reads the mailbox's
// depth; `m` comes from count_actor(), which keeps `switchboard_actors_running` and
// `..._failures_total` right.

#include "metrics/bridge_metrics.hpp"

#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

namespace switchboard::actors {

/// Counts a live actor of this type until it ends; an end with an error counts as a failure.
/// Returns the type's metrics for instrumented(). The exit hook holds its own reference to the
/// node's metrics: CAF runs it after the actor's state (and its environment) is gone.
template <class Self>
const metrics::actor_metrics& count_actor(Self* self, std::shared_ptr<metrics::bridge_metrics> node,
                                          metrics::actor_kind kind) {
  const auto& type = node->actor(kind);
  type.running->Increment();
  self->attach_functor([node = std::move(node), kind](const caf::error& reason) {
    const auto& ended = node->actor(kind);
    ended.running->Decrement();
    if (reason && reason != caf::exit_reason::normal && reason != caf::exit_reason::user_shutdown)
      ended.failures->Increment();
  });
  return type;
}

namespace detail {

/// Whether this thread times the message it is about to hand to an actor of `kind`: the
/// first, then one in actor_metrics::sample_one_in, counted per thread and type without a lock.
inline bool sample_this_message(metrics::actor_kind kind) {
  thread_local std::array<std::uint32_t, metrics::actor_kind_count> handled{};
  return handled[static_cast<std::size_t>(kind)]++ % metrics::actor_metrics::sample_one_in == 0;
}

template <class Self, class Handler, class Result, class... Args>
auto wrap_handler(Self* self, const metrics::actor_metrics* metrics, Handler handler,
                  Result (Handler::*)(Args...) const) {
  return [self, metrics, handler = std::move(handler)](Args... args) -> Result {
    metrics->messages->Increment();
    if (!sample_this_message(metrics->kind))
      return handler(std::forward<Args>(args)...);
    // The part of the mailbox already fetched by this actor: what waits behind this message.
    metrics->mailbox_depth->Observe(static_cast<double>(self->mailbox().queue().total_task_size()));
    const auto start = std::chrono::steady_clock::now();
    struct observe_on_exit {
      const metrics::actor_metrics* metrics;
      std::chrono::steady_clock::time_point start;
      ~observe_on_exit() {
        metrics->handler_seconds->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
    } timer{metrics, start};
    return handler(std::forward<Args>(args)...);
  };
}

}  // namespace detail

/// The handler, counted and timed under `metrics`' actor type. The wrapper has the handler's
/// exact signature, so CAF's typed interfaces see no difference.
template <class Self, class Handler>
auto instrumented(Self* self, const metrics::actor_metrics& metrics, Handler handler) {
  return detail::wrap_handler(self, &metrics, std::move(handler), &Handler::operator());
}

}  // namespace switchboard::actors
