#pragma once
// Speech the simulators play: made with espeak-ng (scripts/make-fixtures), shipped as raw
// G.711 μ-law 8 kHz mono and compiled into the binary, so the demo needs no files.

#include <cstdint>
#include <span>
#include <string_view>

namespace switchboard::sim {

enum class speech_fixture {
  agent_greeting,       // the model stand-in's first answer (~10.7 s: long enough to interrupt)
  agent_answer,         // its later answers (~4.9 s)
  caller_request,       // the simulated caller's first turn (~4.3 s)
  caller_interruption,  // what the caller says over the agent (~3 s)
};

std::span<const std::uint8_t> fixture_audio(speech_fixture fixture);
/// The words spoken, for transcripts.
std::string_view fixture_text(speech_fixture fixture);

}  // namespace switchboard::sim
