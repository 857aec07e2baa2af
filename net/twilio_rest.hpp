#pragma once
// Twilio's REST API, the part a bridge needs: create a call (POST
// /2010-04-01/Accounts/{AccountSid}/Calls.json) and update a live one (POST .../Calls/{Sid}.json:
// a TwiML redirect for transfers), form-encoded with HTTP basic auth. Answers and
// Twilio's errors ({"code", "message", "more_info", "status"}) come back as values, so a caller
// of POST /calls sees Twilio's own code and message.

#include "net/http_client.hpp"
#include "net/twilio_signature.hpp"

#include <boost/system/result.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace switchboard::net {

struct twilio_account {
  std::string api_base;  // TWILIO_API_BASE, e.g. https://api.twilio.com
  std::string account_sid;
  std::string auth_token;
};

struct twilio_call_created {
  std::string call_sid;
  std::string status;  // "queued" right after creation
};

struct twilio_api_error {
  unsigned http_status = 0;  // 0: no HTTP answer (connect, TLS, timeout)
  int code = 0;              // Twilio's error code, 0 when the answer carried none
  std::string message;
};

using twilio_create_result = boost::system::result<twilio_call_created, twilio_api_error>;

/// What an HTTP answer to Calls.json means (pure; tested directly).
twilio_create_result interpret_create_call_answer(unsigned http_status, std::string_view body);

/// Creates a call; `done` runs on an io thread with the outcome. Never blocks.
void create_twilio_call(boost::asio::io_context& io, std::shared_ptr<tls_context> tls,
                        const twilio_account& account, std::vector<form_parameter> parameters,
                        std::function<void(twilio_create_result)> done);

/// Updates a live call (e.g. Twiml=<Response><Dial>…: a transfer); `done` runs on an io thread
/// with the call as Twilio then reports it, or Twilio's error. Never blocks.
void update_twilio_call(boost::asio::io_context& io, std::shared_ptr<tls_context> tls,
                        const twilio_account& account, std::string_view call_sid,
                        std::vector<form_parameter> parameters,
                        std::function<void(twilio_create_result)> done);

}  // namespace switchboard::net
