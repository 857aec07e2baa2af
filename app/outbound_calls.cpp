#include "app/outbound_calls.hpp"

#include "app/call_placement.hpp"
#include "net/twilio_webhook.hpp"
#include "net/twiml.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

namespace switchboard::app {

namespace {

// How long POST /calls holds a place for the call's stream: Twilio rings for up to 60 s by
// default before the callee answers and the stream starts.
constexpr auto outbound_place_hold = std::chrono::seconds(90);

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> random(bytes);
  RAND_bytes(random.data(), static_cast<int>(random.size()));
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string hex;
  for (const auto byte : random) {
    hex.push_back(digits[byte >> 4]);
    hex.push_back(digits[byte & 0x0F]);
  }
  return hex;
}

net::http_response created_response(const net::twilio_call_created& call) {
  boost::json::object body{{"call_sid", call.call_sid}, {"status", call.status}};
  return net::http_response::json(201, boost::json::serialize(body) + "\n");
}

net::http_response twilio_error_response(const net::twilio_api_error& error) {
  boost::json::object body{{"error", "Twilio refused the call: " + error.message},
                           {"twilio_status", error.http_status},
                           {"twilio_code", error.code},
                           {"twilio_message", error.message}};
  if (error.http_status == 0)
    body["error"] = error.message;
  return net::http_response::json(status_for_twilio_error(error),
                                  boost::json::serialize(body) + "\n");
}

}  // namespace

unsigned status_for_twilio_error(const net::twilio_api_error& error) {
  const bool client_side = error.http_status >= 400 && error.http_status < 500 &&
                           error.http_status != 401 && error.http_status != 429;
  return client_side ? 400 : 502;
}

bool call_rate_limiter::try_acquire(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  while (!recent_.empty() && now - recent_.front() >= std::chrono::minutes(1))
    recent_.pop_front();
  if (recent_.size() >= per_minute_)
    return false;
  recent_.push_back(now);
  return true;
}

std::vector<net::form_parameter> dial_override_parameters(const dial_request& dial) {
  std::vector<net::form_parameter> parameters;
  if (dial.instructions && !dial.instructions->empty())
    parameters.push_back({"instructions", *dial.instructions});
  if (dial.voice && !dial.voice->empty())
    parameters.push_back({"voice", *dial.voice});
  if (dial.metadata_json != "{}" && !dial.metadata_json.empty())
    parameters.push_back({"metadata", dial.metadata_json});
  return parameters;
}

namespace {

std::string overrides_fingerprint(const dial_request& dial) {
  std::string_view instructions;
  std::string_view voice;
  std::string_view metadata;
  const auto parameters = dial_override_parameters(dial);  // the views below point into it
  for (const auto& parameter : parameters) {
    if (parameter.name == "instructions")
      instructions = parameter.value;
    else if (parameter.name == "voice")
      voice = parameter.value;
    else
      metadata = parameter.value;
  }
  return net::dial_overrides_fingerprint(instructions, voice, metadata);
}

}  // namespace

bool overrides_travel(const dial_request& dial) {
  // Measured as written: XML escapes grow the text.
  return net::connect_stream_twiml("", dial_override_parameters(dial)).size() <=
         max_travelling_overrides_chars;
}

std::vector<net::form_parameter> create_call_parameters(
    const dial_request& dial, const std::string& from, const std::string& stream_url,
    const std::string& status_callback_url, const std::string& dial_id, const std::string& token,
    bool with_overrides, const std::string& action_url) {
  // From and To as an inbound call's webhook passes them: the stream's `start` names neither.
  std::vector<net::form_parameter> stream_parameters{
      {"dial_id", dial_id}, {"token", token}, {"From", from}, {"To", dial.to}};
  if (with_overrides) {
    for (auto& parameter : dial_override_parameters(dial))
      stream_parameters.push_back(std::move(parameter));
  }
  return {
      {"To", dial.to},
      {"From", from},
      {"Twiml", net::connect_stream_twiml(stream_url, stream_parameters, action_url)},
      {"StatusCallback", status_callback_url},
      {"StatusCallbackMethod", "POST"},
      {"StatusCallbackEvent", "initiated"},
      {"StatusCallbackEvent", "ringing"},
      {"StatusCallbackEvent", "answered"},
      {"StatusCallbackEvent", "completed"},
  };
}

