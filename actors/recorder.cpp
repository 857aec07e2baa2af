#include "actors/recorder.hpp"

#include "actors/instrumented.hpp"
#include "audio/mulaw.hpp"
#include "net/base64.hpp"

#include <caf/send.hpp>
#include <spdlog/spdlog.h>

namespace switchboard::actors {

recorder_state::~recorder_state() {
  if (file && context.files)
    context.files->post([released = std::move(file)]() mutable { released.reset(); });
}

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
  state.context.metrics
      ->recording_errors(state.track == "agent" ? metrics::recording_track::agent
                                                : metrics::recording_track::caller)
      .Increment();
  if (state.peers)
    self->send(state.peers->supervisor, recording_problem{state.track, message});
}

/// Counts the audio that reached the file since the last count, as the file thread reports it:
/// on a full disk part of what was appended never arrives, so appended bytes would overstate it.
void count_bytes_on_disk(self_pointer self, std::uint64_t on_disk) {
  auto& state = self->state;
  if (state.bytes_written == nullptr || on_disk <= state.bytes_counted)
    return;
  state.bytes_written->Increment(static_cast<double>(on_disk - state.bytes_counted));
  state.bytes_counted = on_disk;
}

/// Hands `audio` to the file thread: appended, or appended and the file closed. The job
/// answers with track_write_done and touches nothing of the actor's.
void post_to_file(self_pointer self, std::vector<std::uint8_t> audio, bool close,
                  std::uint64_t pad_samples = 0) {
  auto& state = self->state;
  state.context.files->post([file = state.file, audio = std::move(audio), close, pad_samples,
                             recorder = caf::actor_cast<recorder_actor>(self)] {
    auto report = close ? file->close(audio, pad_samples) : file->write(audio);
    caf::anon_send(recorder,
                   track_write_done{report.bytes_on_disk, std::move(report.error), close});
  });
}

/// Posts the next batch when one is due (enough gathered, none in flight); `now`: whatever has
/// gathered, even nothing (the file is created by its first batch).
void post_due_batch(self_pointer self, bool now = false) {
  auto& state = self->state;
  if (!state.file || state.closing || !state.failure.empty())
    return;
  if (auto batch = state.batches.take_due(now))
    post_to_file(self, std::move(*batch), false);
}

/// Whether audio goes to the file: a target with a file, no failure, not closing.
bool writing(const recorder_state& state) {
  return state.file && state.failure.empty() && !state.closing;
}

void write_silence(self_pointer self, std::size_t samples) {
  if (samples == 0)
    return;
  auto& state = self->state;
  if (writing(state)) {
    state.batches.add_silence(samples, audio::mulaw_silence);
    post_due_batch(self);
  }
  state.samples += samples;
  state.silence_samples += samples;
}

void write_audio(self_pointer self, std::span<const std::uint8_t> audio) {
  if (audio.empty())
    return;
  auto& state = self->state;
  if (writing(state)) {
    state.batches.add(audio);
    post_due_batch(self);
  }
  state.samples += audio.size();
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
  write_audio(self, heard.mulaw);
}

recording_summary summary_of(const recorder_state& state, std::uint64_t samples_in_file) {
  return recording_summary{state.track, state.path, samples_in_file, state.silence_samples,
                           state.failure};
}

void on_write_done(self_pointer self, track_write_done& done) {
  auto& state = self->state;
  count_bytes_on_disk(self, done.bytes_on_disk);
  if (!done.error.empty())
    report_failure(self, done.error);
  if (!done.closed) {
    state.batches.batch_done();
    post_due_batch(self);  // what gathered meanwhile, if it is a batch already
    return;
  }
  // Closed: letting go of it here blocks on nothing (no descriptor is left to close).
  state.file.reset();
  if (state.closing)
    state.closing->deliver(summary_of(state, done.bytes_on_disk));
  self->quit();
}

}  // namespace

recorder_actor::behavior_type recorder(self_pointer self, recorder_context context) {
  self->state.context = std::move(context);
  const auto& m = count_actor(self, self->state.context.metrics, metrics::actor_kind::recorder);
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
                     state.bytes_written = &state.context.metrics->recording_bytes(
                         target.track == "agent" ? metrics::recording_track::agent
                                                 : metrics::recording_track::caller);
                     state.file = std::make_shared<track_file>(target.path);
                     for (const auto& frame : state.held_caller)
                       record_caller(self, frame);
                     for (const auto& heard : state.held_heard)
                       record_heard(self, heard);
                     state.held_caller.clear();
                     state.held_heard.clear();
                     // The file is made now (a path that cannot be created is reported at
                     // once), with whatever was held.
                     post_due_batch(self, /*now=*/true);
                   }),
      instrumented(self, m,
                   [=](caller_audio_batch& batch) {
                     auto& state = self->state;
                     if (state.discarding)
                       return;
                     for (auto& frame : batch.frames) {
                       if (state.targeted)
                         record_caller(self, frame);
                       else if (state.held_caller.size() < max_recorder_held_frames)
                         state.held_caller.push_back(std::move(frame));
                     }
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
      instrumented(self, m, [=](track_write_done& done) { on_write_done(self, done); }),
      instrumented(
          self, m,
          [=](finalize_atom, std::uint64_t call_samples) -> caf::result<recording_summary> {
            auto& state = self->state;
            if (state.closing)
              return caf::make_error(caf::sec::unexpected_message);  // finalize comes once
            // Both tracks end at the call's length, so that they stay aligned sample for sample:
            // the pad is written by the close, in constant memory (it may be most of an hour).
            std::uint64_t pad = 0;
            if (call_samples > state.samples) {
              pad = call_samples - state.samples;
              state.samples += pad;
              state.silence_samples += pad;
            }
            if (!state.file) {
              // Nothing was written (discarded, or no target): nothing to close.
              self->quit();
              return summary_of(state, 0);
            }
            // After a write error the close still makes the header match what reached the file.
            const bool intact = state.failure.empty();
            auto last = intact ? state.batches.take_all() : std::vector<std::uint8_t>{};
            state.closing = self->make_response_promise<recording_summary>();
            post_to_file(self, std::move(last), /*close=*/true, intact ? pad : 0);
            return *state.closing;
          }),
  };
}

}  // namespace switchboard::actors
