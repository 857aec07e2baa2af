#include "actors/call_recovery.hpp"

#include "actors/call_files.hpp"
#include "actors/call_summary.hpp"
#include "audio/mixer.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_repair.hpp"
#include "audio/whole_file.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <caf/event_based_actor.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace switchboard::actors {

namespace {

constexpr std::size_t max_marker_bytes = 16 * 1024;

std::int64_t epoch_ms(std::chrono::system_clock::time_point when) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
}

std::string string_field(const boost::json::object& object, std::string_view key) {
  const auto* found = object.if_contains(key);
  return found != nullptr && found->is_string() ? std::string(found->as_string()) : std::string();
}

std::optional<std::string> read_small_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::string text(max_marker_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_marker_bytes)
    return std::nullopt;
  return text;
}

bool file_exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

}  // namespace

const std::string& process_instance_id() {
  static const std::string id = [] {
    std::random_device random;
    std::ostringstream out;
    out << ::getpid() << "-" << epoch_ms(std::chrono::system_clock::now()) << "-" << std::hex
        << random();
    return out.str();
  }();
  return id;
}

std::string call_marker_json(const call_marker& marker) {
  boost::json::object object{
      {"node", marker.node},
      {"process", marker.process},
      {"call_sid", marker.identity.call_sid},
      {"stream_sid", marker.identity.stream_sid},
      {"account_sid", marker.identity.account_sid},
      {"from", marker.identity.from},
      {"to", marker.identity.to},
      {"direction", marker.direction},
      {"started_at", iso8601_utc(marker.started_at)},
      {"started_at_ms", epoch_ms(marker.started_at)},
      {"part", marker.part},
  };
  return boost::json::serialize(object) + "\n";
}

std::optional<call_marker> parse_call_marker(std::string_view text) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object())
    return std::nullopt;
  const auto& object = value.as_object();
  call_marker marker;
  marker.node = string_field(object, "node");
  marker.process = string_field(object, "process");
  marker.identity.call_sid = string_field(object, "call_sid");
  marker.identity.stream_sid = string_field(object, "stream_sid");
  marker.identity.account_sid = string_field(object, "account_sid");
  marker.identity.from = string_field(object, "from");
  marker.identity.to = string_field(object, "to");
  marker.direction = string_field(object, "direction");
  const auto* started = object.if_contains("started_at_ms");
  if (started == nullptr || !started->is_int64() || marker.identity.call_sid.empty())
    return std::nullopt;
  marker.started_at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(started->as_int64()));
  // Absent in markers written before parts had directories of their own: part 1.
  if (const auto* part = object.if_contains("part");
      part != nullptr && part->is_int64() && part->as_int64() > 1 && part->as_int64() < 1000)
    marker.part = static_cast<std::uint32_t>(part->as_int64());
  return marker;
}

std::optional<call_marker> read_call_marker(const std::filesystem::path& directory) {
  const auto text = read_small_file(directory / call_marker_name);
  if (!text)
    return std::nullopt;
  return parse_call_marker(*text);
}

std::filesystem::path make_marked_call_directory(const std::filesystem::path& root,
                                                 const call_marker& marker, std::string& error) {
  auto directory = make_call_directory(root, utc_date(marker.started_at), marker.identity.call_sid,
                                       error, marker.part);
  if (directory.empty())
    return directory;
  if (auto written = write_new_file(directory / call_marker_name, call_marker_json(marker));
      !written.empty())
    error = "call marker not written (a crash would leave this call unfinished): " + written;
  return directory;
}

void remove_call_marker(const std::filesystem::path& directory) {
  std::error_code ec;
  std::filesystem::remove(directory / call_marker_name, ec);
}

std::vector<std::filesystem::path> find_unfinished_calls(const std::filesystem::path& root,
                                                         std::string_view node_name) {
  std::vector<std::filesystem::path> found;
  for (auto& directory : call_directories(root)) {
    if (!file_exists(directory / call_marker_name))
      continue;
    const auto marker = read_call_marker(directory);
    // A marker that does not parse was written by no node of ours (they are written whole).
    if (marker && marker->node == node_name && marker->process != process_instance_id())
      found.push_back(std::move(directory));
  }
  return found;
}

