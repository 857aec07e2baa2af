#include "audio/part_join.hpp"

#include "audio/posix_file.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <numeric>
#include <system_error>
#include <unistd.h>

namespace switchboard::audio {

namespace {

constexpr wav_format track_format = wav_format::mulaw_8k_mono();
constexpr std::uint64_t samples_per_ms = 8;
constexpr std::size_t copy_block = 4096;

/// Takes `samples` off the end of the plan's pieces (the later part starts before they end).
void cut_back(join_plan& plan, std::uint64_t samples) {
  while (samples > 0 && !plan.pieces.empty()) {
    auto& last = plan.pieces.back();
    const auto taken = std::min(samples, last.count);
    last.count -= taken;
    samples -= taken;
    plan.samples -= taken;
    if (last.part == join_piece::silence)
      plan.silence_samples -= taken;
    else
      plan.cut_samples += taken;
    if (last.count == 0)
      plan.pieces.pop_back();
  }
}

}  // namespace

join_plan plan_part_join(std::span<const timeline_part> parts) {
  std::vector<std::size_t> order(parts.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return parts[a].offset_samples < parts[b].offset_samples;
  });
  join_plan plan;
  for (const auto index : order) {
    const auto& part = parts[index];
    if (part.offset_samples > plan.samples) {
      const auto gap = part.offset_samples - plan.samples;
      plan.pieces.push_back({join_piece::silence, 0, gap});
      plan.samples += gap;
      plan.silence_samples += gap;
    } else if (part.offset_samples < plan.samples) {
      cut_back(plan, plan.samples - part.offset_samples);
    }
    if (part.samples == 0)
      continue;
    plan.pieces.push_back({index, 0, part.samples});
    plan.samples += part.samples;
  }
  return plan;
}

wav_result<join_plan> join_part_tracks(std::span<const part_track> parts,
                                       const std::string& out_path) {
  std::error_code ec;
  if (std::filesystem::exists(out_path, ec))
    return wav_error{wav_errc::already_exists, out_path + " exists: the join never overwrites"};
  std::vector<detail::unique_fd> inputs;
  std::vector<wav_info> infos;
  std::vector<timeline_part> timeline;
  for (const auto& part : parts) {
    auto fd = detail::open_existing(part.path, false);
    if (!fd)
      return fd.error();
    auto info = parse_wav_fd(fd->get(), part.path);
    if (!info)
      return info.error();
    if (info->format() != track_format) {
      return wav_error{wav_errc::unsupported_format, part.path + " is " + describe(info->format()) +
                                                         ", expected " + describe(track_format)};
    }
    timeline.push_back({part.offset_ms * samples_per_ms, info->frames()});
    inputs.push_back(std::move(*fd));
    infos.push_back(*info);
  }
  const auto plan = plan_part_join(timeline);

  const auto temporary = (std::filesystem::path(out_path).parent_path() /
                          ("." + std::filesystem::path(out_path).filename().string() + ".joining"))
                             .string();
  detail::remove_file(temporary);
  auto writer = wav_writer::create(temporary, track_format);
  if (!writer)
    return writer.error();
  const auto failed = [&](wav_error error) -> wav_result<join_plan> {
    writer->close();
    detail::remove_file(temporary);
    return error;
  };
  std::array<std::uint8_t, copy_block> block{};
  for (const auto& piece : plan.pieces) {
    if (piece.part == join_piece::silence) {
      if (auto appended = writer->append_silence(static_cast<std::size_t>(piece.count)); !appended)
        return failed(appended.error());
      continue;
    }
    std::uint64_t copied = 0;
    while (copied < piece.count) {
      const auto want =
          static_cast<std::size_t>(std::min<std::uint64_t>(copy_block, piece.count - copied));
      const auto& info = infos[piece.part];
      auto got = detail::pread_full(inputs[piece.part].get(), std::span(block.data(), want),
                                    info.data_offset + piece.from + copied, parts[piece.part].path);
      if (!got)
        return failed(got.error());
      if (*got != want) {
        return failed(
            wav_error{wav_errc::truncated, parts[piece.part].path + " ended before its size"});
      }
      if (auto appended = writer->append(std::span<const std::uint8_t>(block.data(), want));
          !appended)
        return failed(appended.error());
      copied += want;
    }
  }
  if (auto closed = writer->close(); !closed)
    return failed(closed.error());
  // Linked, not renamed: an output that appeared meanwhile is not replaced.
  if (::link(temporary.c_str(), out_path.c_str()) != 0) {
    const int error_number = errno;
    detail::remove_file(temporary);
    return detail::errno_error(error_number, "link", out_path);
  }
  detail::remove_file(temporary);
  return plan;
}

}  // namespace switchboard::audio
