#include "app/call_placement.hpp"

#include "app/cluster_node.hpp"

#include <spdlog/spdlog.h>

namespace switchboard::app {

namespace {

// Peers asked for one call at most: each is one round trip on a live link (a millisecond), a
// silent one costs the cluster's request timeout; Twilio waits 15 s for a webhook's answer.
constexpr std::size_t max_peers_asked = 3;

}  // namespace

struct call_placer::attempt {
  std::string key;
  std::chrono::seconds hold{0};
  metrics::refusal_source source = metrics::refusal_source::webhook;
  done_callback done;
  std::vector<placement_target> order;
  std::size_t next = 0;
  std::size_t peers_asked = 0;
};

void call_placer::place(std::string admission_key, std::chrono::seconds hold, bool stay_here,
                        metrics::refusal_source source, done_callback done) {
  const auto now = std::chrono::steady_clock::now();
  auto& admission = *options_.admission;
  local_node_status self;
  self.name = options_.node_name;
  self.draining = options_.draining && options_.draining();
  self.has_stream_url = options_.has_stream_url;
  self.occupied = static_cast<std::uint32_t>(admission.streaming() + admission.promised(now));
  self.capacity = static_cast<std::uint32_t>(admission.max_calls());
  std::vector<actors::cluster_member> members;
  if (cluster_ && !stay_here) {
    self.id = cluster_->id();
    members = cluster_->view().members(now);
    const auto published = cluster_->view().taken();
    for (const auto& member : members) {
      if (!member.self)
        continue;
      self.load = member.report.load;
      self.ranked_occupied = member.report.active_calls + member.report.promised_calls +
                             tally_.unreported(member.id, published, now);
    }
  }
  auto state = std::make_shared<attempt>();
  state->key = std::move(admission_key);
  state->hold = hold;
  state->source = source;
  state->done = std::move(done);
  state->order = placement_order(members, self, &tally_, now);
  // This node always has the last word on itself: when the table says it is full its admission
  // refuses, and counts the refusal, as a node alone does.
  const bool self_listed = std::any_of(state->order.begin(), state->order.end(),
                                       [](const placement_target& target) { return target.self; });
  if (!self_listed)
    state->order.push_back({self.id, self.name, {}, true});
  try_next(std::move(state));
}

void call_placer::try_next(std::shared_ptr<attempt> state) {
  while (state->next < state->order.size()) {
    const auto target = state->order[state->next++];
    if (target.self) {
      if (options_.draining && options_.draining() && state->next < state->order.size())
        continue;  // a draining node takes a call only when no peer can
      const auto refused =
          options_.admission->reserve(state->key, std::chrono::steady_clock::now(), state->hold);
      if (!refused) {
        // Ranked like the peers: as of this node's last heartbeat, plus what it placed since.
        if (cluster_)
          tally_.placed(target.node_id, std::chrono::steady_clock::now());
        return finish(
            state, placed_call{metrics::placement_where::local, target.node_id, target.name, {}});
      }
      options_.metrics
          ->calls_refused(*refused == actors::admission_refusal::full
                              ? metrics::refusal_reason::full
                              : metrics::refusal_reason::overloaded,
                          state->source)
          .Increment();
      continue;
    }
    if (!cluster_ || state->peers_asked >= max_peers_asked)
      continue;
    ++state->peers_asked;
    cluster_->reserve({target.node_id, state->key, static_cast<std::uint32_t>(state->hold.count())},
                      [self = shared_from_this(), state, target](actors::place_verdict verdict) {
                        if (verdict.granted) {
                          self->tally_.placed(target.node_id, std::chrono::steady_clock::now());
                          return self->finish(
                              state, placed_call{metrics::placement_where::peer, target.node_id,
                                                 target.name, target.stream_url});
                        }
                        spdlog::info("placement: node {} refused a place for {}: {}", target.name,
                                     state->key, verdict.why);
                        self->try_next(state);
                      });
    return;
  }
  finish(state, std::nullopt);
}

void call_placer::finish(const std::shared_ptr<attempt>& state, std::optional<placed_call> where) {
  options_.metrics->calls_placed(where ? where->where : metrics::placement_where::refused_full)
      .Increment();
  auto done = std::move(state->done);
  done(std::move(where));
}

void call_placer::release(const placed_call& call, const std::string& admission_key) {
  if (call.where == metrics::placement_where::local || !cluster_) {
    options_.admission->release(admission_key);
    return;
  }
  cluster_->reserve({call.node_id, admission_key, 0}, [](actors::place_verdict) {});
}

}  // namespace switchboard::app
