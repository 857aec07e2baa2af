#pragma once
// A recording track's two halves across the io thread / file thread line (recorder.hpp):
//
//   track_batches  the recorder's side (actor state, no I/O): the audio gathers here and leaves
//                  in batches, one in flight at a time. A batch is due once checkpoint_bytes
//                  have gathered (200 ms of μ-law: the writer's checkpoint interval, so a kill
//                  loses no more than before on a healthy disk). While a batch is in flight
//                  the next one keeps growing, so a slow disk gets fewer, larger writes instead
//                  of a queue of small ones (a group commit): the file thread keeps up with any
//                  number of calls whose audio it can write at all.
//   track_file     the file thread's side: the WAV writer, touched only by the recorder's jobs,
//                  which run one at a time in posting order. Creates the file at the first
//                  batch, appends, closes (with its fdatasync); reports what reached the disk.

#include "audio/wav_writer.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace switchboard::actors {

class track_batches {
 public:
  /// μ-law 8 kHz: 200 ms, the WAV writer's checkpoint interval.
  static constexpr std::size_t default_batch_bytes = 1600;

  explicit track_batches(std::size_t batch_bytes = default_batch_bytes)
      : batch_bytes_(batch_bytes) {}

  void add(std::span<const std::uint8_t> audio);
  void add_silence(std::size_t samples, std::uint8_t silence_code);

  /// The batch to hand the file thread now: batch_bytes or more gathered and none in flight
  /// (or `now`: whatever has gathered, e.g. to open the file at once). It is in flight from
  /// here until batch_done().
  std::optional<std::vector<std::uint8_t>> take_due(bool now = false);
  /// Everything gathered, for the close: posted after any batch in flight, whose order the
  /// file thread keeps.
  std::vector<std::uint8_t> take_all();
  /// The batch in flight has been written (or refused).
  void batch_done() { in_flight_ = false; }

  bool in_flight() const { return in_flight_; }
  /// Bytes gathered and not yet handed over.
  std::size_t gathered() const { return gathered_.size(); }

 private:
  std::size_t batch_bytes_;
  std::vector<std::uint8_t> gathered_;
  bool in_flight_ = false;
};

/// What the file holds after a job.
struct track_file_report {
  std::uint64_t bytes_on_disk = 0;  // audio bytes that reached the file
  std::string error;                // the write error, "" when none (repeated once failed)
};

class track_file {
 public:
  explicit track_file(std::string path) : path_(std::move(path)) {}

  /// Appends `audio` (creating the file first, at the first call).
  track_file_report write(std::span<const std::uint8_t> audio);
  /// Appends `last_audio` and then `silence_samples` of silence (the pad to the call's length,
  /// written in constant memory), brings the header in line with what reached the file, syncs
  /// and closes. After a write error the file keeps what reached it, its header made to match.
  track_file_report close(std::span<const std::uint8_t> last_audio,
                          std::uint64_t silence_samples = 0);

  const std::string& path() const { return path_; }

 private:
  void open_once();
  track_file_report report() const;

  std::string path_;
  bool opened_ = false;
  std::optional<audio::wav_writer> writer_;
  std::string error_;  // the first error
};

}  // namespace switchboard::actors
