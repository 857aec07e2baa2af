#include "sim/marker_table.hpp"

#include <algorithm>
#include <cmath>

namespace switchboard::sim {

marker_table::marker_table(std::size_t calls, std::size_t frames_per_call)
    : calls_(calls),
      frames_per_call_(frames_per_call),
      times_(calls * frames_per_call),
      highest_received_(calls, -1) {}

namespace {

/// Calls `visit(marker)` for every marked 20 ms frame of `audio`. A bridge plays the echoes back
/// as they came, frame-aligned; silence between them carries no marker.
template <class Visit>
void for_each_marker(std::span<const std::uint8_t> audio, Visit visit) {
  for (std::size_t offset = 0; offset + marked_frame_bytes <= audio.size();
       offset += marked_frame_bytes) {
    if (const auto marker = read_frame_marker(audio.subspan(offset, marked_frame_bytes)))
      visit(*marker);
  }
}

}  // namespace

frame_times* marker_table::slot(const frame_marker& marker) {
  if (marker.call >= calls_ || marker.number >= frames_per_call_)
    return nullptr;
  return &times_[marker.call * frames_per_call_ + marker.number];
}

void marker_table::stamp_sent(std::span<const std::uint8_t> frame, std::int64_t now_ns) {
  const auto marker = read_frame_marker(frame);
  if (!marker)
    return;  // an unmarked frame (the silence after the marked audio)
  auto* times = slot(*marker);
  if (times == nullptr) {
    ++foreign_at_callers_;
    return;
  }
  if (times->sent == 0)
    times->sent = now_ns;
}

void marker_table::stamp_received(std::size_t receiving_call, std::span<const std::uint8_t> audio,
                                  std::int64_t now_ns) {
  for_each_marker(audio, [&](const frame_marker& marker) {
    auto* times = slot(marker);
    if (times == nullptr) {
      ++foreign_at_callers_;
      return;
    }
    if (marker.call != receiving_call) {
      ++wrong_call_;
      return;
    }
    if (times->received != 0) {
      ++duplicated_;
      return;
    }
    times->received = now_ns;
    auto& highest = highest_received_[receiving_call];
    const auto number = static_cast<std::int64_t>(marker.number);
    if (number < highest) {
      ++reordered_;
    } else {
      highest = number;
    }
  });
}

void marker_table::stamp_model_side(std::span<const std::uint8_t> audio,
                                    std::int64_t frame_times::*field, std::int64_t now_ns) {
  for_each_marker(audio, [&](const frame_marker& marker) {
    auto* times = slot(marker);
    if (times == nullptr) {
      ++foreign_at_model_;
      return;
    }
    auto& seen = times->*field;
    if (seen != 0) {
      // The echo writes what was appended: a repeat there is the append's repeat.
      if (field == &frame_times::appended)
        ++duplicated_at_model_;
      return;
    }
    seen = now_ns;
  });
}

void marker_table::stamp_appended(std::span<const std::uint8_t> audio, std::int64_t now_ns) {
  stamp_model_side(audio, &frame_times::appended, now_ns);
}

void marker_table::stamp_echoed(std::span<const std::uint8_t> audio, std::int64_t now_ns) {
  stamp_model_side(audio, &frame_times::echoed, now_ns);
}

std::span<const frame_times> marker_table::frames_of(std::size_t call) const {
  return std::span(times_).subspan(call * frames_per_call_, frames_per_call_);
}

marker_anomalies marker_table::anomalies() const {
  return {.duplicated = duplicated_,
          .reordered = reordered_,
          .wrong_call = wrong_call_,
          .duplicated_at_model = duplicated_at_model_,
          .foreign = foreign_at_callers_ + foreign_at_model_};
}

// ---- figures --------------------------------------------------------------------------------

namespace {

double to_ms(std::int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

/// Nearest rank: the smallest sample with at least `fraction` of the samples at or below it.
std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double fraction) {
  const auto rank =
      static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

latency_summary summarize_latencies(std::vector<std::int64_t> samples_ns) {
  latency_summary summary;
  if (samples_ns.empty())
    return summary;
  std::sort(samples_ns.begin(), samples_ns.end());
  summary.samples = samples_ns.size();
  summary.p50_ms = to_ms(nearest_rank(samples_ns, 0.50));
  summary.p95_ms = to_ms(nearest_rank(samples_ns, 0.95));
  summary.p99_ms = to_ms(nearest_rank(samples_ns, 0.99));
  summary.max_ms = to_ms(samples_ns.back());
  return summary;
}

leg_figures measure_leg(const marker_table& table, std::int64_t frame_times::*from,
                        std::int64_t frame_times::*to, time_window window) {
  leg_figures figures;
  std::vector<std::int64_t> latencies;
  for (std::size_t call = 0; call < table.calls(); ++call) {
    for (const auto& frame : table.frames_of(call)) {
      if (frame.*from == 0 || !window.contains(frame.*from))
        continue;
      ++figures.sent;
      if (frame.*to == 0) {
        ++figures.lost;
        continue;
      }
      ++figures.matched;
      latencies.push_back(frame.*to - frame.*from);
    }
  }
  figures.latency = summarize_latencies(std::move(latencies));
  return figures;
}

delivery_figures count_delivery(const marker_table& table) {
  delivery_figures figures;
  for (std::size_t call = 0; call < table.calls(); ++call) {
    const auto frames = table.frames_of(call);
    const auto first_echo = std::find_if(
        frames.begin(), frames.end(), [](const frame_times& frame) { return frame.received != 0; });
    bool sent_any = false;
    for (auto frame = frames.begin(); frame != frames.end(); ++frame) {
      if (frame->sent == 0)
        continue;
      sent_any = true;
      ++figures.sent;
      if (frame->received != 0) {
        ++figures.returned;
      } else if (frame < first_echo) {
        ++figures.lost_before_first_echo;
      } else {
        ++figures.lost_after_first_echo;
      }
    }
    if (sent_any && first_echo == frames.end())
      ++figures.calls_without_echo;
  }
  return figures;
}

latency_summary send_lateness(const marker_table& table, std::int64_t frame_interval_ns,
                              time_window window) {
  std::vector<std::int64_t> lateness;
  for (std::size_t call = 0; call < table.calls(); ++call) {
    const auto frames = table.frames_of(call);
    // The schedule's origin: frame n is due at origin + n × interval.
    auto origin = std::numeric_limits<std::int64_t>::max();
    for (std::size_t number = 0; number < frames.size(); ++number) {
      if (frames[number].sent != 0) {
        origin = std::min(
            origin, frames[number].sent - static_cast<std::int64_t>(number) * frame_interval_ns);
      }
    }
    for (std::size_t number = 0; number < frames.size(); ++number) {
      const auto sent = frames[number].sent;
      if (sent == 0 || !window.contains(sent))
        continue;
      lateness.push_back(sent - static_cast<std::int64_t>(number) * frame_interval_ns - origin);
    }
  }
  return summarize_latencies(std::move(lateness));
}

}  // namespace switchboard::sim
