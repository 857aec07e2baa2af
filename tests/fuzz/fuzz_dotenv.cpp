// libFuzzer target: the .env parser. Any text must parse or fail with errors that name a line;
// what parses must have non-empty keys.

#include "config/dotenv.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = switchboard::config::parse_dotenv(text, ".env");
  if (!parsed) {
    if (parsed.error().errors.empty())
      std::abort();
    for (const auto& error : parsed.error().errors) {
      if (error.message.empty())
        std::abort();
    }
    return 0;
  }
  for (const auto& entry : *parsed) {
    if (entry.key.empty() || entry.line == 0)
      std::abort();
  }
  return 0;
}
