#include "sim/energy_vad.hpp"

#include "audio/mulaw.hpp"

#include <cmath>

namespace switchboard::sim {

namespace {

// Frames needed to cover `ms`, at least one.
std::uint64_t frames_for(std::uint64_t ms) {
  const auto frames = (ms + energy_vad::frame_ms - 1) / energy_vad::frame_ms;
  return frames == 0 ? 1 : frames;
}

}  // namespace

energy_vad::energy_vad(energy_vad_options options) {
  set_options(options);
}

void energy_vad::set_options(const energy_vad_options& options) {
  options_ = options;
  // Full scale is 32768; compare mean squares so that a frame costs no sqrt or log.
  const double threshold_rms = 32768.0 * std::pow(10.0, options_.threshold_dbfs / 20.0);
  threshold_mean_square_ = threshold_rms * threshold_rms;
}

void energy_vad::append(std::span<const std::uint8_t> mulaw, std::vector<vad_event>& events) {
  for (const std::uint8_t code : mulaw) {
    const double sample = audio::decode_mulaw(code);
    frame_sum_squares_ += sample * sample;
    ++appended_bytes_;
    if (++frame_fill_ == frame_bytes)
      finish_frame(events);
  }
}

void energy_vad::finish_frame(std::vector<vad_event>& events) {
  const double mean_square = frame_sum_squares_ / static_cast<double>(frame_bytes);
  const bool loud = mean_square >= threshold_mean_square_;
  frame_fill_ = 0;
  frame_sum_squares_ = 0.0;
  ++frames_done_;
  const std::uint64_t frame_end_ms = frames_done_ * frame_ms;

  if (!speaking_) {
    loud_run_frames_ = loud ? loud_run_frames_ + 1 : 0;
    if (loud_run_frames_ >= frames_for(options_.min_speech_ms)) {
      speaking_ = true;
      quiet_run_frames_ = 0;
      const std::uint64_t speech_start_ms = frame_end_ms - loud_run_frames_ * frame_ms;
      const std::uint64_t padded = speech_start_ms > options_.prefix_padding_ms
                                       ? speech_start_ms - options_.prefix_padding_ms
                                       : 0;
      events.push_back({vad_event_kind::speech_started, padded});
    }
    return;
  }
  quiet_run_frames_ = loud ? 0 : quiet_run_frames_ + 1;
  if (quiet_run_frames_ >= frames_for(options_.silence_duration_ms)) {
    speaking_ = false;
    loud_run_frames_ = 0;
    events.push_back({vad_event_kind::speech_stopped, frame_end_ms});
  }
}

}  // namespace switchboard::sim
