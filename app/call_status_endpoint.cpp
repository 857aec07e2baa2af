#include "app/call_status_endpoint.hpp"

#include "metrics/call_log.hpp"
#include "net/twilio_signature.hpp"

#include <spdlog/spdlog.h>

#include <string>

namespace switchboard::app {

namespace {

net::http_response refuse(const net::http_request& request, unsigned status, std::string why) {
  spdlog::warn("status callback from {} refused ({}): {}", request.remote_address, status, why);
  return net::http_response::text(status, why + "\n");
}

std::string sequence_text(const std::optional<std::uint64_t>& sequence_number) {
  return sequence_number ? " #" + std::to_string(*sequence_number) : std::string{};
}

}  // namespace

net::http_response answer_call_status(const net::http_request& request,
                                      const net::twilio_webhook_settings& settings,
                                      actors::call_status_book& book,
                                      std::chrono::system_clock::time_point now,
                                      metrics::bridge_metrics* node) {
  const auto count = [node](std::string_view result) {
    if (node != nullptr)
      node->status_callbacks(result).Increment();
  };
  if (request.method != "POST")
    return refuse(request, 405, "status callbacks are POSTed");
  const auto params = net::parse_form_body(request.body);
  if (settings.check_signatures) {
    // requested_url: PUBLIC_URL + the target, i.e. exactly the StatusCallback the dialer gave
    // Twilio (PUBLIC_URL + "/call-status"), which is what Twilio signs.
    const auto signature = request.header("x-twilio-signature");
    if (signature.empty()) {
      count("refused");
      return refuse(request, 403, "missing X-Twilio-Signature");
    }
    if (!net::is_valid_twilio_signature(settings.auth_token, signature,
                                        net::requested_url(request, settings), params)) {
      count("refused");
      return refuse(request, 403, "invalid X-Twilio-Signature");
    }
  } else {
    spdlog::warn("status callback from {} accepted WITHOUT a signature check",
                 request.remote_address);
  }
  const auto callback = actors::parse_status_callback(params);
  if (!callback) {
    count("malformed");
    return refuse(request, 400, callback.error());
  }

  const auto applied = book.apply(*callback, now);
  const metrics::call_ids ids{callback->call_sid, {}};
  const auto status = actors::to_string(callback->status);
  switch (applied.outcome) {
    case actors::status_outcome::accepted:
      count("accepted");
      metrics::log_call(spdlog::level::info, ids, "status {}{}", status,
                        sequence_text(callback->sequence_number));
      break;
    case actors::status_outcome::unknown_call_created:
      count("unknown_call");
      metrics::log_call(spdlog::level::info, ids, "status {}{} (a call not dialled on this node)",
                        status, sequence_text(callback->sequence_number));
      break;
    case actors::status_outcome::stale:
      count("stale");
      // Twilio's own order is not promised; a late one is expected, not a problem.
      metrics::log_call(spdlog::level::debug, ids, "status {}{} ignored: the call is already {}",
                        status, sequence_text(callback->sequence_number),
                        actors::to_string(applied.status));
      break;
  }
  if (!applied.call_json_error.empty()) {
    metrics::log_call(spdlog::level::warn, ids, "call.json not brought up to date: {}",
                      applied.call_json_error);
  }
  net::http_response response;
  response.status = 204;
  return response;
}

}  // namespace switchboard::app
