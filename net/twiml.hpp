#pragma once
// TwiML for a bidirectional media stream (protocols.md §A1, §A4):
//   <Response><Connect action="https://HOST/connect-action"><Stream url="wss://HOST/media-stream">
//     <Parameter name="..." value="..."/>...</Stream></Connect></Response>
// The stream URL takes no query string (Twilio strips it); values travel as <Parameter>s and
// arrive in start.customParameters.
//
// <Connect action>: when the stream ends, Twilio requests the action URL (POST by default, the
// standard voice request parameters, signed like the webhook) and plays the TwiML it answers;
// without an action, the call moves on to the next verb, and there is none: it hangs up
// (twilio.com/docs/voice/twiml/connect). switchboard names an action on every <Connect> so that
// a stream lost with its node is not the call's end (README "Reliability").

#include "net/twilio_signature.hpp"

#include <boost/system/result.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::net {

/// `action_url` empty: no action attribute (the call ends with its stream).
std::string connect_stream_twiml(std::string_view stream_url,
                                 std::span<const form_parameter> parameters,
                                 std::string_view action_url = {});

/// `<Response><Hangup/></Response>`: the action's answer when the call ended on purpose.
std::string hang_up_twiml();

/// `<Response><Dial>to</Dial></Response>`: the call leaves the bridge for a person (a transfer
/// through the REST API's Twiml= redirect). `to` is an E.164 number.
std::string dial_twiml(std::string_view to);

/// `<Response><Say>message</Say><Hangup/></Response>`: a call the bridge will not take (this
/// node is full) hears why, politely, instead of ringing out or dead air. The message is
/// XML-escaped; characters XML 1.0 forbids (controls other than tab and newlines) are dropped.
std::string say_and_hang_up_twiml(std::string_view message);

/// What the simulated Twilio reads back from TwiML: the stream URL and its parameters.
struct connect_stream {
  std::string url;
  std::vector<form_parameter> parameters;
  std::string action;                  // <Connect action>, as written; empty: none
  std::string action_method = "POST";  // <Connect method>: GET or POST
};
boost::system::result<connect_stream, std::string> parse_connect_stream_twiml(std::string_view xml);

/// TwiML that hangs up without connecting a stream (say_and_hang_up_twiml): what it says
/// (empty when nothing), or nullopt when the TwiML is not that.
std::optional<std::string> parse_say_and_hang_up_twiml(std::string_view xml);

}  // namespace switchboard::net
