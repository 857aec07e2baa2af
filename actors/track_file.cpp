#include "actors/track_file.hpp"

#include <algorithm>
#include <utility>

namespace switchboard::actors {

void track_batches::add(std::span<const std::uint8_t> audio) {
  gathered_.insert(gathered_.end(), audio.begin(), audio.end());
}

void track_batches::add_silence(std::size_t samples, std::uint8_t silence_code) {
  gathered_.insert(gathered_.end(), samples, silence_code);
}

std::optional<std::vector<std::uint8_t>> track_batches::take_due(bool now) {
  if (in_flight_ || (!now && gathered_.size() < batch_bytes_))
    return std::nullopt;
  in_flight_ = true;
  return std::exchange(gathered_, {});
}

std::vector<std::uint8_t> track_batches::take_all() {
  return std::exchange(gathered_, {});
}

void track_file::open_once() {
  if (opened_)
    return;
  opened_ = true;
  auto created = audio::wav_writer::create(path_, audio::wav_format::mulaw_8k_mono());
  if (created)
    writer_.emplace(std::move(*created));
  else
    error_ = created.error().message;
}

track_file_report track_file::report() const {
  return {writer_ ? writer_->bytes_on_disk() : 0, error_};
}

track_file_report track_file::write(std::span<const std::uint8_t> audio) {
  open_once();
  if (writer_ && error_.empty() && !audio.empty()) {
    if (auto appended = writer_->append(audio); !appended)
      error_ = appended.error().message;
  }
  return report();
}

track_file_report track_file::close(std::span<const std::uint8_t> last_audio,
                                    std::uint64_t silence_samples) {
  auto written = write(last_audio);
  if (!writer_)
    return written;
  if (error_.empty() && silence_samples > 0) {
    if (auto padded = writer_->append_silence(static_cast<std::size_t>(silence_samples)); !padded)
      error_ = padded.error().message;
  }
  auto closed = writer_->close();
  auto done = report();
  if (!closed && error_.empty())
    done.error = error_ = closed.error().message;
  return done;
}

}  // namespace switchboard::actors