outbound_dialer::outbound_dialer(const config::settings& settings, boost::asio::io_context& io,
                                 std::shared_ptr<net::tls_context> tls,
                                 const net::call_token_issuer& tokens,
                                 std::function<std::chrono::system_clock::time_point()> wall_clock,
                                 std::shared_ptr<actors::dial_overrides> dials,
                                 std::shared_ptr<actors::call_status_book> statuses,
                                 std::shared_ptr<actors::call_admission> admission,
                                 std::shared_ptr<metrics::bridge_metrics> metrics)
    : settings_(settings),
      io_(io),
      tls_(std::move(tls)),
      tokens_(tokens),
      wall_clock_(std::move(wall_clock)),
      limiter_(std::make_shared<call_rate_limiter>(settings.calls_per_minute)),
      dials_(std::move(dials)),
      statuses_(std::move(statuses)),
      admission_(std::move(admission)),
      metrics_(std::move(metrics)) {}

bool outbound_dialer::handle(const net::http_request& request, const net::http_responder& respond) {
  if (request.path() != "/calls" || request.method != "POST")
    return false;
  const auto refuse = [&](api_error error) {
    respond(api_error_response(error));
    return true;
  };
  if (auto refused = refuse_api_request(request, settings_.api_token))
    return refuse(*refused);
  auto dial = parse_dial_request(request.body, settings_.allowed_destinations);
  if (!dial)
    return refuse(dial.error());
  if (!settings_.public_url) {
    return refuse({503, "PUBLIC_URL is not set: Twilio could not reach this bridge's stream"});
  }
  if (settings_.twilio_account_sid.empty() || settings_.twilio_auth_token.empty() ||
      settings_.twilio_phone_number.empty()) {
    return refuse({503,
                   "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER are "
                   "needed to place calls"});
  }
  place_and_dial(std::move(*dial), respond);
  return true;
}

void outbound_dialer::place_and_dial(dial_request dial, const net::http_responder& respond) {
  // A place first (here or on a peer with room): a call no node can carry must not use up the
  // minute's dials.
  const auto dial_id = random_hex(16);
  const auto place = actors::call_admission_key("", dial_id);
  const bool has_overrides = !dial_override_parameters(dial).empty();
  // Overrides that fit travel in the signed TwiML to whichever node takes the stream; longer
  // ones stay in this node's memory, and the call with them.
  const bool travelling = has_overrides && overrides_travel(dial);
  const auto placed = [self = shared_from_this(), dial = std::move(dial), dial_id, place,
                       has_overrides, travelling, respond](std::optional<placed_call> where) {
    self->dial_placed(dial, dial_id, place, has_overrides, travelling, std::move(where), respond);
  };
  if (placer_) {
    placer_->place(place, outbound_place_hold, has_overrides && !travelling,
                   metrics::refusal_source::api, placed);
    return;
  }
  if (const auto refused =
          admission_->reserve(place, std::chrono::steady_clock::now(), outbound_place_hold)) {
    metrics_
        ->calls_refused(*refused == actors::admission_refusal::full
                            ? metrics::refusal_reason::full
                            : metrics::refusal_reason::overloaded,
                        metrics::refusal_source::api)
        .Increment();
    return placed(std::nullopt);
  }
  placed(placed_call{});
}

