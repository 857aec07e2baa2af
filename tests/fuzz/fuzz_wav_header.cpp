// libFuzzer target: the RIFF/WAVE parser behind `mix` and `repair`. Any bytes must parse or
// fail with a message; what parses must describe data inside the input.

#include "audio/wav_format.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchboard::audio;
  const std::span<const std::uint8_t> bytes(data, size);
  for (const auto strictness : {wav_strictness::strict, wav_strictness::lenient}) {
    const auto parsed = parse_wav_bytes(bytes, "fuzz", strictness);
    if (!parsed) {
      if (parsed.error().message.empty())
        std::abort();
      continue;
    }
    if (parsed->data_offset > size)
      std::abort();
    if (strictness == wav_strictness::lenient && parsed->data_offset + parsed->data_bytes > size) {
      std::abort();
    }
  }
  return 0;
}
