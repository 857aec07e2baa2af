#include "actors/twilio_socket.hpp"

#include "actors/instrumented.hpp"
#include "net/twilio_messages.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace switchboard::actors {

namespace {

using self_pointer = twilio_socket_actor::stateful_pointer<twilio_socket_state>;

std::string_view find_parameter(const net::twilio_start& start, std::string_view name) {
  for (const auto& parameter : start.custom_parameters) {
    if (parameter.name == name)
      return parameter.value;
  }
  return {};
}

// The overrides a dial's TwiML may carry (app/outbound_calls.cpp): Twilio takes at most 4000
// characters of inline TwiML, so anything longer is not ours.
constexpr std::size_t max_override_parameter_bytes = 4000;

/// POST /calls' overrides as the stream's parameters carry them.
call_overrides overrides_of(const net::twilio_start& start) {
  return {std::string(find_parameter(start, "instructions")),
          std::string(find_parameter(start, "voice")),
          std::string(find_parameter(start, "metadata"))};
}

/// The length of one caller frame (ms = bytes / 8; base64: 4 chars = 3 bytes).
std::uint64_t frame_duration_ms(const net::twilio_media& media) {
  const auto bytes = media.payload_base64.size() / 4 * 3;
  return bytes / 8;
}

void send_to_twilio(self_pointer self, std::string text) {
  if (auto connection = self->state.connection.lock())
    connection->send_text(std::move(text));
}

void close_socket(self_pointer self, net::close_code code, std::string reason) {
  if (auto connection = self->state.connection.lock())
    connection->close(code, std::move(reason));
}

template <class Message>
constexpr std::string_view event_name() {
  if constexpr (std::is_same_v<Message, net::twilio_media>)
    return "media";
  else if constexpr (std::is_same_v<Message, net::twilio_mark>)
    return "mark";
  else if constexpr (std::is_same_v<Message, net::twilio_dtmf>)
    return "dtmf";
  else
    return "stop";
}

enum class stream_end : std::uint8_t { refused, stopped, lost };

// A claim at another node is one request over a live cluster link (a millisecond or so); this
// bounds a node that does not answer, well inside START_TIMEOUT's default.
constexpr auto token_claim_timeout = std::chrono::seconds(2);
// Frames that wait for the claim's answer: 5 s of 20 ms media, more than the timeout allows.
constexpr std::size_t max_held_frames = 250;

// Caller frames per message to the caller recorder: 100 ms, the silence clock's wake-up for
// the agent track, half the recorder's write batch.
constexpr std::size_t caller_frames_per_recorder_message = 5;

/// Hands the caller frames gathered so far to the caller recorder.
void flush_caller_audio(self_pointer self) {
  auto& state = self->state;
  if (state.for_recorder.frames.empty() || !state.peers)
    return;
  caller_audio_batch batch;
  batch.frames.reserve(caller_frames_per_recorder_message);
  std::swap(batch, state.for_recorder);
  self->send(state.peers->caller_recorder, std::move(batch));
}

/// Reports the end of the stream once, whatever ended it.
void end_stream(self_pointer self, std::string reason, stream_end how) {
  auto& state = self->state;
  if (state.ended)
    return;
  state.ended = true;
  // Before the end: the supervisor finalises the recording once it hears of it.
  flush_caller_audio(self);
  call_stream_ended ended{std::move(reason),
                          how == stream_end::refused || !state.started,
                          how == stream_end::stopped,
                          state.caller_end_ms,
                          state.frames_in,
                          state.frames_out,
                          state.malformed_frames,
                          state.marks_echoed};
  if (state.peers)
    self->send(state.peers->supervisor, std::move(ended));
}

/// A frame that could not be used: counted for the call and the node, the call goes on.
/// Returns whether to log it: the first ten of a call, then the 16th, 32nd, 64th... so that a
/// stream of bad frames cannot flood the log at its frame rate (the count is in call.json and
/// the metric either way).
bool count_malformed(self_pointer self) {
  const auto count = ++self->state.malformed_frames;
  self->state.env->metrics->malformed_twilio_frames().Increment();
  return count <= 10 || (count & (count - 1)) == 0;
}

void refuse_stream(self_pointer self, const std::string& why) {
  // The upgrade's signature is the same for every call; the token is what proves this stream
  // belongs to a call a webhook of ours answered.
  metrics::log_call(spdlog::level::warn, self->state.ids, "stream refused: {}", why);
  close_socket(self, net::close_code::policy_violation, "call token refused");
  end_stream(self, "call token refused: " + why, stream_end::refused);
}

void begin_streaming(self_pointer self, const net::twilio_start& start) {
  auto& state = self->state;
  state.started = true;
  metrics::log_call(spdlog::level::info, state.ids, "Twilio stream started (from {} to {})",
                    find_parameter(start, "From"), find_parameter(start, "To"));
  self->send(state.peers->supervisor,
             call_started{{start.call_sid, start.stream_sid, start.account_sid,
                           std::string(find_parameter(start, "From")),
                           std::string(find_parameter(start, "To")),
                           std::string(find_parameter(start, "dial_id"))},
                          std::string(find_parameter(start, handover_key_parameter)),
                          state.overrides});
}

void on_frame(self_pointer self, twilio_frame& frame);

/// A token another node issued is claimed at that node (its ledger is the one authority); the
/// frames that arrive meanwhile wait and are handled in order once it answers. No answer in
/// time, or no such node in the cluster: refused (README "Security").
void claim_at_issuer(self_pointer self, const net::twilio_start& start, std::string token,
                     std::string issuer, std::chrono::system_clock::time_point expiry,
                     std::string admission_key) {
  auto& state = self->state;
  state.claiming = true;
  const auto expires_at_s =
      std::chrono::duration_cast<std::chrono::seconds>(expiry.time_since_epoch()).count();
  self->request(state.env->token_authority, token_claim_timeout,
                call_token_claim{std::move(token), std::move(issuer), expires_at_s,
                                 std::move(admission_key)})
      .then(
          [self, start](call_token_verdict& verdict) {
            auto& st = self->state;
            st.claiming = false;
            if (st.ended)
              return;
            if (!verdict.granted) {
              st.held_frames.clear();
              // Another node's words, for the log only: bounded.
              return refuse_stream(self, verdict.why.substr(0, 200));
            }
            begin_streaming(self, start);
            auto held = std::move(st.held_frames);
            st.held_frames.clear();
            for (auto& frame : held)
              on_frame(self, frame);
          },
          [self](caf::error& error) {
            auto& st = self->state;
            st.claiming = false;
            st.held_frames.clear();
            if (!st.ended)
              refuse_stream(
                  self, "the issuing node did not answer the token's claim: " + to_string(error));
          });
}

void on_start(self_pointer self, const net::twilio_start& start) {
  auto& state = self->state;
  if (state.started) {
    if (count_malformed(self))
      metrics::log_call(spdlog::level::warn, state.ids, "second `start` ignored");
    return;
  }
  state.ids = {start.call_sid, start.stream_sid};
  if (state.env->call_tokens) {
    const auto token = find_parameter(start, "token");
    // An outbound call's TwiML is written before Twilio names the call: its token is bound to
    // the dial id it carries instead of the CallSid.
    const auto dial_id = find_parameter(start, "dial_id");
    const auto call =
        dial_id.empty() ? std::string(start.call_sid) : "dial:" + std::string(dial_id);
    const auto now = state.env->wall_clock();
    // POST /calls' overrides travel in the TwiML, under the token's MAC (net/call_token.hpp).
    const auto instructions = find_parameter(start, "instructions");
    const auto voice = find_parameter(start, "voice");
    const auto metadata = find_parameter(start, "metadata");
    if (instructions.size() + voice.size() + metadata.size() > max_override_parameter_bytes)
      return refuse_stream(self, "dial overrides longer than any TwiML of ours");
    const auto overrides = dial_id.empty()
                               ? std::string()
                               : net::dial_overrides_fingerprint(instructions, voice, metadata);
    auto why = state.env->call_tokens->check(
        token, {call, find_parameter(start, "From"), find_parameter(start, "To"), overrides}, now);
    if (!why.empty())
      return refuse_stream(self, why);
    if (!overrides.empty()) {
      // Checked: they go to the call's session with call_started.
      state.overrides = overrides_of(start);
    }
    const auto expiry = *net::call_token_issuer::expiry_of(token);
    const auto issuer = net::call_token_issuer::issuer_of(token);
    if (!issuer.empty() && issuer != state.env->call_tokens->issuer()) {
      if (!state.env->token_authority)
        return refuse_stream(self,
                             "call token issued by a cluster node, and this node is in "
                             "no cluster to claim it at");
      return claim_at_issuer(self, start, std::string(token), std::string(issuer), expiry, call);
    }
    if (!state.env->spent_call_tokens->claim(token, expiry, now))
      return refuse_stream(self, "call token already used by another stream");
  }
  begin_streaming(self, start);
}

void on_frame(self_pointer self, twilio_frame& frame) {
  auto& state = self->state;
  if (state.ended)
    return;
  if (state.claiming) {
    if (state.held_frames.size() < max_held_frames)
      state.held_frames.push_back(std::move(frame));
    else
      count_malformed(self);
    return;
  }
  if (!frame.is_text) {
    if (count_malformed(self))
      metrics::log_call(spdlog::level::warn, state.ids, "binary frame from Twilio dropped");
    return;
  }
  auto parsed = net::parse_twilio_message(frame.text);
  if (!parsed) {
    if (count_malformed(self))
      metrics::log_call(spdlog::level::warn, state.ids, "malformed Twilio frame dropped: {}",
                        parsed.error().detail);
    return;
  }
  std::visit(
      [&](auto& message) {
        using type = std::decay_t<decltype(message)>;
        if constexpr (!std::is_same_v<type, net::twilio_start> &&
                      !std::is_same_v<type, net::twilio_connected>) {
          // Every message after `start` names its stream; one naming another stream is not
          // this call's (issue #7: a `stop` for another streamSid ended the call).
          if (state.started && message.stream_sid != state.ids.stream_sid) {
            if (count_malformed(self))
              metrics::log_call(spdlog::level::warn, state.ids, "`{}` for another stream dropped",
                                event_name<type>());
            return;
          }
        }
        if constexpr (std::is_same_v<type, net::twilio_start>) {
          on_start(self, message);
        } else if constexpr (std::is_same_v<type, net::twilio_media>) {
          if (!state.started) {
            count_malformed(self);
            return;
          }
          ++state.frames_in;
          state.env->metrics->media_frames(metrics::frame_direction::inbound).Increment();
          // The stamp is the caller's word; the clock bounds it (caller_timeline.hpp).
          const auto received_ns =
              frame.received_ns != 0 ? frame.received_ns : metrics::steady_now_ns();
          const auto duration_ms = frame_duration_ms(message);
          const auto placed =
              state.caller_clock.place(message.timestamp_ms, duration_ms, received_ns);
          if (placed.clamped) {
            state.env->metrics->caller_timestamp_clamps().Increment();
            if (state.caller_clock.clamps() == 1) {
              metrics::log_call(spdlog::level::warn, state.ids,
                                "caller frame stamped {} ms placed at {} ms: the stream is not "
                                "that old (further clamps of this call are only counted)",
                                message.timestamp_ms, placed.timestamp_ms);
            }
            // A frame longer than the call so far keeps only what fits (whole base64 groups).
            if (placed.duration_ms < duration_ms)
              message.payload_base64.resize(placed.duration_ms * 8 / 3 * 4);
          }
          state.caller_end_ms = state.caller_clock.end_ms();
          caller_audio audio{placed.timestamp_ms, std::move(message.payload_base64),
                             state.peers_remote ? 0 : frame.received_ns};
          state.for_recorder.frames.push_back(audio);
          if (state.for_recorder.frames.size() >= caller_frames_per_recorder_message)
            flush_caller_audio(self);
          self->send(state.peers->model, std::move(audio));
        } else if constexpr (std::is_same_v<type, net::twilio_mark>) {
          ++state.marks_echoed;
          self->send(state.peers->clock, mark_echoed{std::move(message.name)});
        } else if constexpr (std::is_same_v<type, net::twilio_stop>) {
          metrics::log_call(spdlog::level::info, state.ids, "Twilio stream stopped");
          end_stream(self, "twilio stop", stream_end::stopped);
          close_socket(self, net::close_code::normal, "stream stopped");
        } else if constexpr (std::is_same_v<type, net::twilio_dtmf>) {
          static constexpr std::string_view keys = "0123456789*#ABCD";
          if (!state.started || message.digit.size() != 1 ||
              keys.find(message.digit[0]) == std::string_view::npos) {
            count_malformed(self);
            return;
          }
          metrics::log_call(spdlog::level::info, state.ids, "DTMF {}", message.digit);
          self->send(state.peers->supervisor, caller_keypress{message.digit[0]});
        }
        // `connected` carries nothing a bridge needs.
      },
      *parsed);
}

}  // namespace

