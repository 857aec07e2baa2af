#pragma once
// Energy voice activity detection for the model stand-in: the part of the Realtime API's
// server_vad that a bridge can observe (shared/reference/protocols.md §B3, §B5). Pure: no I/O,
// no clock — positions are ms of audio appended, so a test feeds it as fast as it likes.
//
//   quiet --(loud for min_speech_ms)--> speaking --(quiet for silence_duration_ms)--> quiet
//             emits speech_started                     emits speech_stopped
//
// Audio is G.711 μ-law 8 kHz mono (1 byte = 0.125 ms), fed in chunks of any size; it is judged
// in 20 ms frames (160 bytes) by their mean-square level against a threshold in dBFS.

#include <cstdint>
#include <span>
#include <vector>

namespace switchboard::sim {

struct energy_vad_options {
  /// A frame whose RMS level is at or above this is loud. −40 dBFS (RMS ≈ 328 of 32768) lies
  /// well above μ-law silence and line noise (the espeak fixtures idle at RMS ≈ 4) and below
  /// every syllable of the fixtures (median frame RMS > 1300).
  double threshold_dbfs = -40.0;
  /// Loud audio must last this long before it counts as speech (a click is not a turn).
  std::uint64_t min_speech_ms = 60;
  /// speech_started's audio_start_ms is moved back by this much, clamped at 0 (API default 300).
  std::uint64_t prefix_padding_ms = 300;
  /// Quiet this long ends the turn (API default 500). The fixtures' longest pause is 440 ms.
  std::uint64_t silence_duration_ms = 500;
};

enum class vad_event_kind { speech_started, speech_stopped };

struct vad_event {
  vad_event_kind kind = vad_event_kind::speech_started;
  /// speech_started: where speech began minus the prefix padding (the API's audio_start_ms).
  /// speech_stopped: the end of the audio that completed the silence (the API's audio_end_ms,
  /// which includes silence_duration_ms). Both in ms since the session's first appended audio.
  std::uint64_t audio_ms = 0;
  friend bool operator==(const vad_event&, const vad_event&) = default;
};

class energy_vad {
 public:
  /// μ-law bytes per analysis frame: 20 ms at 8 kHz.
  static constexpr std::uint64_t frame_bytes = 160;
  static constexpr std::uint64_t frame_ms = 20;

  explicit energy_vad(energy_vad_options options = {});

  /// Feeds μ-law audio; appends to `events` what the completed frames decided, in order.
  void append(std::span<const std::uint8_t> mulaw, std::vector<vad_event>& events);

  /// New timing and threshold (a session.update); position and the current state are kept.
  void set_options(const energy_vad_options& options);
  const energy_vad_options& options() const noexcept { return options_; }

  bool speaking() const noexcept { return speaking_; }
  /// ms of all audio appended so far (bytes / 8), complete frames or not.
  std::uint64_t position_ms() const noexcept { return appended_bytes_ / 8; }

 private:
  void finish_frame(std::vector<vad_event>& events);

  energy_vad_options options_;
  double threshold_mean_square_ = 0.0;  // in 16-bit linear units squared
  std::uint64_t appended_bytes_ = 0;
  std::uint64_t frame_fill_ = 0;    // samples of the current frame seen
  double frame_sum_squares_ = 0.0;  // over the current frame's samples
  std::uint64_t frames_done_ = 0;
  bool speaking_ = false;
  std::uint64_t loud_run_frames_ = 0;   // consecutive loud frames (while quiet)
  std::uint64_t quiet_run_frames_ = 0;  // consecutive quiet frames (while speaking)
};

}  // namespace switchboard::sim
