#include "actors/recorder.hpp"

#include "actors/instrumented.hpp"
#include "net/base64.hpp"

#include <spdlog/spdlog.h>

namespace switchboard::actors {

namespace {

using self_pointer = recorder_actor::stateful_pointer<recorder_state>;

void report_failure(self_pointer self, const std::string& message) {
  auto& state = self->state;
  if (!state.failure.empty())
    return;
  state.failure = message;
  metrics::log_call(spdlog::level::err, state.ids,
                    "recording of the {} track failed, the call goes on without it: {}",
                    state.track, message);
  state.env->metrics
      ->recording_errors(state.track == "agent" ? metrics::recording_track::agent
                                                : metrics::recording_track::caller)
      .Increment();
  if (state.peers)
    self->send(state.peers->supervisor, recording_problem{state.track, message});
}

/// Counts the audio that reached the file since the last count: the writer buffers, and on a
/// full disk part of what was appended never arrives, so appended bytes would overstate it.
void count_bytes_on_disk(self_pointer self) {
  auto& state = self->state;
  if (!state.writer || state.bytes_written == nullptr)
    return;
  const auto on_disk = state.writer->bytes_on_disk();
  if (on_disk > state.bytes_counted) {
    state.bytes_written->Increment(static_cast<double>(on_disk - state.bytes_counted));
    state.bytes_counted = on_disk;
  }
}

template <class Write>
void write_or_fail(self_pointer self, Write&& write) {
  auto& state = self->state;
  if (!state.writer || !state.failure.empty())
    return;
  auto written = write(*state.writer);
  count_bytes_on_disk(self);
  if (!written)
    report_failure(self, written.error().message);
}

void write_silence(self_pointer self, std::size_t samples) {
  if (samples == 0)
    return;
  write_or_fail(self, [&](audio::wav_writer& writer) { return writer.append_silence(samples); });
  self->state.samples += samples;
  self->state.silence_samples += samples;
}

void write_audio(self_pointer self, std::span<const std::uint8_t> audio) {
  if (audio.empty())
    return;
  write_or_fail(self, [&](audio::wav_writer& writer) { return writer.append(audio); });
  self->state.samples += audio.size();
}

void record_caller(self_pointer self, const caller_audio& frame) {
  auto& state = self->state;
  state.decoded.clear();
  if (!net::append_decoded_base64(frame.payload_base64, state.decoded))
    return;  // counted upstream
  const auto placement = state.aligner.place(frame.timestamp_ms, state.decoded.size());
  write_silence(self, placement.silence_before);
  write_audio(self, std::span(state.decoded).subspan(placement.skip));
}

void record_heard(self_pointer self, const heard_audio& heard) {
  // Count silence ticks for the summary: a tick that is all 0xFF is the agent being quiet.
  write_audio(self, heard.mulaw);
}

}  // namespace

recorder_actor::behavior_type recorder(self_pointer self, bridge_environment_ptr env) {
  self->state.env = std::move(env);
  const auto& m = count_actor(self, self->state.env->metrics, metrics::actor_kind::recorder);
  return {
      instrumented(self, m, [=](call_peers& peers) { self->state.peers = std::move(peers); }),
      instrumented(self, m,
                   [=](recording_target& target) {
                     auto& state = self->state;
                     state.track = target.track;
                     state.path = target.path;
                     state.ids = {target.call_sid, target.stream_sid};
                     state.targeted = true;
                     if (target.discard) {
                       state.discarding = true;
                       state.held_caller.clear();
                       state.held_heard.clear();
                       return;
                     }
                     state.bytes_written = &state.env->metrics->recording_bytes(
                         target.track == "agent" ? metrics::recording_track::agent
                                                 : metrics::recording_track::caller);
                     auto created =
                         audio::wav_writer::create(target.path, audio::wav_format::mulaw_8k_mono());
                     if (!created) {
                       report_failure(self, created.error().message);
                     } else {
                       state.writer.emplace(std::move(*created));
                     }
                     for (const auto& frame : state.held_caller)
                       record_caller(self, frame);
                     for (const auto& heard : state.held_heard)
                       record_heard(self, heard);
                     state.held_caller.clear();
                     state.held_heard.clear();
                   }),
      instrumented(self, m,
                   [=](caller_audio& frame) {
                     auto& state = self->state;
                     if (state.discarding)
                       return;
                     if (!state.targeted) {
                       if (state.held_caller.size() < max_recorder_held_frames) {
                         state.held_caller.push_back(std::move(frame));
                       }
                       return;
                     }
                     record_caller(self, frame);
                   }),
      instrumented(self, m,
                   [=](heard_audio& heard) {
                     auto& state = self->state;
                     if (state.discarding)
                       return;
                     if (!state.targeted) {
                       if (state.held_heard.size() < max_recorder_held_frames) {
                         state.held_heard.push_back(std::move(heard));
                       }
                       return;
                     }
                     record_heard(self, heard);
                   }),
      instrumented(self, m,
                   [=](finalize_atom, std::uint64_t call_samples) -> recording_summary {
                     auto& state = self->state;
                     // Both tracks end at the call's length, so that they stay aligned sample for
                     // sample.
                     if (call_samples > state.samples)
                       write_silence(self, call_samples - state.samples);
                     // What the file holds: after a write error, less than the call's length.
                     std::uint64_t samples_in_file = 0;
                     if (state.writer) {
                       auto closed = state.writer->close();
                       count_bytes_on_disk(self);
                       samples_in_file = state.writer->bytes_on_disk();
                       if (!closed)
                         report_failure(self, closed.error().message);
                       state.writer.reset();
                     }
                     self->quit();
                     return recording_summary{state.track, state.path, samples_in_file,
                                              state.silence_samples, state.failure};
                   }),
  };
}

}  // namespace switchboard::actors
