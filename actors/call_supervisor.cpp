#include "actors/call_supervisor.hpp"

#include "actors/instrumented.hpp"
#include "actors/openai_session.hpp"
#include "actors/recorder.hpp"
#include "actors/silence_clock.hpp"
#include "actors/twilio_socket.hpp"
#include "audio/mixer.hpp"
#include "metrics/call_log.hpp"

#include <caf/event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

namespace switchboard::actors {

namespace {

using self_pointer = call_supervisor_actor::stateful_pointer<call_supervisor_state>;

std::uint64_t call_elapsed_ms(self_pointer self) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                            self->state.started_steady)
          .count());
}

/// RECORDINGS_DIR/<date>/<CallSid>, or <CallSid>-2, -3, ... if taken: nothing is overwritten.
std::filesystem::path make_call_directory(const std::filesystem::path& root,
                                          const std::string& date, const std::string& call_sid,
                                          std::string& error) {
  std::error_code ec;
  const auto day = root / date;
  std::filesystem::create_directories(day, ec);
  if (ec) {
    error = "cannot create " + day.string() + ": " + ec.message();
    return {};
  }
  // A CallSid comes from the wire: keep only what is safe in a file name.
  std::string safe_sid;
  for (const char c : call_sid) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0)
      safe_sid.push_back(c);
  }
  if (safe_sid.empty())
    safe_sid = "call";
  for (int attempt = 1; attempt < 1000; ++attempt) {
    auto candidate = day / (attempt == 1 ? safe_sid : safe_sid + "-" + std::to_string(attempt));
    if (std::filesystem::create_directory(candidate, ec))
      return candidate;
    if (ec) {
      error = "cannot create " + candidate.string() + ": " + ec.message();
      return {};
    }
  }
  error = "too many directories for call " + call_sid;
  return {};
}

/// Writes a new file (never replacing one); returns an error text or "".
std::string write_new_file(const std::filesystem::path& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0)
    return "cannot create " + path.string() + ": " + std::strerror(errno);
  std::size_t written = 0;
  while (written < content.size()) {
    const auto n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      const std::string error = "cannot write " + path.string() + ": " + std::strerror(errno);
      ::close(fd);
      return error;
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return {};
}

metrics::call_end classify_end(const call_record& record) {
  if (record.stream.refused)
    return metrics::call_end::refused;
  if (record.model_unavailable)
    return metrics::call_end::model_unavailable;
  return record.stream.stopped ? metrics::call_end::completed
                               : metrics::call_end::caller_disconnected;  // no `stop`
}

/// Runs on its own thread (blocking file I/O): mixes, transcript, call.json, outcome.
void finalize_call(call_record record, std::filesystem::path directory, bool audio_recorded,
                   std::shared_ptr<call_registry> calls,
                   std::shared_ptr<metrics::bridge_metrics> node) {
  const metrics::call_ids ids{record.identity.call_sid, record.identity.stream_sid};
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
  if (!directory.empty()) {
    if (audio_recorded)
      record.files = {"caller.wav", "agent.wav"};
    if (audio_recorded && both_tracks) {
      auto mixed = audio::mix_tracks((directory / "caller.wav").string(),
                                     (directory / "agent.wav").string(), directory.string());
      if (mixed) {
        record.files.emplace_back("stereo.wav");
        record.files.emplace_back("mono.wav");
      } else {
        record.problems.push_back("mix: " + mixed.error().message);
      }
    }
    if (auto error =
            write_new_file(directory / "transcript.jsonl", transcript_jsonl(record.transcript));
        error.empty()) {
      record.files.emplace_back("transcript.jsonl");
    } else {
      record.problems.push_back(error);
    }
    record.files.emplace_back("call.json");
    if (auto error = write_new_file(directory / "call.json", call_json(record)); !error.empty()) {
      record.problems.push_back(error);
    }
  }
  call_outcome outcome;
  outcome.call_sid = record.identity.call_sid;
  outcome.stream_sid = record.identity.stream_sid;
  outcome.end_reason = record.end_reason;
  outcome.refused = record.stream.refused;
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
  node->calls_ended(end).Increment();
  node->call_duration().Observe(static_cast<double>(outcome.duration_ms) / 1000.0);
  node->active_calls().Decrement();
  calls->call_finished(std::move(outcome));
}

