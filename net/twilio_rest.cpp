#include "net/twilio_rest.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace switchboard::net {

namespace {

std::string string_field(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string{};
}

}  // namespace

twilio_create_result interpret_create_call_answer(unsigned http_status, std::string_view body) {
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(body, ec);
  const auto* object = !ec && parsed.is_object() ? &parsed.as_object() : nullptr;
  if (http_status == 201 || http_status == 200) {
    if (object == nullptr || string_field(*object, "sid").empty()) {
      return twilio_api_error{http_status, 0, "Twilio's answer carries no call sid"};
    }
    return twilio_call_created{string_field(*object, "sid"), string_field(*object, "status")};
  }
  twilio_api_error error{http_status, 0, "HTTP " + std::to_string(http_status) + " from Twilio"};
  if (object != nullptr) {
    if (const auto* code = object->if_contains("code"); code != nullptr && code->is_int64())
      error.code = static_cast<int>(code->as_int64());
    if (auto message = string_field(*object, "message"); !message.empty())
      error.message = std::move(message);
  }
  return error;
}

namespace {

/// POST of a form to the account's `resource` (e.g. "/Calls.json"); the answer is a call.
void post_call_resource(boost::asio::io_context& io, std::shared_ptr<tls_context> tls,
                        const twilio_account& account, std::string_view resource,
                        std::vector<form_parameter> parameters,
                        std::function<void(twilio_create_result)> done) {
  http_client_request request;
  request.method = "POST";
  request.url = account.api_base + "/2010-04-01/Accounts/" + account.account_sid;
  request.url += resource;
  request.headers = {
      {"Authorization", basic_authorization(account.account_sid, account.auth_token)},
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"Accept", "application/json"},
  };
  request.body = encode_form_body(parameters);
  request.tls = std::move(tls);
  http_request_async(io, std::move(request), [done = std::move(done)](http_client_result answer) {
    if (!answer) {
      return done(twilio_api_error{0, 0, "Twilio unreachable: " + answer.error()});
    }
    done(interpret_create_call_answer(answer->status, answer->body));
  });
}

}  // namespace

void create_twilio_call(boost::asio::io_context& io, std::shared_ptr<tls_context> tls,
                        const twilio_account& account, std::vector<form_parameter> parameters,
                        std::function<void(twilio_create_result)> done) {
  post_call_resource(io, std::move(tls), account, "/Calls.json", std::move(parameters),
                     std::move(done));
}

void update_twilio_call(boost::asio::io_context& io, std::shared_ptr<tls_context> tls,
                        const twilio_account& account, std::string_view call_sid,
                        std::vector<form_parameter> parameters,
                        std::function<void(twilio_create_result)> done) {
  post_call_resource(io, std::move(tls), account, "/Calls/" + std::string(call_sid) + ".json",
                     std::move(parameters), std::move(done));
}

}  // namespace switchboard::net
