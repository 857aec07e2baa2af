// libFuzzer target: the OpenAI Realtime codec. Any input must parse or fail cleanly as a server
// event and as a client event; what parses must serialise and parse back to an equal value.

#include "net/realtime_messages.hpp"

#include <algorithm>
#include <cmath>
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

// Boost.JSON 1.81 does not round every decimal to the nearest double (it has no "precise"
// number mode), so a double written in shortest form can read back one ULP away. Doubles are
// therefore compared with a relative tolerance; everything else must match exactly.
bool near(double a, double b) {
  return a == b || std::abs(a - b) <= 1e-14 * std::max(std::abs(a), std::abs(b));
}

bool near(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double())
    return near(a.get_double(), b.get_double());
  if (a.is_array() && b.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size())
      return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!near(x[i], y[i]))
        return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size())
      return false;
    for (const auto& member : x) {
      const auto* other = y.if_contains(member.key());
      if (other == nullptr || !near(member.value(), *other))
        return false;
    }
    return true;
  }
  return a == b;
}

bool same(const realtime_server_event& a, const realtime_server_event& b) {
  const auto* x = std::get_if<realtime_rate_limits_updated>(&a);
  const auto* y = std::get_if<realtime_rate_limits_updated>(&b);
  if (x == nullptr || y == nullptr || x->rate_limits.size() != y->rate_limits.size()) {
    return a == b;
  }
  auto aligned = *y;
  for (std::size_t i = 0; i < x->rate_limits.size(); ++i) {
    if (!near(x->rate_limits[i].reset_seconds, y->rate_limits[i].reset_seconds))
      return false;
    aligned.rate_limits[i].reset_seconds = x->rate_limits[i].reset_seconds;
  }
  return *x == aligned;
}

bool same(const realtime_client_event& a, const realtime_client_event& b) {
  const auto* x = std::get_if<realtime_session_update>(&a);
  const auto* y = std::get_if<realtime_session_update>(&b);
  if (x == nullptr || y == nullptr)
    return a == b;
  auto aligned = *y;
  if (x->turn_detection && aligned.turn_detection) {
    const auto* vx = std::get_if<realtime_server_vad>(&*x->turn_detection);
    auto* vy = std::get_if<realtime_server_vad>(&*aligned.turn_detection);
    if (vx != nullptr && vy != nullptr) {
      if (!near(vx->threshold, vy->threshold))
        return false;
      vy->threshold = vx->threshold;
    }
  }
  if (x->tools && aligned.tools && x->tools->size() == aligned.tools->size()) {
    for (std::size_t i = 0; i < x->tools->size(); ++i) {
      if (!near((*x->tools)[i].parameters, (*aligned.tools)[i].parameters))
        return false;
      (*aligned.tools)[i].parameters = (*x->tools)[i].parameters;
    }
  }
  return *x == aligned;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto server = parse_realtime_event(text)) {
    std::string out;
    append_realtime_server_event(out, *server);
    const auto again = parse_realtime_event(out);
    require(again.has_value() && same(*server, *again), "server event", out);
  } else {
    require(!server.error().detail.empty(), "an error names what was wrong", std::string(text));
  }

  if (const auto client = parse_realtime_client_event(text)) {
    std::string out;
    append_realtime_client_event(out, *client);
    const auto again = parse_realtime_client_event(out);
    require(again.has_value() && same(*client, *again), "client event", out);
  }
  return 0;
}
