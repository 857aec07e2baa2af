#pragma once
// Whether the call's model link is alive, as a plain state machine on explicit times (no
// clock, no timer, no I/O): the openai_session actor reports what happens and asks what is due
// when the deadline it was given comes.
//
//   connecting ──opened──▶ configuring ──session.updated──▶ ready
//                              │ no session.updated           │ quiet for silence_timeout / 2:
//                              │ within ready_timeout         │   probe (once per quiet stretch)
//                              ▼                              ▼ quiet for silence_timeout
//                             lost ◀──────────────────────────┘
//   (a refused connection, or a link that closes, is lost too; the session reconnects)
//
// "Quiet" is counted from the first caller audio sent after the model's last event: a model
// that is being sent the caller's voice and says nothing at all — no speech_started, no
// response, no answer to a probe — is not listening. A silent caller gets no event from a live
// model either (turn detection hears nothing), so before giving up the session probes: a
// session.update that changes nothing, which a live model answers with session.updated.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace switchboard::actors {

/// The probe: a session.update that changes nothing (GA requires session.type, every other
/// field may be absent and then keeps its value), answered by session.updated. A fixed text:
/// nothing from the wire is copied into it.
inline constexpr std::string_view model_probe_event =
    R"({"type":"session.update","session":{"type":"realtime"}})";

struct model_watch_settings {
  /// From the upgrade to session.updated (the answer to our session.update). The API answers
  /// within a few hundred ms; MODEL_READY_TIMEOUT.
  std::chrono::milliseconds ready_timeout{5000};
  /// Quiet while caller audio flows in before the link counts as lost; the probe goes out at
  /// half of it. MODEL_SILENCE_TIMEOUT; zero: never.
  std::chrono::milliseconds silence_timeout{20000};
};

enum class model_link_phase : std::uint8_t { connecting, configuring, ready, lost };

/// What check() found due.
enum class model_watch_due : std::uint8_t {
  nothing,
  probe,          // send a probe now
  ready_timeout,  // the link is lost: configured too slowly (or never)
  silent,         // the link is lost: quiet too long, the probe unanswered
};

class model_link_watch {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit model_link_watch(model_watch_settings settings = {}) : settings_(settings) {}

  /// A connection attempt starts (first or again).
  void connecting();
  /// The WebSocket upgrade succeeded; our session.update is on its way.
  void opened(time_point now);
  /// The model answered the session.update: the link is ready for the caller's audio.
  void configured(time_point now);
  /// Any event from the model on the current link.
  void model_event(time_point now);
  /// Caller audio was sent to the model.
  void caller_audio(time_point now);
  /// The link failed (closed, refused, or check() said so).
  void lost();

  /// What is due at `now`. A failure moves the watch to lost; a probe is reported once per
  /// quiet stretch.
  model_watch_due check(time_point now);
  /// When check() may next find something due; nullopt: nothing until something is reported.
  std::optional<time_point> next_deadline() const;

  model_link_phase phase() const { return phase_; }
  const model_watch_settings& settings() const { return settings_; }

 private:
  model_watch_settings settings_;
  model_link_phase phase_ = model_link_phase::connecting;
  time_point opened_at_{};
  std::optional<time_point> quiet_since_;  // first caller audio after the model's last event
  bool probe_sent_ = false;
};

}  // namespace switchboard::actors
