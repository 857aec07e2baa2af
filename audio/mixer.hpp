#pragma once
// Offline mix of a call's two recordings (caller and agent, each G.711 μ-law mono 8 kHz as the
// recorder writes them) into
//   out_dir/stereo.wav  16-bit PCM stereo 8 kHz, caller on the left, agent on the right;
//   out_dir/mono.wav    16-bit PCM mono 8 kHz, caller + agent summed and saturated to int16
//                       (clipped, never wrapped around).
// The shorter track is padded with silence to the length of the longer one. Streams in blocks of
// mix_block_frames: memory use does not depend on the call's length.
//
// Safety: an existing output is never overwritten and an output may not be one of the inputs.
// Each output is written under a temporary name in out_dir, synced, and then linked to its
// final name (link(2) fails instead of replacing, unlike rename) and the temporary name removed,
// so a crash never leaves a half-written file under a final name. out_dir is created if missing.
//
// Inputs: a truncated input (a size field larger than the file) is an error. An input whose
// size fields were never finalised (0 / 0xFFFFFFFF: its writer died before the first
// checkpoint) is accepted with its length taken from the file: the recording is still the
// call's audio, the mixer only reads it, and the report says so (caller_size_finalised /
// agent_size_finalised). A checkpointed but unclosed input is mixed to its header length; run
// repair_wav first to include the audio after the last checkpoint.

#include "audio/wav_error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace switchboard::audio {

/// Sample frames read per block: 4096 μ-law bytes per input, about half a second of audio.
constexpr std::size_t mix_block_frames = 4096;

struct mix_report {
  std::string stereo_path;
  std::string mono_path;
  std::uint64_t caller_samples = 0;
  std::uint64_t agent_samples = 0;
  std::uint64_t frames = 0;  // per output: max(caller_samples, agent_samples)
  std::uint64_t duration_ms = 0;
  std::uint64_t clipped_samples = 0;  // mono samples saturated at -32768 or 32767
  bool caller_size_finalised = true;
  bool agent_size_finalised = true;
};

wav_result<mix_report> mix_tracks(const std::string& caller_path, const std::string& agent_path,
                                  const std::string& out_dir);

}  // namespace switchboard::audio
