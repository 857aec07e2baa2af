// libFuzzer target: TwiML as the simulated Twilio reads it, and TwiML as the bridge writes it.
// Hostile XML must parse or fail with a message; any URL and parameter text we write must read
// back unchanged.

#include "net/twiml.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchboard::net;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto parsed = parse_connect_stream_twiml(text); !parsed && parsed.error().empty()) {
    std::abort();
  }
  // XML 1.0 cannot carry control characters other than tab, CR and LF; the bridge only writes
  // URLs and phone-call parameters, so keep to printable text for the round trip.
  std::string printable;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7F)
      printable.push_back(c);
  }
  const auto half = printable.size() / 2;
  const std::string url = "wss://example.com/" + printable.substr(0, half);
  const std::vector<form_parameter> parameters{{"p", printable.substr(half)}};
  const auto round_trip = parse_connect_stream_twiml(connect_stream_twiml(url, parameters));
  if (!round_trip || round_trip->url != url || round_trip->parameters.size() != 1 ||
      round_trip->parameters[0].value != parameters[0].value) {
    std::abort();
  }
  return 0;
}
