#include "net/http_client.hpp"
#include "net/twilio_signature.hpp"
#include "net/twilio_webhook.hpp"
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

TEST_CASE("Connect TwiML names its action URL and the parser reads it back with its method",
          "[twiml]") {
  const std::vector<form_parameter> parameters{{"CallSid", "CA1"}};
  const auto xml = connect_stream_twiml("wss://voice.example.com/media-stream", parameters,
                                        "https://voice.example.com/connect-action?a=1&b=2");
  CHECK(xml.find(R"(<Connect action="https://voice.example.com/connect-action?a=1&amp;b=2">)") !=
        std::string::npos);
  auto parsed = parse_connect_stream_twiml(xml);
  REQUIRE(parsed.has_value());
  CHECK(parsed->action == "https://voice.example.com/connect-action?a=1&b=2");
  CHECK(parsed->action_method == "POST");

  // Without one, nothing: Twilio then ends the call with the stream.
  const auto without = parse_connect_stream_twiml(
      connect_stream_twiml("wss://voice.example.com/media-stream", parameters));
  REQUIRE(without.has_value());
  CHECK(without->action.empty());
  CHECK(connect_stream_twiml("wss://x/media-stream", parameters).find("action=") ==
        std::string::npos);

  const auto get = parse_connect_stream_twiml(
      R"(<Response><Connect action="/next" method="GET"><Stream url="wss://x/s"/></Connect></Response>)");
  REQUIRE(get.has_value());
  CHECK(get->action == "/next");
  CHECK(get->action_method == "GET");
  CHECK_FALSE(
      parse_connect_stream_twiml(
          R"(<Response><Connect action="/next" method="PUT"><Stream url="wss://x/s"/></Connect></Response>)")
          .has_value());
}

TEST_CASE("Hangup TwiML is read as a hang-up with nothing said", "[twiml]") {
  const auto said = parse_say_and_hang_up_twiml(hang_up_twiml());
  REQUIRE(said.has_value());
  CHECK(said->empty());
  CHECK_FALSE(parse_connect_stream_twiml(hang_up_twiml()).has_value());
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

TEST_CASE("Say-and-hang-up TwiML: the message escaped, XML-forbidden characters dropped",
          "[twiml]") {
  const auto xml = say_and_hang_up_twiml("Lines <busy> & \"full\"\x01, call 'later'");
  CHECK(xml == R"(<?xml version="1.0" encoding="UTF-8"?><Response><Say>Lines &lt;busy&gt; &amp; )"
               R"(&quot;full&quot;, call &apos;later&apos;</Say><Hangup/></Response>)");
  CHECK(parse_say_and_hang_up_twiml(xml) == std::string(R"(Lines <busy> & "full", call 'later')"));
  // Not a refusal: a stream, no hang-up, or not XML.
  CHECK_FALSE(parse_say_and_hang_up_twiml(connect_stream_twiml("wss://h/media-stream", {})));
  CHECK_FALSE(parse_say_and_hang_up_twiml("<Response><Say>hi</Say></Response>"));
  CHECK_FALSE(parse_say_and_hang_up_twiml("not xml <"));
  CHECK(parse_say_and_hang_up_twiml("<Response><Hangup/></Response>") == std::string());
}

TEST_CASE("the webhook asks admission only for a signed call and says FULL_MESSAGE when refused",
          "[twiml]") {
  twilio_webhook_settings settings;
  settings.public_url = "https://voice.example.com";
  settings.auth_token = "secret";
  settings.full_message = "We are full & sorry.";
  const auto tokens = call_token_issuer::from_secret("secret");
  const std::vector<form_parameter> form{{"CallSid", "CA1"}, {"From", "+14155550100"}};
  http_request request;
  request.method = "POST";
  request.target = "/incoming-call";
  request.body = encode_form_body(form);
  request.headers = {
      {"X-Twilio-Signature",
       compute_twilio_signature("secret", "https://voice.example.com/incoming-call", form)}};
  std::vector<std::string> asked;
  bool room = false;
  const admit_call admit = [&](std::string_view call_sid) {
    asked.emplace_back(call_sid);
    return room;
  };
  const auto now = std::chrono::system_clock::now();

  auto refused = answer_incoming_call(request, settings, tokens, now, admit);
  CHECK(refused.status == 200);  // Twilio plays TwiML only from a 200
  CHECK(refused.content_type == "text/xml");
  CHECK(parse_say_and_hang_up_twiml(refused.body) == std::string("We are full & sorry."));
  CHECK(refused.body.find("<Connect>") == std::string::npos);
  CHECK(asked == std::vector<std::string>{"CA1"});

  room = true;
  const auto taken = answer_incoming_call(request, settings, tokens, now, admit);
  CHECK(parse_connect_stream_twiml(taken.body).has_value());

  // A forged request never reaches admission: it must not take or probe a place.
  request.headers = {{"X-Twilio-Signature", "forged"}};
  CHECK(answer_incoming_call(request, settings, tokens, now, admit).status == 403);
  CHECK(asked.size() == 2);
}

namespace {

http_request signed_webhook(const std::string& url, const std::vector<form_parameter>& form) {
  http_request request;
  request.method = "POST";
  request.target = "/incoming-call";
  request.body = encode_form_body(form);
  request.headers = {{"X-Twilio-Signature", compute_twilio_signature("secret", url, form)}};
  return request;
}

http_request stream_upgrade(const std::string& signed_url) {
  http_request request;
  request.method = "GET";
  request.target = "/media-stream";
  request.headers = {{"Host", "voice.example.com"},
                     {"X-Twilio-Signature", compute_twilio_signature("secret", signed_url, {})}};
  return request;
}

}  // namespace

TEST_CASE("NODE_STREAM_URL: the node's TwiML names it and its streams are signed over it",
          "[twiml]") {
  twilio_webhook_settings settings;
  settings.public_url = "https://voice.example.com";
  settings.auth_token = "secret";
  settings.node_stream_url = "wss://node-0.voice.example.com/media-stream";
  const auto tokens = call_token_issuer::from_secret("secret");
  const std::vector<form_parameter> form{{"CallSid", "CA1"}};
  const auto now = std::chrono::system_clock::now();

  // The webhook still arrives on PUBLIC_URL, and is signed over it.
  const auto answer = answer_incoming_call(
      signed_webhook("https://voice.example.com/incoming-call", form), settings, tokens, now);
  REQUIRE(answer.status == 200);
  const auto stream = parse_connect_stream_twiml(answer.body);
  REQUIRE(stream.has_value());
  CHECK(stream->url == "wss://node-0.voice.example.com/media-stream");
  // The action is the cluster's address, not the node's: a survivor answers it.
  CHECK(stream->action == "https://voice.example.com/connect-action");
  CHECK(connect_action_url(settings) == "https://voice.example.com/connect-action");
  settings.public_url.reset();
  CHECK(connect_action_url(settings).empty());
  settings.public_url = "https://voice.example.com";

  CHECK(check_media_stream_upgrade(stream_upgrade("wss://node-0.voice.example.com/media-stream"),
                                   settings)
            .empty());
  // Signed over the shared host instead: not the URL this node gave Twilio.
  CHECK(check_media_stream_upgrade(stream_upgrade("wss://voice.example.com/media-stream"),
                                   settings) == "invalid X-Twilio-Signature");
  settings.node_stream_url.clear();
  CHECK(check_media_stream_upgrade(stream_upgrade("wss://voice.example.com/media-stream"), settings)
            .empty());
}

TEST_CASE("a webhook a peer takes streams to the peer and takes no place here", "[twiml]") {
  twilio_webhook_settings settings;
  settings.public_url = "https://voice.example.com";
  settings.auth_token = "secret";
  const auto tokens = call_token_issuer::from_secret("secret");
  const std::vector<form_parameter> form{{"CallSid", "CA7"}, {"From", "+14155550100"}};
  const auto request = signed_webhook("https://voice.example.com/incoming-call", form);
  const auto now = std::chrono::system_clock::now();
  unsigned admitted = 0;
  const admit_call admit = [&](std::string_view) {
    ++admitted;
    return true;
  };
  std::optional<std::string> peer = "wss://node-1.voice.example.com/media-stream";
  const redirect_call redirect = [&](std::string_view call_sid) {
    CHECK(call_sid == "CA7");
    return peer;
  };

  auto answer = answer_incoming_call(request, settings, tokens, now, admit, redirect);
  auto stream = parse_connect_stream_twiml(answer.body);
  REQUIRE(stream.has_value());
  CHECK(stream->url == "wss://node-1.voice.example.com/media-stream");
  CHECK(admitted == 0);
  // The call's token goes along: the peer checks it (tokens verify on any node of the account).
  const auto token = std::find_if(stream->parameters.begin(), stream->parameters.end(),
                                  [](const auto& p) { return p.name == "token"; });
  REQUIRE(token != stream->parameters.end());

  peer.reset();  // no peer can take it: this node answers for itself
  answer = answer_incoming_call(request, settings, tokens, now, admit, redirect);
  stream = parse_connect_stream_twiml(answer.body);
  REQUIRE(stream.has_value());
  CHECK(stream->url == "wss://voice.example.com/media-stream");
  CHECK(admitted == 1);
}
