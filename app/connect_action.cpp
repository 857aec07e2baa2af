#include "app/connect_action.hpp"

#include "actors/call_directory.hpp"
#include "actors/stream_continuation.hpp"
#include "app/call_placement.hpp"
#include "app/cluster_node.hpp"
#include "metrics/bridge_metrics.hpp"
#include "net/twiml.hpp"

#include <spdlog/spdlog.h>

namespace switchboard::app {

namespace {

// As long as a webhook's place: Twilio opens the new stream within a second or two.
constexpr auto continued_place_hold = std::chrono::seconds(30);

net::http_response twiml_response(std::string body) {
  net::http_response response;
  response.content_type = "text/xml";
  response.body = std::move(body);
  return response;
}

}  // namespace

bool connect_action_handler::handle(const net::http_request& request,
                                    const net::http_responder& respond) {
  if (request.path() != net::connect_action_path)
    return false;
  const auto& webhook = *options_.webhook;
  auto read = net::read_incoming_call(request, webhook);
  if (auto* refused = std::get_if<net::http_response>(&read)) {
    spdlog::warn("<Connect action> request from {} refused: {} {}", request.remote_address,
                 refused->status, refused->body.substr(0, refused->body.size() - 1));
    respond(std::move(*refused));
    return true;
  }
  auto call = std::get<net::incoming_call>(std::move(read));
  auto action_url = net::connect_action_url(request, webhook);
  auto own_stream = net::media_stream_url(request, webhook);
  auto& directory = *options_.directory;
  // This node's own record of the call first: it knows best how its part ended.
  if (auto here = directory.find_local(call.call_sid)) {
    decide(std::move(call), std::move(here), std::move(action_url), std::move(own_stream), respond);
    return true;
  }
  // Else the cluster's view of it: a peer's call is announced ending, with its reason, before
  // its node closes the socket (call_supervisor's hang-up), and a lost node's calls end there
  // as "node lost". Asking the call's node instead would stall on a node that just died (the
  // request's timeout) while the caller hears nothing.
  auto known = directory.find(call.call_sid);
  decide(std::move(call), std::move(known), std::move(action_url), std::move(own_stream), respond);
  return true;
}

void connect_action_handler::decide(net::incoming_call call,
                                    std::optional<actors::call_view> last_known,
                                    std::string action_url, std::string own_stream_url,
                                    net::http_responder respond) {
  const auto verdict = actors::decide_after_stream({call.call_status, last_known});
  const std::string how = last_known
                              ? std::string(actors::to_string(last_known->state)) + " (" +
                                    last_known->end_reason + ") on " +
                                    (last_known->node.empty() ? "this node" : last_known->node)
                              : std::string("unknown to the cluster");
  if (verdict == actors::after_stream::hang_up) {
    spdlog::info("[call {}] its stream ended; the call was {}: hang up", call.call_sid, how);
    options_.metrics->connect_actions(metrics::connect_action_result::hung_up).Increment();
    return respond(twiml_response(net::hang_up_twiml()));
  }
  // Its lost part may still be ending wherever it ran, this node included: the next part goes
  // on at once (the directory keeps an ending part aside when its successor starts beside it).
  spdlog::warn("[call {}] its stream was lost; the call was {}: it goes on", call.call_sid, how);
  continue_call(std::move(call), std::move(last_known), std::move(action_url),
                std::move(own_stream_url), std::move(respond));
}

void connect_action_handler::continue_call(net::incoming_call call,
                                           std::optional<actors::call_view> last_known,
                                           std::string action_url, std::string own_stream_url,
                                           net::http_responder respond) {
  const actors::call_identity from_action{call.call_sid, {}, {}, call.from, call.to, {}};
  auto state = actors::continuation_state(from_action, last_known, options_.wall_clock());
  auto admission_key = actors::call_admission_key(call.call_sid, {});
  auto refuse = [self = shared_from_this(), respond](const std::string& call_sid,
                                                     const std::string& why) {
    spdlog::warn("[call {}] cannot go on: {}; the caller hears FULL_MESSAGE", call_sid, why);
    self->options_.metrics->connect_actions(metrics::connect_action_result::refused).Increment();
    respond(net::full_response(*self->options_.webhook));
  };
  options_.placer->place(
      admission_key, continued_place_hold, false, metrics::refusal_source::webhook,
      [self = shared_from_this(), call = std::move(call), state = std::move(state), admission_key,
       action_url = std::move(action_url), own_stream_url = std::move(own_stream_url), respond,
       refuse](std::optional<placed_call> where) mutable {
        if (!where)
          return refuse(call.call_sid, "every node is full");
        const auto part = state.parts.empty() ? 2u : state.parts.back().number + 1;
        const auto answer_with = [self, call, action_url, respond, part](
                                     const std::string& stream_url,
                                     const net::call_token_issuer& tokens, const std::string& key,
                                     const std::string& node) {
          spdlog::info("[call {}] continued on {}: {}", call.call_sid,
                       node.empty() ? "this node" : node, stream_url);
          self->options_.metrics->connect_actions(metrics::connect_action_result::continued)
              .Increment();
          const std::vector<net::form_parameter> handover{
              {std::string(actors::handover_key_parameter), key}};
          // A token is a MAC over the call, its numbers, its expiry and its issuer: the same
          // call continued within the second its webhook was answered would get the very token
          // its first stream spent. Each part's token lives a second longer than the last's.
          respond(net::stream_call_response(call, stream_url, tokens, self->options_.wall_clock(),
                                            action_url, handover,
                                            std::chrono::minutes(5) + std::chrono::seconds(part)));
        };
        if (where->where == metrics::placement_where::local || !self->cluster_) {
          auto kept = self->options_.keep_here(std::move(state));
          if (!kept.accepted) {
            self->options_.placer->release(*where, admission_key);
            return refuse(call.call_sid, "this node would not keep its state: " + kept.why);
          }
          return answer_with(own_stream_url, *self->options_.tokens, kept.key, {});
        }
        const auto peer = *where;
        self->cluster_->offer_handover(
            {peer.node_id, std::move(state)},
            [self, peer, admission_key, answer_with, refuse,
             call_sid = call.call_sid](actors::call_handover_answer answer) {
              if (!answer.accepted) {
                self->options_.placer->release(peer, admission_key);
                return refuse(call_sid, "node " + peer.node_name + " refused it: " + answer.why);
              }
              // The token names the node the stream goes to: its ledger is the authority.
              auto peer_tokens = *self->options_.tokens;
              peer_tokens.set_issuer(peer.node_id);
              answer_with(peer.stream_url, peer_tokens, answer.key, peer.node_name);
            });
      });
}

}  // namespace switchboard::app
