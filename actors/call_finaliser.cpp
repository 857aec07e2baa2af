#include "actors/call_finaliser.hpp"

#include "actors/call_files.hpp"
#include "actors/call_recovery.hpp"
#include "actors/call_supervisor.hpp"
#include "actors/upload_plan.hpp"
#include "audio/mixer.hpp"
#include "audio/whole_file.hpp"
#include "metrics/call_log.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace switchboard::actors {

namespace {

metrics::call_end classify_end(const call_record& record) {
  if (record.stream.refused)
    return metrics::call_end::refused;
  if (record.model_unavailable)
    return metrics::call_end::model_unavailable;
  if (record.end_reason == drained_end_reason)
    return metrics::call_end::drained;
  return record.stream.stopped ? metrics::call_end::completed
                               : metrics::call_end::caller_disconnected;  // no `stop`
}

/// transcript.jsonl and call.json, in that order: written now, or (from the first one the disk
/// refuses) handed to the retrier with everything after it.
class small_files {
 public:
  small_files(call_record& record, const metrics::call_ids& ids,
              const call_finaliser_context& context, deferred_call_files deferred)
      : record_(record), ids_(ids), context_(context), deferred_(std::move(deferred)) {}

  /// Writes `name` now unless an earlier file was deferred; defers it when the disk refuses.
  /// `render` makes the content (call.json is rendered after its own failure is noted). True
  /// when the file is on disk now.
  template <class Render>
  bool write(const std::string& name, Render render) {
    record_.files.push_back(name);  // there now, or before call.json is (it is written last)
    if (!deferring_ && !deferred_.directory.empty()) {
      const std::filesystem::path path = std::filesystem::path(deferred_.directory) / name;
      auto written = audio::write_whole_file(path.string(), render(), audio::if_file_exists::fail);
      if (written)
        return true;
      context_.metrics->call_file_errors().Increment();
      if (written.error().code == audio::wav_errc::already_exists) {
        record_.files.pop_back();
        record_.problems.push_back(written.error().message);
        metrics::log_call(spdlog::level::err, ids_, "{} not written: {}", name,
                          written.error().message);
        return false;
      }
      deferring_ = true;
      record_.problems.push_back(name + " written late: " + written.error().message);
      metrics::log_call(spdlog::level::err, ids_, "{} refused by the disk: {}", name,
                        written.error().message);
    }
    deferring_ = true;
    deferred_.files.emplace_back(name, render());
    return false;
  }

  /// Hands what was deferred to the retrier (or reports it lost when there is none).
  void hand_over(std::string twilio_status) {
    if (!deferring_)
      return;
    deferred_.twilio_status = std::move(twilio_status);
    if (context_.file_retrier) {
      caf::anon_send(context_.file_retrier, std::move(deferred_));
      return;
    }
    metrics::log_call(spdlog::level::err, ids_, "call files lost: no retrier on this node");
    context_.metrics->call_files_deferred(false).Increment();
  }

 private:
  call_record& record_;
  const metrics::call_ids& ids_;
  const call_finaliser_context& context_;
  deferred_call_files deferred_;
  bool deferring_ = false;
};

}  // namespace

call_finaliser_context call_finaliser_context::of(const bridge_environment& env) {
  return {env.record_audio, env.recordings_dir, env.calls,    env.metrics,        env.statuses,
          env.directory,    env.file_retrier,   env.uploader, env.metrics->node()};
}

