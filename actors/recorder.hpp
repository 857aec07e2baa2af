#pragma once
// The recorder actor: one track of a call's recording, a μ-law 8 kHz mono WAV (audio/wav_writer)
// written as the call goes, checkpointed at least every 200 ms of audio so a crash leaves a file
// that opens.
//
//   waiting_for_target ──recording_target──▶ recording ──finalize──▶ closing ──closed──▶ (quit)
//                                                └── write error ──▶ failed (audio dropped,
//                                                                    problem reported once)
//
// The disk is never touched here: the actor runs on an io thread. Its audio gathers in
// track_batches and goes to the node's file thread (file_work) in batches, one in flight at a
// time; the file thread's track_file creates, appends, closes and syncs, and answers each job
// with track_write_done. So the recorder keeps taking frames while the disk is slow, its
// batches just grow. The close is posted after the batches (the file thread keeps their order)
// and finalize is answered only once it has been through the disk: the call's finaliser, which
// starts after both answers, mixes and writes call.json over closed files.
//
// Caller track: frames are placed at their Twilio timestamps (caller_track_aligner), so lost
// frames become silence and the track stays on the call's timeline. Agent track: the silence
// clock's ticks, back to back. A recorder that cannot write reports it and keeps draining its
// mailbox: a failed recording must never stop the audio bridge.

#include "actors/bridge_environment.hpp"
#include "actors/file_work.hpp"
#include "actors/interfaces.hpp"
#include "actors/playout_timeline.hpp"
#include "actors/track_file.hpp"
#include "metrics/bridge_metrics.hpp"
#include "metrics/call_log.hpp"

#include <caf/typed_response_promise.hpp>

#include <memory>
#include <optional>

namespace switchboard::actors {

/// What a recorder needs of the node, and nothing more.
struct recorder_context {
  std::shared_ptr<file_work> files;  // where its disk work runs
  std::shared_ptr<metrics::bridge_metrics> metrics;

  static recorder_context of(const bridge_environment& env) { return {env.files, env.metrics}; }
};

struct recorder_state {
  static inline const char* name = "recorder";

  recorder_state() = default;
  recorder_state(const recorder_state&) = delete;
  recorder_state& operator=(const recorder_state&) = delete;
  /// Hands the file to the file thread to let go of: an unclosed writer closes (and syncs) as
  /// it goes, which must not happen on the io thread a killed recorder ends on.
  ~recorder_state();

  std::optional<call_peers> peers;
  recorder_context context;
  metrics::call_ids ids;
  std::string track;
  prometheus::Counter* bytes_written = nullptr;  // this track's recording bytes on disk
  std::uint64_t bytes_counted = 0;               // of them, added to bytes_written so far
  /// The file thread's half: the actor never calls it, only hands it to the jobs it posts.
  std::shared_ptr<track_file> file;
  track_batches batches;
  std::string path;
  std::string failure;      // first error, reported once
  bool targeted = false;    // the recording_target arrived
  bool discarding = false;  // RECORDINGS=off
  /// finalize_atom's answer, given once the close has been through the disk.
  std::optional<caf::typed_response_promise<recording_summary>> closing;
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
                                       recorder_context context);

}  // namespace switchboard::actors
