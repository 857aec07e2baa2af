#include "actors/playout_timeline.hpp"

#include <algorithm>
#include <charconv>

namespace switchboard::actors {

namespace {
constexpr std::uint8_t mulaw_silence = 0xFF;
}

std::string playout_timeline::enqueue(std::string_view item_id,
                                      std::span<const std::uint8_t> audio) {
  auto [found, inserted] = items_.try_emplace(std::string(item_id));
  auto& progress = found->second;
  if (inserted)
    progress.first_byte = sent_total_;
  progress.sent_bytes += audio.size();
  sent_total_ += audio.size();
  if (!audio.empty()) {
    queue_.push_back({std::string(item_id), {audio.begin(), audio.end()}, 0});
    queued_bytes_ += audio.size();
  }
  return std::string(item_id) + "@" + std::to_string(progress.sent_bytes);
}

std::size_t playout_timeline::play_tick(std::span<std::uint8_t> out) {
  std::size_t filled = 0;
  while (filled < out.size() && !queue_.empty()) {
    auto& front = queue_.front();
    const std::size_t take = std::min(out.size() - filled, front.audio.size() - front.consumed);
    std::copy_n(front.audio.begin() + static_cast<std::ptrdiff_t>(front.consumed), take,
                out.begin() + static_cast<std::ptrdiff_t>(filled));
    front.consumed += take;
    filled += take;
    queued_bytes_ -= take;
    played_total_ += take;
    items_[front.item_id].played_bytes += take;
    last_played_item_ = front.item_id;
    if (front.consumed == front.audio.size())
      queue_.pop_front();
  }
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(filled), out.end(), mulaw_silence);
  return filled;
}

mark_echo playout_timeline::on_mark(std::string_view name) {
  const auto at = name.rfind('@');
  if (at == std::string_view::npos)
    return mark_echo::unknown;
  const auto item_id = name.substr(0, at);
  const auto position_text = name.substr(at + 1);
  std::uint64_t position = 0;
  const auto [end, ec] =
      std::from_chars(position_text.data(), position_text.data() + position_text.size(), position);
  if (ec != std::errc{} || end != position_text.data() + position_text.size()) {
    return mark_echo::unknown;
  }
  const auto found = items_.find(std::string(item_id));
  if (found == items_.end() || position > found->second.sent_bytes)
    return mark_echo::unknown;
  if (position > found->second.cut_at_bytes)
    return mark_echo::cleared;
  // Twilio a tick or two ahead of our clock is the normal phase difference of two 20 ms
  // clocks: skipping then would put clicks in the recording. Only a real drift is corrected.
  const auto heard_up_to = found->second.first_byte + position;  // in all audio sent
  if (heard_up_to > played_total_ + mark_skip_tolerance_bytes)
    skip_to(item_id, position);
  return mark_echo::played;
}

void playout_timeline::skip_to(std::string_view item_id, std::uint64_t position) {
  // Twilio has played up to `position` of this item: everything queued before that point has
  // been heard too. Drop it without writing it, so that the agent track stays on the clock.
  while (!queue_.empty()) {
    auto& front = queue_.front();
    auto& progress = items_[front.item_id];
    const bool is_target = front.item_id == item_id;
    const std::size_t remaining = front.audio.size() - front.consumed;
    std::size_t drop = remaining;
    if (is_target) {
      if (progress.played_bytes >= position)
        break;
      drop = std::min<std::uint64_t>(remaining, position - progress.played_bytes);
    }
    front.consumed += drop;
    queued_bytes_ -= drop;
    played_total_ += drop;
    progress.played_bytes += drop;
    skipped_bytes_ += drop;
    last_played_item_ = front.item_id;
    if (front.consumed == front.audio.size())
      queue_.pop_front();
    if (is_target && progress.played_bytes >= position)
      break;
  }
}

playout_cut playout_timeline::cut() {
  playout_cut result;
  result.had_unplayed = queued_bytes_ > 0;
  // The item being heard is the front of the queue, or the last one played.
  result.item_id = queue_.empty() ? last_played_item_ : queue_.front().item_id;
  result.discarded_bytes = queued_bytes_;
  for (const auto& pending : queue_) {
    auto& progress = items_[pending.item_id];
    progress.cut_at_bytes = std::min(progress.cut_at_bytes, progress.played_bytes);
  }
  queue_.clear();
  played_total_ += queued_bytes_;  // gone: later audio starts where the cut left off
  queued_bytes_ = 0;
  if (!result.item_id.empty()) {
    const auto& progress = items_[result.item_id];
    result.sent_ms = progress.sent_bytes / bytes_per_ms;
    result.heard_ms = std::min(progress.played_bytes / bytes_per_ms, result.sent_ms);
  }
  return result;
}

std::uint64_t playout_timeline::played_ms(std::string_view item_id) const {
  const auto found = items_.find(std::string(item_id));
  return found == items_.end() ? 0 : found->second.played_bytes / bytes_per_ms;
}

caller_track_aligner::placement caller_track_aligner::place(std::uint64_t timestamp_ms,
                                                            std::size_t frame_bytes) {
  placement result;
  const std::uint64_t position = timestamp_ms * bytes_per_ms;
  if (position > written_ + jitter_tolerance_samples) {
    result.silence_before = static_cast<std::size_t>(position - written_);
  } else if (position + jitter_tolerance_samples < written_) {
    result.skip =
        static_cast<std::size_t>(std::min<std::uint64_t>(written_ - position, frame_bytes));
  }
  written_ += result.silence_before + (frame_bytes - result.skip);
  return result;
}

}  // namespace switchboard::actors