recovered_call recover_call_directory(const std::filesystem::path& directory,
                                      std::string_view finisher,
                                      std::chrono::system_clock::time_point now) {
  recovered_call result;
  result.directory = directory;
  if (file_exists(directory / "call.json")) {
    // The call was finished; the process died before its marker went.
    result.finished_before = true;
    remove_call_marker(directory);
    return result;
  }
  auto marker = read_call_marker(directory);
  call_record record;
  if (marker) {
    record.identity = marker->identity;
    record.started_at = marker->started_at;
  } else {
    // No marker (or an unreadable one): the directory's name is the CallSid (-2, -3 removed).
    auto name = directory.filename().string();
    if (const auto dash = name.find('-'); dash != std::string::npos)
      name.resize(dash);
    record.identity.call_sid = name;
    std::error_code ec;
    const auto written = std::filesystem::last_write_time(directory, ec);
    record.started_at = ec ? now
                           : std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                                 std::chrono::file_clock::to_sys(written));
  }
  record.end_reason = node_crashed_end_reason;
  record.problems.push_back("node crashed: call finished by " + std::string(finisher) + " at " +
                            iso8601_utc(now) + "; transcript and counts lost");

  std::uint64_t longest_ms = 0;
  std::vector<std::string> tracks_ok;
  for (const char* track : {"caller", "agent"}) {
    const auto path = directory / (std::string(track) + ".wav");
    if (!file_exists(path))
      continue;
    recording_summary summary{track, path.string(), 0, 0, ""};
    auto repaired = audio::repair_wav(path.string());
    if (!repaired) {
      summary.error = repaired.error().message;
      result.notes.push_back(std::string(track) + ".wav: " + repaired.error().message);
    } else {
      result.notes.push_back(std::string(track) + ".wav: " +
                             (repaired->changed ? "repaired, " + repaired->summary
                                                : std::string("already consistent")));
      if (auto info = audio::parse_wav_file(path.string()); info) {
        summary.samples = info->frames();
        longest_ms = std::max(longest_ms, info->duration_ms());
        tracks_ok.push_back(track);
      } else {
        summary.error = info.error().message;
      }
    }
    if (!summary.error.empty())
      record.problems.push_back(std::string(track) + " recording: " + summary.error);
    record.files.push_back(std::string(track) + ".wav");
    record.recordings.push_back(std::move(summary));
  }
  if (tracks_ok.size() == 2) {
    const auto stereo = directory / "stereo.wav";
    const auto mono = directory / "mono.wav";
    // Mixes are written whole (temporary name, then link): one that exists is complete. When
    // only one of them made it, both are made again from the tracks.
    if (!(file_exists(stereo) && file_exists(mono))) {
      std::error_code ec;
      std::filesystem::remove(stereo, ec);
      std::filesystem::remove(mono, ec);
      auto mixed = audio::mix_tracks((directory / "caller.wav").string(),
                                     (directory / "agent.wav").string(), directory.string());
      if (!mixed)
        record.problems.push_back("mix: " + mixed.error().message);
    }
    if (file_exists(stereo) && file_exists(mono)) {
      record.files.emplace_back("stereo.wav");
      record.files.emplace_back("mono.wav");
    }
  }
  // What is known of the end: the call lasted at least as long as its longer track.
  record.ended_at = record.started_at + std::chrono::milliseconds(longest_ms);
  record.files.emplace_back("call.json");
  if (auto error = write_new_file(directory / "call.json", call_json(record)); !error.empty()) {
    result.error = error;
    return result;
  }
  remove_call_marker(directory);

  call_view view;
  view.identity = record.identity;
  view.direction = marker && !marker->direction.empty() ? marker->direction : "inbound";
  view.state = call_state::ended;
  view.started_at = record.started_at;
  view.ended_at = record.ended_at;
  view.end_reason = record.end_reason;
  view.directory = directory;
  view.files = record.files;
  result.view = std::move(view);
  return result;
}

recovery_summary recover_unfinished_calls(const std::filesystem::path& root,
                                          const std::string& node_name, call_directory& directory,
                                          std::chrono::system_clock::time_point now) {
  const auto start = std::chrono::steady_clock::now();
  recovery_summary summary;
  const auto unfinished = find_unfinished_calls(root, node_name);
  summary.found = unfinished.size();
  for (const auto& path : unfinished) {
    auto recovered = recover_call_directory(path, "node " + node_name + " at its restart", now);
    if (!recovered.error.empty()) {
      ++summary.failed;
      spdlog::error("call left unfinished in {}: call.json not written: {}", path.string(),
                    recovered.error);
      continue;
    }
    if (recovered.finished_before)
      continue;
    ++summary.finished;
    summary.finished_now.push_back(path);
    spdlog::warn("[call {}] finished after a crash of this node: {} ({})",
                 recovered.view->identity.call_sid, path.string(),
                 fmt::join(recovered.notes, "; "));
    directory.recovered(std::move(*recovered.view));
  }
  summary.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return summary;
}

void spawn_call_recovery(caf::actor_system& system, std::filesystem::path root,
                         std::string node_name, std::shared_ptr<call_directory> directory,
                         std::function<void(const recovery_summary&)> then) {
  // Arguments rather than captures: see spawn_call_finaliser.
  system.spawn<caf::detached>(
      [](caf::event_based_actor* self, std::filesystem::path recordings, std::string node,
         std::shared_ptr<call_directory> calls,
         std::function<void(const recovery_summary&)> and_then) {
        const auto summary =
            recover_unfinished_calls(recordings, node, *calls, std::chrono::system_clock::now());
        if (summary.found != 0) {
          spdlog::warn(
              "{} call(s) left unfinished by an earlier process of node {}: {} finished, {} "
              "failed, in {} ms",
              summary.found, node, summary.finished, summary.failed, summary.took.count());
        }
        if (and_then)
          and_then(summary);
        self->quit();
      },
      std::move(root), std::move(node_name), std::move(directory), std::move(then));
}

}  // namespace switchboard::actors
