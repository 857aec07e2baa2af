// `switchboard mix`, `switchboard join` and `switchboard repair`: thin command-line faces of
// audio/.
#include "actors/call_recovery.hpp"
#include "app/commands.hpp"
#include "audio/mixer.hpp"
#include "audio/part_join.hpp"
#include "audio/wav_repair.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <vector>

namespace switchboard::app {

namespace {
constexpr std::string_view mix_usage = "usage: switchboard mix CALLER.wav AGENT.wav --out DIR\n";
constexpr std::string_view repair_usage = "usage: switchboard repair FILE|DIR\n";
constexpr std::string_view join_usage = "usage: switchboard join PART_DIR... --out DIR\n";

/// Positional arguments and --out DIR (or --out=DIR); false after printing why (usage).
bool inputs_and_out_dir(std::span<const std::string> arguments, std::string_view command,
                        std::string_view usage, std::vector<std::string>& inputs,
                        std::string& out_dir) {
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const auto& argument = arguments[i];
    if (argument == "--out" && i + 1 < arguments.size()) {
      out_dir = arguments[++i];
    } else if (argument.starts_with("--out=")) {
      out_dir = argument.substr(6);
    } else if (argument.starts_with("-")) {
      std::cerr << "switchboard " << command << ": unknown option '" << argument << "'\n" << usage;
      return false;
    } else {
      inputs.push_back(argument);
    }
  }
  return true;
}

/// One part of a call, as its call.json places it.
struct recorded_part {
  std::filesystem::path directory;
  std::string call_sid;
  std::uint64_t number = 1;     // "part" (absent: the call had one part)
  std::uint64_t offset_ms = 0;  // "part_offset_ms" on the call's timeline
};

std::optional<recorded_part> read_recorded_part(const std::filesystem::path& directory,
                                                std::string& error) {
  std::ifstream in(directory / "call.json", std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(text, ec);
  if (ec || !parsed.is_object()) {
    error = (directory / "call.json").string() + " is missing or not a call's summary";
    return std::nullopt;
  }
  const auto& call = parsed.as_object();
  recorded_part part;
  part.directory = directory;
  const auto* sid = call.if_contains("call_sid");
  if (sid == nullptr || !sid->is_string()) {
    error = (directory / "call.json").string() + " names no call_sid";
    return std::nullopt;
  }
  part.call_sid = std::string(sid->as_string());
  const auto number = [&](std::string_view key, std::uint64_t fallback) {
    const auto* value = call.if_contains(key);
    return value != nullptr && value->is_uint64() ? value->as_uint64()
           : value != nullptr && value->is_int64() && value->as_int64() >= 0
               ? static_cast<std::uint64_t>(value->as_int64())
               : fallback;
  };
  part.number = number("part", 1);
  part.offset_ms = number("part_offset_ms", 0);
  return part;
}

/// A call's directory that its node did not finish: its marker is there, or its tracks are and
/// its call.json is not.
bool is_unfinished_call_directory(const std::filesystem::path& directory) {
  std::error_code ec;
  if (std::filesystem::exists(directory / actors::call_marker_name, ec))
    return true;
  return !std::filesystem::exists(directory / "call.json", ec) &&
         (std::filesystem::exists(directory / "caller.wav", ec) ||
          std::filesystem::exists(directory / "agent.wav", ec));
}

int finish_call_directory(const std::filesystem::path& directory) {
  const auto recovered = actors::recover_call_directory(directory, "switchboard repair",
                                                        std::chrono::system_clock::now());
  for (const auto& note : recovered.notes)
    std::cout << (directory / note).string() << "\n";
  if (recovered.finished_before) {
    std::cout << directory.string() << ": already finished (call.json there), marker removed\n";
    return 0;
  }
  if (!recovered.error.empty()) {
    std::cerr << "switchboard repair: " << recovered.error << "\n";
    return 1;
  }
  std::cout << directory.string() << ": call finished, call.json written (end_reason \""
            << actors::node_crashed_end_reason << "\", "
            << (recovered.view->ended_at - recovered.view->started_at) /
                   std::chrono::milliseconds(1)
            << " ms)\n";
  return 0;
}
}  // namespace

int run_mix(std::span<const std::string> arguments) {
  std::vector<std::string> inputs;
  std::string out_dir;
  if (!inputs_and_out_dir(arguments, "mix", mix_usage, inputs, out_dir))
    return 2;
  if (inputs.size() != 2 || out_dir.empty()) {
    std::cerr << mix_usage;
    return 2;
  }
  auto mixed = audio::mix_tracks(inputs[0], inputs[1], out_dir);
  if (!mixed) {
    std::cerr << "switchboard mix: " << mixed.error().message << "\n";
    return 1;
  }
  std::cout << "stereo: " << mixed->stereo_path << "\n"
            << "mono:   " << mixed->mono_path << "\n"
            << "length: " << mixed->duration_ms << " ms";
  if (mixed->clipped_samples != 0)
    std::cout << " (" << mixed->clipped_samples << " samples clipped)";
  std::cout << "\n";
  return 0;
}

int run_join(std::span<const std::string> arguments) {
  std::vector<std::string> inputs;
  std::string out_dir;
  if (!inputs_and_out_dir(arguments, "join", join_usage, inputs, out_dir))
    return 2;
  if (inputs.empty() || out_dir.empty()) {
    std::cerr << join_usage;
    return 2;
  }
  std::vector<recorded_part> parts;
  for (const auto& input : inputs) {
    std::string error;
    auto part = read_recorded_part(input, error);
    if (!part) {
      std::cerr << "switchboard join: " << error << "\n";
      return 1;
    }
    if (!parts.empty() && part->call_sid != parts.front().call_sid) {
      std::cerr << "switchboard join: " << input << " is a part of " << part->call_sid
                << ", not of " << parts.front().call_sid << "\n";
      return 1;
    }
    parts.push_back(std::move(*part));
  }
  std::sort(parts.begin(), parts.end(),
            [](const recorded_part& a, const recorded_part& b) { return a.number < b.number; });
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    std::cerr << "switchboard join: cannot create " << out_dir << ": " << ec.message() << "\n";
    return 1;
  }
  for (const char* track : {"caller.wav", "agent.wav"}) {
    std::vector<audio::part_track> tracks;
    for (const auto& part : parts)
      tracks.push_back({(part.directory / track).string(), part.offset_ms});
    const auto joined =
        audio::join_part_tracks(tracks, (std::filesystem::path(out_dir) / track).string());
    if (!joined) {
      std::cerr << "switchboard join: " << joined.error().message << "\n";
      return 1;
    }
    std::cout << track << ": " << joined->samples / 8 << " ms from " << parts.size() << " parts ("
              << joined->silence_samples / 8 << " ms of gaps filled with silence, "
              << joined->cut_samples / 8 << " ms of overlap cut)\n";
  }
  const auto out = std::filesystem::path(out_dir);
  auto mixed =
      audio::mix_tracks((out / "caller.wav").string(), (out / "agent.wav").string(), out_dir);
  if (!mixed) {
    std::cerr << "switchboard join: " << mixed.error().message << "\n";
    return 1;
  }
  std::cout << "stereo: " << mixed->stereo_path << "\n"
            << "mono:   " << mixed->mono_path << "\n";
  return 0;
}

int run_repair(std::span<const std::string> arguments) {
  if (arguments.size() != 1 || arguments[0].starts_with("-")) {
    std::cerr << repair_usage;
    return 2;
  }
  const std::filesystem::path target = arguments[0];
  std::error_code ec;
  if (std::filesystem::is_directory(target, ec) && is_unfinished_call_directory(target))
    return finish_call_directory(target);
  std::vector<std::string> files;
  if (std::filesystem::is_directory(target, ec)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(target, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".wav") {
        files.push_back(entry.path().string());
      }
    }
    if (ec) {
      std::cerr << "switchboard repair: cannot list " << target << ": " << ec.message() << "\n";
      return 1;
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      std::cerr << "switchboard repair: no .wav files under " << target << "\n";
      return 1;
    }
  } else {
    files.push_back(target.string());
  }
  int status = 0;
  for (const auto& file : files) {
    auto repaired = audio::repair_wav(file);
    if (!repaired) {
      std::cerr << "switchboard repair: " << repaired.error().message << "\n";
      status = 1;
      continue;
    }
    std::cout << file << ": "
              << (repaired->changed ? "repaired, " + repaired->summary : "already consistent")
              << "\n";
  }
  return status;
}

}  // namespace switchboard::app
