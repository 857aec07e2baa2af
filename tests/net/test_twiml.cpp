#include "net/twiml.hpp"

#include <catch2/catch.hpp>

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
