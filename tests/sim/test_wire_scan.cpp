// The load generator's fast paths read what net/'s serialisers write, write what they write,
// and give up (so that the full parser decides) on anything outside their subset.
#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"
#include "sim/wire_scan.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace net = switchboard::net;
namespace sim = switchboard::sim;

namespace {

std::vector<std::uint8_t> frame_bytes() {
  std::vector<std::uint8_t> bytes(160);
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<std::uint8_t>(i * 13 + 7);
  return bytes;
}

constexpr const char* stream_sid = "MZ0123456789abcdef0123456789abcdef";

}  // namespace

TEST_CASE("the bridge's media and mark are scanned as net/ writes them", "[wire_scan]") {
  const auto payload = net::encode_base64(frame_bytes());
  std::string media;
  net::append_twilio_media(media, stream_sid, std::string_view(payload));
  const auto scanned_media = sim::scan_twilio_outbound(media);
  REQUIRE(scanned_media.has_value());
  CHECK(scanned_media->event == sim::scanned_twilio_outbound::kind::media);
  CHECK(scanned_media->stream_sid == stream_sid);
  CHECK(scanned_media->payload_base64 == payload);

  std::string mark;
  net::append_twilio_mark(mark, stream_sid, "agent-17");
  const auto scanned_mark = sim::scan_twilio_outbound(mark);
  REQUIRE(scanned_mark.has_value());
  CHECK(scanned_mark->event == sim::scanned_twilio_outbound::kind::mark);
  CHECK(scanned_mark->stream_sid == stream_sid);
  CHECK(scanned_mark->mark_name == "agent-17");

  // Any order and whitespace, as JSON allows.
  const auto spaced = sim::scan_twilio_outbound(
      R"( { "mark" : { "name" : "x" } , "streamSid" : "MZ1", "event" : "mark" } )");
  REQUIRE(spaced.has_value());
  CHECK(spaced->mark_name == "x");
  CHECK(spaced->stream_sid == "MZ1");
}

TEST_CASE("the Twilio scanner leaves everything else to the parser", "[wire_scan]") {
  std::string clear;
  net::append_twilio_clear(clear, stream_sid);
  for (const std::string& text : {
           clear,  // not scanned
           std::string(R"({"event":"mark","streamSid":"MZ1","mark":{"name":"a\"b"}})"),  // escape
           std::string(R"({"event":"mark","streamSid":"MZ1","mark":{"name":"é"}})"),     // UTF-8
           std::string(R"({"event":"media","streamSid":"MZ1","media":{"payload":1}})"),  // a number
           std::string(R"({"event":"media","streamSid":"MZ1","media":"AAAA"})"),  // no object
           std::string(R"({"event":"media","streamSid":"MZ1"})"),                 // no payload
           std::string(R"({"event":"media","media":{"payload":"AAAA"}})"),        // no streamSid
           std::string(R"({"event":"media","streamSid":"MZ1","media":{"payload":"AAAA"}} x)"),
           std::string(R"({"event":"media","streamSid":"MZ1","media":{"payload":"AAAA"})"),
           std::string(R"({"event":"media","streamSid":"MZ1","x":[1],"media":{"payload":"A"}})"),
           std::string(R"({"event":"media","streamSid":"MZ1","x":01,"media":{"payload":"A"}})"),
           std::string(R"({"event":"media","streamSid":"MZ1","x":{"y":{}},"media":{}})"),
           std::string("not json"),
       }) {
    INFO(text);
    CHECK_FALSE(sim::scan_twilio_outbound(text).has_value());
  }
  // Numbers and literals elsewhere are read over.
  CHECK(
      sim::scan_twilio_outbound(
          R"({"event":"media","n":-1.5e+3,"t":true,"z":null,"streamSid":"MZ1","media":{"payload":"AAAA"}})")
          .has_value());
}

TEST_CASE("an append is scanned with or without its event id", "[wire_scan]") {
  const auto audio = frame_bytes();
  const auto base64 = net::encode_base64(audio);
  for (const std::string_view event_id : {"", "evt_42"}) {
    std::string append;
    net::append_realtime_audio_append(append, std::span<const std::uint8_t>(audio), event_id);
    const auto scanned = sim::scan_realtime_audio_append(append);
    REQUIRE(scanned.has_value());
    CHECK(*scanned == base64);
  }
  std::string commit;
  net::append_realtime_client_event(
      commit, net::realtime_other_client_event{"", "input_audio_buffer.commit"});
  for (const std::string& text : {
           commit,
           std::string(R"({"type":"input_audio_buffer.append","event_id":7,"audio":"AAAA"})"),
           std::string(R"({"type":"input_audio_buffer.append","audio":null})"),
           std::string(R"({"type":"input_audio_buffer.append"})"),
       }) {
    INFO(text);
    CHECK_FALSE(sim::scan_realtime_audio_append(text).has_value());
  }
}

TEST_CASE("the fast writers write what net/ writes", "[wire_scan]") {
  const auto audio = frame_bytes();
  net::twilio_media media;
  media.sequence_number = 1234;
  media.stream_sid = stream_sid;
  media.track = "inbound";
  media.chunk = 1233;
  media.timestamp_ms = 24640;
  media.payload_base64 = net::encode_base64(audio);
  std::string expected;
  net::append_twilio_message(expected, net::twilio_inbound(media));
  std::string written;
  sim::append_twilio_media_frame(written, media.sequence_number, media.stream_sid, media.track,
                                 media.chunk, media.timestamp_ms, audio);
  CHECK(written == expected);

  for (const std::string_view event_id : {"", "event_abcd1234000042"}) {
    net::realtime_audio_delta delta{std::string(event_id), "resp_1", "item_2", 0, 0,
                                    media.payload_base64};
    expected.clear();
    net::append_realtime_server_event(expected, net::realtime_server_event(delta));
    written.clear();
    sim::append_realtime_audio_delta(written, event_id, "resp_1", "item_2", media.payload_base64);
    CHECK(written == expected);
  }

  std::string decimal;
  sim::append_decimal(decimal, 0);
  sim::append_decimal(decimal, 18'446'744'073'709'551'615ULL);
  CHECK(decimal == "018446744073709551615");
}