void outbound_dialer::dial_placed(const dial_request& dial, const std::string& dial_id,
                                  const std::string& place, bool has_overrides, bool travelling,
                                  std::optional<placed_call> where,
                                  const net::http_responder& respond) {
  const auto refuse = [&](api_error error) {
    respond(api_error_response(error));
  };
  if (!where) {
    // The refusal names this node's own reason; peers answered for themselves.
    return refuse({503, "every node is full or overloaded (this one is " +
                            admission_->why_no_room() + "): try again later"});
  }
  if (take_dial_) {
    take_dial_([self = shared_from_this(), dial, dial_id, place, has_overrides, travelling,
                where = *where, respond](std::optional<bool> granted) {
      if (!granted) {
        // The keeper could not be asked: this node's own limit decides (per node, as before).
        spdlog::warn(
            "CALLS_PER_MINUTE: the node that keeps the cluster's budget did not "
            "answer; this node's own limit applies");
        granted = self->limiter_->try_acquire(std::chrono::steady_clock::now());
      }
      if (!*granted) {
        self->give_back(where, place);
        return respond(api_error_response(
            {429, "CALLS_PER_MINUTE (" + std::to_string(self->settings_.calls_per_minute) +
                      ", for the whole cluster) reached: try again later"}));
      }
      self->dial_budgeted(dial, dial_id, place, has_overrides, travelling, where, respond);
    });
    return;
  }
  if (!limiter_->try_acquire(std::chrono::steady_clock::now())) {
    give_back(*where, place);
    return refuse({429, "CALLS_PER_MINUTE (" + std::to_string(settings_.calls_per_minute) +
                            ") reached: try again later"});
  }
  dial_budgeted(dial, dial_id, place, has_overrides, travelling, *where, respond);
}

void outbound_dialer::give_back(const placed_call& where, const std::string& place) {
  if (placer_)
    placer_->release(where, place);
  else
    admission_->release(place);
}

void outbound_dialer::dial_budgeted(const dial_request& dial, const std::string& dial_id,
                                    const std::string& place, bool has_overrides, bool travelling,
                                    const placed_call& placed, const net::http_responder& respond) {
  const auto refuse = [&](api_error error) {
    respond(api_error_response(error));
  };
  const auto* where = &placed;
  const auto give_back = [self = shared_from_this(), placed, place] {
    self->give_back(placed, place);
  };
  net::twilio_webhook_settings webhook;
  webhook.public_url = settings_.public_url;
  webhook.node_stream_url = settings_.node_stream_url;
  const auto stream_url = where->stream_url.empty()
                              ? net::media_stream_url(net::http_request{}, webhook)
                              : where->stream_url;
  if (where->where == metrics::placement_where::peer) {
    spdlog::info("outbound call to {} (dial {}) placed on node {}: {}", dial.to, dial_id,
                 where->node_name, stream_url);
  }
  // Ringing and answering take a while: the token outlives a ringing phone.
  const auto token_subject = "dial:" + dial_id;
  const auto fingerprint = travelling ? overrides_fingerprint(dial) : std::string();
  const auto token =
      tokens_.issue({token_subject, settings_.twilio_phone_number, dial.to, fingerprint},
                    wall_clock_(), std::chrono::minutes(15));
  auto parameters = create_call_parameters(dial, settings_.twilio_phone_number, stream_url,
                                           *settings_.public_url + "/call-status", dial_id, token,
                                           travelling, net::connect_action_url(webhook));
  const auto twiml = std::find_if(parameters.begin(), parameters.end(),
                                  [](const auto& parameter) { return parameter.name == "Twiml"; });
  if (twiml != parameters.end() && twiml->value.size() > max_inline_twiml_chars) {
    give_back();
    return refuse({400,
                   "the call's TwiML would exceed Twilio's 4000 characters: shorten "
                   "\"instructions\" or \"metadata\""});
  }
  if (has_overrides && !travelling)
    dials_->put(dial_id, {dial.instructions, dial.voice, dial.metadata_json});
  const auto to = dial.to;
  const auto from = settings_.twilio_phone_number;
  net::create_twilio_call(
      io_, tls_,
      {settings_.twilio_api_base, settings_.twilio_account_sid, settings_.twilio_auth_token},
      std::move(parameters),
      [respond, to, from, dial_id, give_back, statuses = statuses_,
       wall_clock = wall_clock_](net::twilio_create_result created) {
        if (!created) {
          give_back();  // no call, no stream: the place is free again
          spdlog::warn("outbound call to {} refused by Twilio: HTTP {} code {}: {}", to,
                       created.error().http_status, created.error().code, created.error().message);
          return respond(twilio_error_response(created.error()));
        }
        spdlog::info("[call {}] outbound call to {} created (dial {}): {}", created->call_sid, to,
                     dial_id, created->status);
        statuses->dialled(created->call_sid, to, from,
                          actors::parse_twilio_call_status(created->status)
                              .value_or(actors::twilio_call_status::queued),
                          wall_clock());
        respond(created_response(*created));
      });
}

}  // namespace switchboard::app
