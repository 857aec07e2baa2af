#include "audio/prompts.hpp"

#include <cstddef>

namespace switchboard::audio {

namespace embedded {
extern const std::uint8_t model_unavailable_ulaw[];
extern const std::size_t model_unavailable_ulaw_size;
}  // namespace embedded

std::span<const std::uint8_t> model_unavailable_prompt() {
  return {embedded::model_unavailable_ulaw, embedded::model_unavailable_ulaw_size};
}

std::string_view model_unavailable_prompt_text() {
  // Kept in step with scripts/make-prompts.
  return "Sorry, our assistant cannot take your call right now. Please try again later.";
}

}  // namespace switchboard::audio
