#pragma once
// A handed-over call's parts joined into one track per side (README "Drain": the recordings of
// all parts make one timeline). Each part is recorded on the node that ran it, as its own
// caller.wav and agent.wav (μ-law 8 kHz mono), and its call.json says where the part starts on
// the call's timeline (part_offset_ms). Joined, the whole call's track holds each part's audio
// at its offset; a gap between parts (the caller-side gap of the hand-over) is silence; where a
// part's track runs past the next part's start (its files closed a few ms after the next stream
// began), the next part wins and the earlier one is cut there: both cannot have been heard.
//
// Safety as the mixer's: an existing output is never overwritten; the output is written under a
// temporary name in its directory, synced, then linked to its final name.

#include "audio/wav_error.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace switchboard::audio {

/// Where a part's track sits on the call's timeline, in samples (8 per ms at 8 kHz).
struct timeline_part {
  std::uint64_t offset_samples = 0;
  std::uint64_t samples = 0;
};

/// A run of the whole track: `count` samples of part `part` from its sample `from`, or silence.
struct join_piece {
  static constexpr std::size_t silence = std::numeric_limits<std::size_t>::max();
  std::size_t part = silence;
  std::uint64_t from = 0;
  std::uint64_t count = 0;
};

struct join_plan {
  std::vector<join_piece> pieces;  // in timeline order
  std::uint64_t samples = 0;       // the whole track
  std::uint64_t silence_samples = 0;
  std::uint64_t cut_samples = 0;  // of earlier parts, where the next part started before they ended
};

/// The pieces of the whole track from the parts (any order: they are taken by offset, a tie in
/// the order given).
join_plan plan_part_join(std::span<const timeline_part> parts);

/// One part's track file and its offset on the call's timeline.
struct part_track {
  std::string path;
  std::uint64_t offset_ms = 0;
};

/// Writes the μ-law 8 kHz mono track `out_path` (which must not exist) from the parts' tracks,
/// as plan_part_join places them. Each input must be μ-law 8 kHz mono.
wav_result<join_plan> join_part_tracks(std::span<const part_track> parts,
                                       const std::string& out_path);

}  // namespace switchboard::audio
