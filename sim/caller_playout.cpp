#include "sim/caller_playout.hpp"

#include <algorithm>

namespace switchboard::sim {

void caller_playout::append_audio(std::span<const std::uint8_t> mulaw) {
  buffer_.insert(buffer_.end(), mulaw.begin(), mulaw.end());
  bytes_received_ += mulaw.size();
}

void caller_playout::add_mark(std::string name, std::vector<std::string>& echoed) {
  ++marks_received_;
  if (marks_.empty() && buffered_bytes() == 0) {
    ++marks_echoed_;
    echoed.push_back(std::move(name));
    return;
  }
  marks_.push_back({bytes_received_, std::move(name)});
}

std::size_t caller_playout::tick(std::vector<std::string>& echoed) {
  ++ticks_;
  const std::size_t played = std::min(frame_bytes, buffered_bytes());
  const auto first = buffer_.begin() + static_cast<std::ptrdiff_t>(head_);
  if (keep_heard_audio_) {
    heard_.insert(heard_.end(), first, first + static_cast<std::ptrdiff_t>(played));
    heard_.insert(heard_.end(), frame_bytes - played, mulaw_silence);
  }
  head_ += played;
  bytes_played_ += played;
  // Every byte received is either played or cleared, so a mark queued at byte position P has
  // had all its audio played once played + cleared reaches P.
  const std::uint64_t done = bytes_played_ + bytes_cleared_;
  while (!marks_.empty() && marks_.front().position <= done) {
    ++marks_echoed_;
    echoed.push_back(std::move(marks_.front().name));
    marks_.pop_front();
  }
  compact();
  return played;
}

void caller_playout::clear(std::vector<std::string>& echoed) {
  ++clears_;
  bytes_cleared_ += buffered_bytes();
  buffer_.clear();
  head_ = 0;
  for (auto& mark : marks_) {
    ++marks_echoed_;
    echoed.push_back(std::move(mark.name));
  }
  marks_.clear();
}

void caller_playout::end_stream() {
  bytes_cleared_ += buffered_bytes();
  buffer_.clear();
  head_ = 0;
  marks_.clear();
}

void caller_playout::compact() {
  if (head_ == buffer_.size()) {
    buffer_.clear();  // keeps the capacity for the next answer
    head_ = 0;
  } else if (head_ >= 64 * 1024 && head_ * 2 >= buffer_.size()) {
    // Played bytes outweigh the unplayed ones: moving the rest down costs less than it frees.
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

}  // namespace switchboard::sim
