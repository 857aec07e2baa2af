#include "sim/speech_fixtures.hpp"

#include <cstddef>

namespace switchboard::sim {

namespace embedded {
extern const std::uint8_t agent_greeting_ulaw[];
extern const std::size_t agent_greeting_ulaw_size;
extern const std::uint8_t agent_answer_ulaw[];
extern const std::size_t agent_answer_ulaw_size;
extern const std::uint8_t caller_request_ulaw[];
extern const std::size_t caller_request_ulaw_size;
extern const std::uint8_t caller_interruption_ulaw[];
extern const std::size_t caller_interruption_ulaw_size;
}  // namespace embedded

std::span<const std::uint8_t> fixture_audio(speech_fixture fixture) {
  switch (fixture) {
    case speech_fixture::agent_greeting:
      return {embedded::agent_greeting_ulaw, embedded::agent_greeting_ulaw_size};
    case speech_fixture::agent_answer:
      return {embedded::agent_answer_ulaw, embedded::agent_answer_ulaw_size};
    case speech_fixture::caller_request:
      return {embedded::caller_request_ulaw, embedded::caller_request_ulaw_size};
    case speech_fixture::caller_interruption:
      return {embedded::caller_interruption_ulaw, embedded::caller_interruption_ulaw_size};
  }
  return {};
}

std::string_view fixture_text(speech_fixture fixture) {
  // Kept in step with scripts/make-fixtures.
  switch (fixture) {
    case speech_fixture::agent_greeting:
      return "Hello, thanks for calling the Harbor Bistro. I can help you book a table, check our "
             "opening hours, or answer questions about the menu. What can I do for you today?";
    case speech_fixture::agent_answer:
      return "Of course. A table for three tonight. What time would you like to come in?";
    case speech_fixture::caller_request:
      return "Hi, I would like to book a table for two people tonight, please.";
    case speech_fixture::caller_interruption:
      return "Sorry, actually, can we make that three people?";
  }
  return {};
}

}  // namespace switchboard::sim
