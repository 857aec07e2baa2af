#include "net/twiml.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

using namespace switchboard::net;

TEST_CASE("Connect/Stream TwiML carries the stream URL and parameters, escaped", "[twiml]") {
  const std::vector<form_parameter> parameters{{"From", "+14155550100"},
                                               {"Note", R"(a "quoted" <b> & 'c')"}};
  const auto xml = connect_stream_twiml("wss://voice.example.com/media-stream", parameters);
  CHECK(xml.find(R"(<Stream url="wss://voice.example.com/media-stream">)") != std::string::npos);
  CHECK(xml.find("&quot;quoted&quot; &lt;b&gt; &amp; &apos;c&apos;") != std::string::npos);

  auto parsed = parse_connect_stream_twiml(xml);
  REQUIRE(parsed.has_value());
  CHECK(parsed->url == "wss://voice.example.com/media-stream");
  REQUIRE(parsed->parameters.size() == 2);
  CHECK(parsed->parameters[0].name == "From");
  CHECK(parsed->parameters[0].value == "+14155550100");
  CHECK(parsed->parameters[1].value == R"(a "quoted" <b> & 'c')");
}

TEST_CASE("TwiML without a stream, or not XML, is an error", "[twiml]") {
  CHECK_FALSE(parse_connect_stream_twiml("<Response><Say>hi</Say></Response>").has_value());
  CHECK_FALSE(parse_connect_stream_twiml("not xml <").has_value());
  CHECK_FALSE(
      parse_connect_stream_twiml("<Response><Connect><Stream/></Connect></Response>").has_value());
}

TEST_CASE("a parameter holding control characters still makes readable TwiML", "[twiml][hostile]") {
  const std::string hostile("+1\x01\x1b<x/>\x00z", 10);
  const std::vector<form_parameter> parameters{{"From", hostile}};
  const auto xml = connect_stream_twiml("wss://voice.example.com/media-stream", parameters);
  // XML 1.0 forbids these outright (a strict parser such as Twilio's refuses the document).
  CHECK(std::none_of(xml.begin(), xml.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r';
  }));
  auto parsed = parse_connect_stream_twiml(xml);
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->parameters.size() == 1);
  CHECK(parsed->parameters[0].value == "+1\xEF\xBF\xBD\xEF\xBF\xBD<x/>\xEF\xBF\xBDz");
}