void finish(self_pointer self) {
  auto& state = self->state;
  state.record.ended_at = state.env->wall_clock();
  // Mixing and file writes block: run them off the actor scheduler.
  self->home_system().spawn<caf::detached>(
      [record = state.record, directory = state.directory, audio = state.env->record_audio,
       calls = state.env->calls, node = state.env->metrics](caf::event_based_actor*) mutable {
        finalize_call(std::move(record), std::move(directory), audio, std::move(calls),
                      std::move(node));
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

void begin_ending(self_pointer self, std::string reason) {
  auto& state = self->state;
  if (state.ending)
    return;
  state.ending = true;
  state.record.end_reason = std::move(reason);
  self->send(state.peers.model, close_atom::value);
  if (!state.started)
    return finish(self);  // refused or never started: nothing recorded
  self->request(state.peers.clock, std::chrono::seconds(5), stop_atom::value)
      .then(
          [=](playout_totals totals) {
            auto& st = self->state;
            st.record.playout = totals;
            // Both tracks end at the call's length (the longer of the caller's last frame and
            // the clock), so they line up sample for sample.
            const std::uint64_t call_samples =
                std::max(st.record.stream.caller_end_ms * 8, totals.ticks * 160);
            st.recordings_pending = 2;
            for (const auto& recorder : {st.peers.caller_recorder, st.peers.agent_recorder}) {
              self->request(recorder, std::chrono::seconds(30), finalize_atom::value, call_samples)
                  .then([=](recording_summary summary) { on_recording_closed(self, summary); },
                        [=](caf::error& error) {
                          on_recording_closed(self,
                                              recording_summary{"", "", 0, 0, to_string(error)});
                        });
            }
          },
          [=](caf::error& error) {
            self->state.record.problems.push_back("silence clock: " + to_string(error));
            finish(self);
          });
}

metrics::call_ids ids_of(const call_supervisor_state& state) {
  return {state.record.identity.call_sid, state.record.identity.stream_sid};
}

void on_speech_started(self_pointer self, const caller_speech_started& speech) {
  auto& state = self->state;
  state.caller_item_start_ms[speech.item_id] = speech.audio_start_ms;
  if (state.ending)
    return;
  const bool response_active = !state.active_response.empty();
  if (response_active && !state.cancel_sent) {
    // Deltas of this response still in flight must not reach the caller.
    state.interrupted_responses.insert(state.active_response);
    state.cancel_sent = true;
    self->send(state.peers.model, cancel_atom::value);
  }
  self->request(state.peers.clock, std::chrono::seconds(5), cut_atom::value)
      .then(
          [=](playout_cut_result cut) {
            auto& st = self->state;
            if (!cut.had_unplayed)
              return;
            ++st.record.barge_ins;
            st.env->metrics->barge_ins().Increment();
            st.env->metrics->barge_in_clear().Observe(
                metrics::seconds_between(speech.received_ns, metrics::steady_now_ns()));
            if (!cut.item_id.empty()) {
              ++st.record.truncations;
              self->send(st.peers.model,
                         truncate_item{cut.item_id, std::min(cut.heard_ms, cut.sent_ms)});
            }
            metrics::log_call(spdlog::level::info, ids_of(st),
                              "barge-in: agent cut at {} ms of {} ({} ms sent)", cut.heard_ms,
                              cut.item_id, cut.sent_ms);
          },
          [=](caf::error&) {});
}

}  // namespace

call_supervisor_actor::behavior_type call_supervisor(
    self_pointer self, bridge_environment_ptr env,
    std::weak_ptr<net::websocket_connection> connection, std::shared_ptr<frame_ingress> ingress) {
  auto& state = self->state;
  state.env = env;
  state.record.started_at = env->wall_clock();
  state.started_steady = std::chrono::steady_clock::now();
  env->calls->call_opened();
  env->metrics->calls_started().Increment();
  env->metrics->active_calls().Increment();
  const auto& m = count_actor(self, env->metrics, metrics::actor_kind::call_supervisor);

  // Linked: a crash of the bridge's own actors takes the call down with them. Recorders are
  // not linked: a failed recording must not end the call.
  state.peers.supervisor = self;
  state.peers.twilio = self->spawn<caf::linked>(twilio_socket, env, connection, ingress);
  state.peers.model = self->spawn<caf::linked>(openai_session, env);
  state.peers.clock = self->spawn<caf::linked>(silence_clock, env);
  state.peers.caller_recorder = self->spawn(recorder, env);
  state.peers.agent_recorder = self->spawn(recorder, env);
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
      instrumented(self, m,
                   [=](call_started& started) {
                     auto& st = self->state;
                     if (st.started || st.ending)
                       return;
                     st.started = true;
                     st.record.identity = started.identity;
                     std::string error;
                     st.directory =
                         make_call_directory(st.env->recordings_dir, utc_date(st.record.started_at),
                                             started.identity.call_sid, error);
                     if (st.directory.empty()) {
                       st.record.problems.push_back(error);
                       metrics::log_call(spdlog::level::err, ids_of(st),
                                         "recordings off for this call: {}", error);
                     }
                     const auto path_of = [&](const char* file) {
                       // An unwritable directory: the recorders report the failure, the bridge goes
                       // on.
                       return st.directory.empty() ? std::string("/nonexistent/") + file
                                                   : (st.directory / file).string();
                     };
                     const auto& identity = started.identity;
                     const bool discard = !st.env->record_audio;
                     self->send(st.peers.caller_recorder,
                                recording_target{"caller", discard ? "" : path_of("caller.wav"),
                                                 identity.call_sid, identity.stream_sid, discard});
                     self->send(st.peers.agent_recorder,
                                recording_target{"agent", discard ? "" : path_of("agent.wav"),
                                                 identity.call_sid, identity.stream_sid, discard});
                     self->send(st.peers.clock, started);
                     self->send(st.peers.model, started);
                   }),
      instrumented(self, m,
                   [=](call_stream_ended& ended) {
                     self->state.record.stream = ended;
                     begin_ending(self, ended.reason);
                   }),
      instrumented(self, m,
                   [=](caller_speech_started& speech) { on_speech_started(self, speech); }),
      instrumented(self, m,
                   [=](agent_audio& audio) {
                     auto& st = self->state;
                     if (st.ending || st.interrupted_responses.contains(audio.response_id)) {
                       ++st.record.late_deltas_dropped;
                       return;
                     }
                     st.agent_item_start_ms.try_emplace(audio.item_id, call_elapsed_ms(self));
                     self->send(st.peers.clock, std::move(audio));
                   }),
      instrumented(self, m,
                   [=](response_started& response) {
                     auto& st = self->state;
                     st.active_response = response.response_id;
                     st.cancel_sent = false;
                     ++st.record.responses;
                   }),
      instrumented(self, m,
                   [=](response_finished& response) {
                     auto& st = self->state;
                     if (response.response_id == st.active_response)
                       st.active_response.clear();
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
                     const auto& starts = entry.speaker == "caller" ? st.caller_item_start_ms
                                                                    : st.agent_item_start_ms;
                     if (auto found = starts.find(entry.item_id); found != starts.end()) {
                       entry.offset_ms = found->second;
                     } else {
                       entry.offset_ms = call_elapsed_ms(self);
                     }
                     st.record.transcript.push_back(std::move(entry));
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
                         // End the call cleanly from our side: Twilio gets a close, recordings are
                         // kept.
                         self->send(st.peers.twilio, hangup_atom::value);
                         break;
                     }
                   }),
      instrumented(self, m,
                   [=](recording_problem& problem) {
                     self->state.record.problems.push_back(problem.track +
                                                           " recording: " + problem.message);
                   }),
  };
}

}  // namespace switchboard::actors
