#pragma once
// What the bridge itself says to a caller when the agent cannot: short prompts made with
// espeak-ng (scripts/make-prompts), shipped as raw G.711 μ-law 8 kHz mono — the format Twilio
// plays — and compiled into the binary, so they play with no file, no network and no account.

#include <cstdint>
#include <span>
#include <string_view>

namespace switchboard::audio {

/// Played before the bridge hangs up because the model could not be reached or went silent
/// (~4.8 s), so that a caller does not hear dead air and then a click.
std::span<const std::uint8_t> model_unavailable_prompt();
/// Its words, for the call's transcript.
std::string_view model_unavailable_prompt_text();

}  // namespace switchboard::audio