twilio_socket_actor::behavior_type twilio_socket(
    self_pointer self, bridge_environment_ptr env,
    std::weak_ptr<net::websocket_connection> connection, std::shared_ptr<frame_ingress> ingress) {
  self->state.env = std::move(env);
  self->state.connection = std::move(connection);
  self->state.ingress = std::move(ingress);
  self->state.outbound.reserve(512);
  const auto& m = count_actor(self, self->state.env->metrics, metrics::actor_kind::twilio_socket);
  return {
      instrumented(self, m,
                   [=](call_peers& peers) {
                     auto& state = self->state;
                     // A call hosted by a peer: its supervisor's clock is not this node's.
                     state.peers_remote = peers.supervisor.node() != self->node();
                     state.peers = std::move(peers);
                     // Only now can frames be handled: open the door (held frames arrive first).
                     self->state.ingress->attach(caf::actor_cast<twilio_socket_actor>(self));
                   }),
      instrumented(self, m, [=](twilio_frame& frame) { on_frame(self, frame); }),
      instrumented(self, m,
                   [=](twilio_socket_closed& closed) {
                     metrics::log_call(spdlog::level::info, self->state.ids,
                                       "Twilio socket closed: {}", closed.reason);
                     end_stream(self, "socket closed: " + closed.reason, stream_end::lost);
                   }),
      instrumented(self, m,
                   [=](play_to_caller& audio) {
                     auto& state = self->state;
                     if (!state.started || state.ended)
                       return;
                     ++state.frames_out;
                     const auto& stream_sid = state.ids.stream_sid;
                     state.outbound.clear();
                     net::append_twilio_media(state.outbound, stream_sid, audio.payload_base64);
                     send_to_twilio(self, state.outbound);
                     state.outbound.clear();
                     net::append_twilio_mark(state.outbound, stream_sid, audio.mark_name);
                     send_to_twilio(self, state.outbound);
                     auto& node = *state.env->metrics;
                     node.media_frames(metrics::frame_direction::outbound).Increment();
                     if (audio.received_ns != 0 && !state.peers_remote) {
                       node.latency_to_caller().Observe(
                           metrics::seconds_between(audio.received_ns, metrics::steady_now_ns()));
                     }
                   }),
      instrumented(self, m,
                   [=](clear_atom) {
                     auto& state = self->state;
                     if (!state.started || state.ended)
                       return;
                     state.outbound.clear();
                     net::append_twilio_clear(state.outbound, state.ids.stream_sid);
                     send_to_twilio(self, state.outbound);
                   }),
      instrumented(self, m,
                   [=](hangup_atom) {
                     close_socket(self, net::close_code::normal, "call ended");
                     end_stream(self, "hung up by the bridge", stream_end::stopped);
                   }),
      instrumented(self, m,
                   [=](drain_call& drain) {
                     // This node drains and a peer hosts the call: its supervisor says the
                     // goodbye and hangs up, which closes this socket.
                     if (self->state.peers && !self->state.ended)
                       self->send(self->state.peers->supervisor, std::move(drain));
                   }),
      instrumented(self, m,
                   [=](close_stream& close) {
                     // The supervisor refused the stream: it knows, and needs no report back.
                     // From a peer when the call is hosted there: only codes a close may carry.
                     const auto code = close.code == 1008 || close.code == 1013
                                           ? static_cast<net::close_code>(close.code)
                                           : net::close_code::internal_error;
                     self->state.ended = true;
                     close.reason.resize(std::min<std::size_t>(close.reason.size(), 120));
                     close_socket(self, code, std::move(close.reason));
                   }),
  };
}

twilio_socket_actor spawn_twilio_socket(caf::actor_system& system, bridge_environment_ptr env,
                                        std::weak_ptr<net::websocket_connection> connection,
                                        std::shared_ptr<frame_ingress> ingress) {
  auto actor = system.spawn(twilio_socket, std::move(env), connection, std::move(ingress));
  actor->attach_functor([connection = std::move(connection)](const caf::error& reason) {
    // Ended with its call (the supervisor's user_shutdown): the call closed what it had to.
    if (!reason || reason == caf::exit_reason::normal || reason == caf::exit_reason::user_shutdown)
      return;
    if (auto open = connection.lock()) {
      open->close(net::close_code::internal_error,
                  reason == caf::exit_reason::remote_link_unreachable ? "the call's node was lost"
                                                                      : "bridge error");
    }
  });
  return actor;
}

}  // namespace switchboard::actors
