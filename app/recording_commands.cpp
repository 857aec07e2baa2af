// `switchboard mix` and `switchboard repair`: thin command-line faces of audio/.
#include "actors/call_recovery.hpp"
#include "app/commands.hpp"
#include "audio/mixer.hpp"
#include "audio/wav_repair.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <vector>

namespace switchboard::app {

namespace {
constexpr std::string_view mix_usage = "usage: switchboard mix CALLER.wav AGENT.wav --out DIR\n";
constexpr std::string_view repair_usage = "usage: switchboard repair FILE|DIR\n";

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
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const auto& argument = arguments[i];
    if (argument == "--out" && i + 1 < arguments.size()) {
      out_dir = arguments[++i];
    } else if (argument.starts_with("--out=")) {
      out_dir = argument.substr(6);
    } else if (argument.starts_with("-")) {
      std::cerr << "switchboard mix: unknown option '" << argument << "'\n" << mix_usage;
      return 2;
    } else {
      inputs.push_back(argument);
    }
  }
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
