// libFuzzer target: the Twilio Media Streams codec. Any input must parse or fail cleanly; what
// parses must serialise and parse back to an equal value, in both directions.

#include "net/base64.hpp"
#include "net/twilio_messages.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace switchboard::net;

void require(bool condition, const char* what, const std::string& json) {
  if (condition)
    return;
  std::fprintf(stderr, "round trip failed: %s\n%s\n", what, json.c_str());
  std::abort();
}

void check_inbound(std::string_view text) {
  const auto parsed = parse_twilio_message(text);
  if (!parsed) {
    require(!parsed.error().detail.empty(), "an error names what was wrong", std::string(text));
    return;
  }
  std::string out;
  append_twilio_message(out, *parsed);
  const auto again = parse_twilio_message(out);
  require(again.has_value() && *again == *parsed, "inbound message", out);

  // What the bridge would send back for this stream.
  const auto* media = std::get_if<twilio_media>(&*parsed);
  if (media != nullptr) {
    // The string overload trusts its payload to be base64; only feed it decodable payloads.
    if (const auto mulaw = decode_base64(media->payload_base64)) {
      out.clear();
      append_twilio_media(out, media->stream_sid, *mulaw);
      const auto outbound = parse_twilio_outbound(out);
      require(outbound.has_value(), "media from bytes", out);
      const auto& sent = std::get<twilio_outbound_media>(*outbound);
      require(sent.stream_sid == media->stream_sid && decode_base64(sent.payload_base64) == mulaw,
              "media from bytes: fields", out);
      out.clear();
      append_twilio_media(out, media->stream_sid, media->payload_base64);
      const auto verbatim = parse_twilio_outbound(out);
      require(verbatim.has_value() &&
                  std::get<twilio_outbound_media>(*verbatim) ==
                      twilio_outbound_media{media->stream_sid, media->payload_base64},
              "media from base64", out);
    }
  }
  if (const auto* mark = std::get_if<twilio_mark>(&*parsed)) {
    out.clear();
    append_twilio_mark(out, mark->stream_sid, mark->name);
    const auto mark_end = out.size();
    append_twilio_clear(out, mark->stream_sid);
    const auto sent = parse_twilio_outbound(std::string_view(out).substr(0, mark_end));
    require(sent.has_value() && std::get<twilio_outbound_mark>(*sent) ==
                                    twilio_outbound_mark{mark->stream_sid, mark->name},
            "mark", out);
    const auto clear = parse_twilio_outbound(std::string_view(out).substr(mark_end));
    require(
        clear.has_value() && std::get<twilio_outbound_clear>(*clear).stream_sid == mark->stream_sid,
        "clear", out);
  }
}

void check_outbound(std::string_view text) {
  const auto parsed = parse_twilio_outbound(text);
  if (!parsed)
    return;
  std::string out;
  if (const auto* mark = std::get_if<twilio_outbound_mark>(&*parsed)) {
    append_twilio_mark(out, mark->stream_sid, mark->name);
  } else if (const auto* clear = std::get_if<twilio_outbound_clear>(&*parsed)) {
    append_twilio_clear(out, clear->stream_sid);
  } else {
    const auto& media = std::get<twilio_outbound_media>(*parsed);
    if (!decode_base64(media.payload_base64))
      return;
    append_twilio_media(out, media.stream_sid, media.payload_base64);
  }
  const auto again = parse_twilio_outbound(out);
  require(again.has_value() && *again == *parsed, "outbound message", out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_inbound(text);
  check_outbound(text);
  return 0;
}