void finalize_call(call_record record, bool started, std::filesystem::path directory,
                   const call_finaliser_context& context) {
  const metrics::call_ids ids{record.identity.call_sid, record.identity.stream_sid};
  auto& node = *context.metrics;
  for (const auto& recording : record.recordings) {
    if (recording.error.empty() && !recording.path.empty()) {
      metrics::log_call(spdlog::level::info, ids,
                        "{} recording finalised: {} ({} ms, {} ms silence)", recording.track,
                        recording.path, recording.samples / 8, recording.silence_samples / 8);
    }
  }
  const bool both_tracks = record.recordings.size() == 2 &&
                           std::all_of(record.recordings.begin(), record.recordings.end(),
                                       [](const auto& r) { return r.error.empty(); });
  const auto date = utc_date(record.started_at);
  const auto part = part_number(record);
  if (started && directory.empty()) {
    // The disk was full when the call began: its directory may be made now.
    std::string error;
    directory =
        make_call_directory(context.recordings_root, date, record.identity.call_sid, error, part);
    if (directory.empty()) {
      record.problems.push_back("files written late: " + error);
      metrics::log_call(spdlog::level::warn, ids, "call directory still not made: {}", error);
    }
  }
  if (started) {
    if (!directory.empty() && context.record_audio) {
      // A track that could not even be created is not listed; one cut short by a full disk is.
      for (const char* track : {"caller.wav", "agent.wav"}) {
        std::error_code ec;
        if (std::filesystem::exists(directory / track, ec))
          record.files.emplace_back(track);
      }
    }
    if (!directory.empty() && context.record_audio && both_tracks) {
      auto mixed = audio::mix_tracks((directory / "caller.wav").string(),
                                     (directory / "agent.wav").string(), directory.string());
      if (mixed) {
        record.files.emplace_back("stereo.wav");
        record.files.emplace_back("mono.wav");
      } else {
        record.problems.push_back("mix: " + mixed.error().message);
        metrics::log_call(spdlog::level::err, ids, "mix failed: {}", mixed.error().message);
        node.call_file_errors().Increment();
      }
    }
    if (!directory.empty() && context.uploader) {
      // Before call.json: whatever happens from here on, the next start finds the call marked.
      if (auto error = write_upload_marker(directory, upload_marker{context.node_name, ""});
          !error.empty()) {
        metrics::log_call(spdlog::level::warn, ids,
                          "upload marker not written (a crash now would leave the call local): {}",
                          error);
      }
    }
    // Written once, whole, when the call ends (not appended line by line): a full disk leaves
    // no transcript rather than a torn last line.
    small_files files(record, ids, context,
                      deferred_call_files{record.identity.call_sid,
                                          record.identity.stream_sid,
                                          directory.string(),
                                          context.recordings_root.string(),
                                          date,
                                          {},
                                          {},
                                          part});
    files.write("transcript.jsonl", [&] { return transcript_jsonl(record.transcript); });
    const auto twilio_status = context.statuses->status_of(record.identity.call_sid);
    if (twilio_status)
      record.twilio_status = std::string(to_string(*twilio_status));
    const bool call_json_now = files.write("call.json", [&] { return call_json(record); });
    files.hand_over(record.twilio_status.value_or(""));
    if (call_json_now) {
      remove_call_marker(directory);  // finished on disk: nothing for a recovery to do
      if (auto rewrite = context.statuses->call_json_written(
              record.identity.call_sid, directory / "call.json", twilio_status);
          !rewrite.empty()) {
        // Twilio's status moved on meanwhile (its `completed` follows the stream's end).
        record.problems.push_back(rewrite);
      }
      if (context.uploader)
        caf::anon_send(context.uploader, upload_call{record.identity.call_sid, directory.string()});
    }
  }
  call_outcome outcome;
  outcome.call_sid = record.identity.call_sid;
  outcome.stream_sid = record.identity.stream_sid;
  outcome.end_reason = record.end_reason;
  outcome.refused = record.stream.refused;
  outcome.started = started;
  outcome.directory = directory;
  outcome.duration_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(record.ended_at - record.started_at)
          .count());
  outcome.barge_ins = record.barge_ins;
  outcome.truncations = record.truncations;
  outcome.frames_in = record.stream.frames_in;
  outcome.frames_out = record.stream.frames_out;
  outcome.malformed_frames = record.stream.malformed_frames;
  outcome.model_reconnects = record.model_reconnects;
  outcome.problems = record.problems;
  const auto end = classify_end(record);
  metrics::log_call(spdlog::level::info, ids,
                    "call ended ({}, {}): {} ms, {} frames in, {} out, {} barge-ins, {} malformed, "
                    "{} model reconnects, usage {} in / {} out tokens{}{}",
                    metrics::to_string(end), outcome.end_reason, outcome.duration_ms,
                    outcome.frames_in, outcome.frames_out, outcome.barge_ins,
                    outcome.malformed_frames, outcome.model_reconnects, record.usage.input_tokens,
                    record.usage.output_tokens, directory.empty() ? "" : ", recordings in ",
                    directory.string());
  node.calls_ended(end).Increment();
  node.call_duration().Observe(static_cast<double>(outcome.duration_ms) / 1000.0);
  // Only a started call is in the live view: a refused stream may name another call's CallSid.
  if (started)
    context.directory->ended(record.identity.call_sid, record.end_reason, directory, record.files,
                             record.ended_at, part);
  context.calls->call_finished(std::move(outcome));
}

void spawn_call_finaliser(caf::actor_system& system, call_record record, bool started,
                          std::filesystem::path directory, call_finaliser_context context) {
  // The directory goes as a spawn argument rather than a capture: CAF 0.17 binds a reference to a
  // null shared_ptr<tuple<>> when a function actor is spawned without arguments (UBSan reports
  // it).
  system.spawn<caf::detached>(
      [record = std::move(record), started, context = std::move(context)](
          caf::event_based_actor*, std::filesystem::path call_directory) mutable {
        finalize_call(std::move(record), started, std::move(call_directory), context);
      },
      std::move(directory));
}

}  // namespace switchboard::actors
