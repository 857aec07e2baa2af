#pragma once
// The recorder actor: one track of a call's recording, a μ-law 8 kHz mono WAV (audio/wav_writer)
// written as the call goes, checkpointed at least once a second so a crash leaves a file that
// opens.
//
//   waiting_for_target ──recording_target──▶ recording ──finalize──▶ closed
//                                                └── write error ──▶ failed (audio dropped,
//                                                                    problem reported once)
//
// Caller track: frames are placed at their Twilio timestamps (caller_track_aligner), so lost
// frames become silence and the track stays on the call's timeline. Agent track: the silence
// clock's ticks, back to back. A recorder that cannot write reports it and keeps draining its
// mailbox: a failed recording must never stop the audio bridge.

#include "actors/bridge_environment.hpp"
#include "actors/interfaces.hpp"
#include "actors/playout_timeline.hpp"
#include "audio/wav_writer.hpp"
#include "metrics/call_log.hpp"

#include <optional>

namespace switchboard::actors {

struct recorder_state {
  static inline const char* name = "recorder";

  std::optional<call_peers> peers;
  bridge_environment_ptr env;
  metrics::call_ids ids;
  std::string track;
  prometheus::Counter* bytes_written = nullptr;  // this track's recording bytes on disk
  std::uint64_t bytes_counted = 0;               // of them, added to bytes_written so far
  std::optional<audio::wav_writer> writer;
  std::string path;
  std::string failure;      // first error, reported once
  bool targeted = false;    // the recording_target arrived
  bool discarding = false;  // RECORDINGS=off
  caller_track_aligner aligner;
  std::uint64_t samples = 0;
  std::uint64_t silence_samples = 0;
  // Audio that arrived before the target: (timestamp or sequential) frames, bounded.
  std::vector<caller_audio> held_caller;
  std::vector<heard_audio> held_heard;
  std::vector<std::uint8_t> decoded;  // reused decode buffer
};

/// Frames kept while the recorder waits for its target (10 s of 20 ms frames).
constexpr std::size_t max_recorder_held_frames = 500;

recorder_actor::behavior_type recorder(recorder_actor::stateful_pointer<recorder_state> self,
                                       bridge_environment_ptr env);

}  // namespace switchboard::actors
