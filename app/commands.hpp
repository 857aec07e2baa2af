#pragma once
// The switchboard commands. Each takes the arguments after its name and returns the process
// exit status: 0 success, 1 the command failed, 2 usage or configuration error.

#include <span>
#include <string>

namespace switchboard::app {

int run_serve(std::span<const std::string> arguments);
int run_mix(std::span<const std::string> arguments);
/// `switchboard join PART_DIR... --out DIR`: a handed-over call's parts, each recorded on its
/// node, joined on the call's timeline into one caller.wav, agent.wav, stereo.wav and mono.wav.
int run_join(std::span<const std::string> arguments);
int run_repair(std::span<const std::string> arguments);
int run_settings(std::span<const std::string> arguments);
int run_demo(std::span<const std::string> arguments);
int run_loadgen(std::span<const std::string> arguments);

}  // namespace switchboard::app
