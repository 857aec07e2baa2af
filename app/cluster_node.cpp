#include "app/cluster_node.hpp"

#include "actors/cluster_message_types.hpp"
#include "actors/interfaces.hpp"
#include "actors/messages.hpp"
#include "actors/recording_reader.hpp"
#include "app/cluster_dns.hpp"
#include "app/placement.hpp"
#include "metrics/process_metrics.hpp"

#include <boost/json.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/io/publish.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <unistd.h>

namespace switchboard::app {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using actors::cluster_membership;
using actors::membership_change;
using actors::node_state;

// The node actor's own messages: its timer, and its address once published (which starts it).
// Peers know only node_actor; what they send of these anyway is ignored.
using cluster_tick_atom = caf::atom_constant<caf::atom("ctick")>;
using cluster_start_atom = caf::atom_constant<caf::atom("cstart")>;
// The call directory, of one of this node's calls: it started, changed or ended (the node
// actor reads it back from the directory, so a forged one can only repeat the truth).
using call_changed_atom = caf::atom_constant<caf::atom("ccall")>;
using node_impl_actor =
    actors::node_actor::extend<caf::reacts_to<cluster_tick_atom>,
                               caf::reacts_to<cluster_start_atom, std::string>,
                               caf::reacts_to<call_changed_atom, std::string>,
                               caf::reacts_to<cluster_dns_atom, std::vector<std::string>>>;

// Bounds on what a peer's heartbeat may carry: anything larger is hostile and ignored.
constexpr std::size_t max_name_length = 253;
constexpr std::size_t max_address_length = 300;
constexpr std::size_t max_url_length = 2048;
constexpr std::size_t max_linked = 1000;
// How long the middleman may take to open a link (TCP and CAF's handshake).
constexpr auto connect_timeout = 3s;
// Bounds on what a peer says of its calls (every byte from the cluster port is hostile).
constexpr std::size_t max_sid_length = 64;
constexpr std::size_t max_call_text = 1024;  // numbers, reasons, file names, directions
constexpr std::size_t max_call_files = 16;
constexpr std::size_t max_transcript_lines = 10'000;
constexpr std::size_t max_transcript_text = 64 * 1024;
constexpr std::size_t max_snapshot_calls = 10'000;
constexpr std::size_t max_token_length = 1024;
// A placement's admission key: a CallSid (34) or "dial:" and 32 hex digits; and the longest a
// promise may hold (POST /calls holds 90 s for a ringing phone).
constexpr std::size_t max_admission_key_length = 64;
constexpr std::uint32_t max_place_hold_s = 120;
// What the dial budget's keeper answers when the minute is spent (any other refusal means it
// could not be asked).
constexpr std::string_view dial_budget_spent = "CALLS_PER_MINUTE reached";

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0)
    return "localhost";
  return name.data();
}

/// CPU time this process used, in seconds; nullopt when /proc cannot say.
std::optional<double> process_cpu_seconds() {
  const auto text = metrics::read_proc_file("/proc/self/stat");
  if (!text)
    return std::nullopt;
  const auto stat = metrics::parse_proc_stat(*text);
  if (!stat)
    return std::nullopt;
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0)
    return std::nullopt;
  return static_cast<double>(stat->utime_ticks + stat->stime_ticks) /
         static_cast<double>(ticks_per_second);
}

std::optional<actors::node_report> checked_report(const actors::node_heartbeat& beat) {
  auto state = actors::parse_reported_state(beat.state);
  if (!state || beat.node_name.size() > max_name_length ||
      beat.cluster_address.size() > max_address_length || beat.stream_url.size() > max_url_length ||
      beat.linked.size() > max_linked || !(beat.load >= 0 && beat.load < 1e6)) {
    return std::nullopt;
  }
  actors::node_report report;
  report.name = beat.node_name;
  report.state = *state;
  report.active_calls = beat.active_calls;
  report.promised_calls = beat.promised_calls;
  report.capacity = beat.capacity;
  report.load = beat.load;
  report.stream_url = beat.stream_url;
  report.address = beat.cluster_address;
  return report;
}

bool short_enough(const std::string& text, std::size_t limit = max_call_text) {
  return text.size() <= limit;
}

/// A peer's description of a call, checked before it reaches the directory.
bool plausible(const actors::shared_call_view& call) {
  const auto& id = call.identity;
  if (id.call_sid.empty() || !short_enough(id.call_sid, max_sid_length) ||
      !short_enough(id.stream_sid, max_sid_length) ||
      !short_enough(id.account_sid, max_sid_length) || !short_enough(id.from) ||
      !short_enough(id.to) || !short_enough(id.dial_id) || !short_enough(call.direction) ||
      !short_enough(call.end_reason) || !actors::parse_call_state(call.state) ||
      call.files.size() > max_call_files || call.transcript.size() > max_transcript_lines) {
    return false;
  }
  return std::all_of(call.files.begin(), call.files.end(),
                     [](const std::string& file) { return short_enough(file); }) &&
         std::all_of(call.transcript.begin(), call.transcript.end(),
                     [](const actors::transcript_entry& line) {
                       return short_enough(line.speaker) && short_enough(line.item_id) &&
                              short_enough(line.text, max_transcript_text) &&
                              short_enough(line.unheard, max_transcript_text);
                     });
}

// A hand-over's state as a peer sends it: bounded like everything a peer says. The
// conversation's own bounds (actors/conversation.hpp) are far inside these.
constexpr std::size_t max_handover_items = 2'000;
constexpr std::size_t max_handover_text = 512 * 1024;  // instructions, metadata, one item
constexpr std::size_t max_handover_parts = 64;

bool plausible_handover(const actors::call_handover_state& handed) {
  const auto& id = handed.identity;
  if (id.call_sid.empty() || !short_enough(id.call_sid, max_sid_length) ||
      !short_enough(id.stream_sid, max_sid_length) ||
      !short_enough(id.account_sid, max_sid_length) || !short_enough(id.from) ||
      !short_enough(id.to) || !short_enough(id.dial_id) ||
      !short_enough(handed.instructions, max_handover_text) || !short_enough(handed.voice) ||
      !short_enough(handed.metadata_json, max_handover_text) ||
      handed.conversation.size() > max_handover_items ||
      handed.transcript.size() > max_transcript_lines || handed.parts.size() > max_handover_parts) {
    return false;
  }
  const bool items_fit =
      std::all_of(handed.conversation.begin(), handed.conversation.end(),
                  [](const actors::conversation_entry& item) {
                    return short_enough(item.item_id) && short_enough(item.name) &&
                           short_enough(item.call_id) && short_enough(item.text, max_handover_text);
                  });
  const bool lines_fit = std::all_of(
      handed.transcript.begin(), handed.transcript.end(), [](const actors::transcript_entry& line) {
        return short_enough(line.speaker) && short_enough(line.item_id) &&
               short_enough(line.text, max_transcript_text) &&
               short_enough(line.unheard, max_transcript_text);
      });
  const bool parts_fit =
      std::all_of(handed.parts.begin(), handed.parts.end(), [](const actors::call_part& part) {
        return short_enough(part.node, max_name_length) && short_enough(part.end_reason);
      });
  return items_fit && lines_fit && parts_fit;
}

struct node_data {
  static inline const char* name = "cluster_node";

  cluster_options options;
  std::shared_ptr<cluster_view> view;
  std::string address;  // ours, as peers are told
  std::optional<cluster_membership> table;
  std::map<std::string, actors::node_actor> peers;  // live links, by node id
  std::map<std::string, std::string> owners;        // address -> node id linked through it
  std::set<std::string> learnt;                     // addresses peers told us of
  std::set<std::string> dns_peers;                  // CLUSTER_DNS's last answer
  bool dns_answered = false;
  std::set<std::string> connecting;
  std::set<std::string> own_addresses;    // addresses that turned out to be this node
  std::set<std::string> seeds_not_tried;  // joining until each seed was tried once
  std::optional<double> last_cpu_seconds;
  steady::time_point last_cpu_sample{};
  double load = 0;
  bool started = false;
  actors::recording_reader_actor recordings;  // this node's files, for peers (detached)
};

using node_pointer = node_impl_actor::stateful_pointer<node_data>;

void count(node_data& state, std::string_view event) {
  if (state.options.metrics)
    state.options.metrics->cluster_link_events(event).Increment();
}

void note(node_data& state, const std::string& id, membership_change change) {
  if (change == membership_change::none)
    return;
  count(state, to_string(change));
  std::string name = id;
  for (const auto& member : state.table->members(steady::now())) {
    if (member.id == id && !member.report.name.empty())
      name = member.report.name;
  }
  if (change == membership_change::lost)
    spdlog::warn("cluster: node {} lost", name);
  else
    spdlog::info("cluster: node {} {}", name, to_string(change));
}

/// Forgets the link to `id`: no more heartbeats to it, its addresses may be connected again.
void drop_link(node_pointer self, const std::string& id) {
  auto& state = self->state;
  if (auto it = state.peers.find(id); it != state.peers.end()) {
    self->demonitor(it->second.address());
    state.peers.erase(it);
  }
  for (auto it = state.owners.begin(); it != state.owners.end();) {
    if (it->second == id) {
      state.learnt.erase(it->first);
      it = state.owners.erase(it);
    } else {
      ++it;
    }
  }
}

void adopt(node_pointer self, const std::string& id, actors::node_actor peer) {
  auto& state = self->state;
  if (state.peers.count(id) != 0)
    return;
  self->monitor(peer);
  // A peer that joins later learns the calls already running here, not only later changes.
  if (state.options.calls) {
    self->send(peer,
               actors::call_snapshot{state.options.node_name, state.options.calls->local_live()});
  }
  state.peers.emplace(id, std::move(peer));
  note(state, id, state.table->linked(id, steady::now()));
}

/// The peer's calls are gone with it (their sockets were on it): they end here as "node lost".
void calls_lost(node_data& state, const std::string& id) {
  if (state.options.calls)
    state.options.calls->peer_lost(id, std::chrono::system_clock::now());
}

actors::node_report self_report(node_data& state) {
  actors::node_report report;
  report.name = state.options.node_name;
  report.state = state.options.draining()        ? node_state::draining
                 : state.seeds_not_tried.empty() ? node_state::ready
                                                 : node_state::joining;
  report.stream_url = state.options.stream_url;
  report.active_calls = state.options.active_calls();
  report.promised_calls = state.options.promised_calls();
  report.capacity = state.options.capacity;
  report.load = state.load;
  report.address = state.address;
  return report;
}

actors::node_heartbeat heartbeat_of(const actors::node_report& report,
                                    std::vector<std::string> linked) {
  actors::node_heartbeat beat;
  beat.node_name = report.name;
  beat.state = std::string(to_string(report.state));
  beat.active_calls = report.active_calls;
  beat.promised_calls = report.promised_calls;
  beat.capacity = report.capacity;
  beat.load = report.load;
  beat.stream_url = report.stream_url;
  beat.cluster_address = report.address;
  beat.linked = std::move(linked);
  return beat;
}

void sample_load(node_data& state, steady::time_point now) {
  const auto cpu = process_cpu_seconds();
  if (cpu && state.last_cpu_seconds && now > state.last_cpu_sample) {
    const std::chrono::duration<double> wall = now - state.last_cpu_sample;
    state.load = std::max(0.0, (*cpu - *state.last_cpu_seconds) / wall.count());
  }
  state.last_cpu_seconds = cpu;
  state.last_cpu_sample = now;
}

void publish_view(node_data& state, steady::time_point now) {
  state.view->publish(state.table->members(now), now);
  if (!state.options.metrics)
    return;
  for (const auto& [node_state_value, nodes] : state.table->counts()) {
    if (auto* gauge = state.options.metrics->cluster_nodes(to_string(node_state_value)))
      gauge->Set(static_cast<double>(nodes));
  }
}

void connect_to(node_pointer self, const std::string& address) {
  auto target = split_host_port(address);
  if (!target)
    return;
  self->state.connecting.insert(address);
  // The middleman actor is looked up each time, never kept: it runs on a thread of its own,
  // which the actor system's shutdown waits for until the last reference to it is gone, and
  // this actor may outlive the io threads that would have ended it.
  const auto& links = self->state.options.tls ? self->system().openssl_manager().actor_handle()
                                              : self->system().middleman().actor_handle();
  self->request(links, connect_timeout, caf::connect_atom::value, target->first, target->second)
      .then(
          [self, address](const caf::node_id& node, caf::strong_actor_ptr& published,
                          std::set<std::string>&) {
            auto& state = self->state;
            state.connecting.erase(address);
            state.seeds_not_tried.erase(address);
            if (node == self->system().node()) {
              state.own_addresses.insert(address);
              return;
            }
            if (!published) {
              spdlog::warn("cluster: {} answered but publishes no node actor", address);
              count(state, "connect_failed");
              return;
            }
            const auto id = to_string(node);
            state.owners[address] = id;
            adopt(self, id, caf::actor_cast<actors::node_actor>(std::move(published)));
          },
          [self, address](caf::error& error) {
            auto& state = self->state;
            state.connecting.erase(address);
            state.seeds_not_tried.erase(address);
            state.learnt.erase(address);
            count(state, "connect_failed");
            spdlog::debug("cluster: cannot link to {}: {}", address, self->system().render(error));
          });
}

void tick(node_pointer self) {
  auto& state = self->state;
  const auto now = steady::now();
  sample_load(state, now);
  for (const auto& id : state.table->expire(now)) {
    count(state, "silent");
    spdlog::warn("cluster: node {} silent: marked down", id);
    drop_link(self, id);
    calls_lost(state, id);
  }
  // Seeds always (a restarted seed comes back on its address), and whatever peers mentioned.
  std::set<std::string> wanted(state.options.seeds.begin(), state.options.seeds.end());
  wanted.insert(state.learnt.begin(), state.learnt.end());
  wanted.insert(state.dns_peers.begin(), state.dns_peers.end());
  for (const auto& address : wanted) {
    const bool linked = state.owners.count(address) != 0;
    if (!linked && address != state.address && state.own_addresses.count(address) == 0 &&
        state.connecting.count(address) == 0) {
      connect_to(self, address);
    }
  }
  auto report = self_report(state);
  state.table->update_self(report);
  const auto beat = heartbeat_of(report, state.table->live_addresses());
  for (const auto& [id, peer] : state.peers)
    self->send(peer, beat);
  publish_view(state, now);
  self->delayed_send(self, state.options.heartbeat_every, cluster_tick_atom::value);
}

void heard(node_pointer self, actors::node_heartbeat& beat) {
  auto& state = self->state;
  const auto& sender = self->current_sender();
  if (!sender || sender->node() == self->system().node())
    return;
  auto report = checked_report(beat);
  if (!report) {
    count(state, "other");
    return;
  }
  const auto id = to_string(sender->node());
  // A peer that connected to us: its link is the one we use too (one per pair of nodes).
  adopt(self, id, caf::actor_cast<actors::node_actor>(sender));
  if (!report->address.empty() && state.owners.count(report->address) == 0)
    state.owners[report->address] = id;
  for (const auto& address : beat.linked) {
    if (address.size() <= max_address_length && state.learnt.size() < max_linked)
      state.learnt.insert(address);
  }
  for (auto change : state.table->heard(id, std::move(*report), steady::now()))
    note(state, id, change);
}

/// True for a message this node sent itself (not a peer's).
bool from_self(node_pointer self) {
  const auto& sender = self->current_sender();
  return sender && sender->node() == self->system().node() && sender->id() == self->id();
}

/// True for a message from another node's actor.
bool from_peer(node_pointer self) {
  const auto& sender = self->current_sender();
  return sender && sender->node() != self->system().node();
}

std::string peer_id(node_pointer self) {
  return to_string(self->current_sender()->node());
}

actors::remote_call_answer answer(std::uint16_t status, std::string error) {
  actors::remote_call_answer reply;
  reply.status = status;
  reply.error = std::move(error);
  return reply;
}

/// A peer asks about one of this node's calls: answered from the directory, steered by message.
actors::remote_call_answer answer_about_own_call(node_data& state,
                                                 const actors::remote_call_request& request) {
  using action = actors::remote_call_request::action;
  auto& calls = *state.options.calls;
  const auto& sid = request.call_sid;
  if (request.what == action::show) {
    auto call = calls.local_call(sid, true);
    if (!call)
      return answer(404, "no such call on node " + state.options.node_name + ": " + sid);
    auto reply = answer(200, {});
    reply.call = std::move(*call);
    return reply;
  }
  const auto supervisor = calls.supervisor_of(sid);
  if (!supervisor) {
    if (calls.find_local(sid))
      return answer(409, "the call is already ending or has ended");
    return answer(404, "no such call on node " + state.options.node_name + ": " + sid);
  }
  switch (request.what) {
    case action::hangup:
      caf::anon_send(*supervisor, actors::hangup_request{"hung up through the API", false});
      spdlog::info("[call {}] hang-up asked through the API of another node", sid);
      return answer(202, {});
    case action::say:
      caf::anon_send(*supervisor, actors::say_request{request.text});
      return answer(202, {});
    case action::check_steerable:
    case action::show:
      break;
  }
  return answer(200, {});
}

caf::result<actors::remote_call_answer> on_remote_call_request(
    node_pointer self, actors::remote_call_request& request) {
  auto& state = self->state;
  using action = actors::remote_call_request::action;
  const bool known_action = request.what == action::show || request.what == action::hangup ||
                            request.what == action::say || request.what == action::check_steerable;
  if (!state.options.calls || !known_action || !short_enough(request.call_sid, max_sid_length) ||
      !short_enough(request.text, max_transcript_text)) {
    return answer(400, "not a request this node takes");
  }
  if (from_peer(self))
    return answer_about_own_call(state, request);
  // From this node's API: to the call's node, which answers the API's actor directly.
  if (request.node_id == to_string(self->system().node()))
    return answer_about_own_call(state, request);
  const auto peer = state.peers.find(request.node_id);
  if (peer == state.peers.end())
    return answer(502, "the call's node is not linked to this one");
  return self->delegate(peer->second, std::move(request));
}

caf::result<actors::call_token_verdict> on_token_claim(node_pointer self,
                                                       actors::call_token_claim& claim) {
  auto& state = self->state;
  const auto own_id = to_string(self->system().node());
  if (!state.options.token_ledger || claim.token.size() > max_token_length)
    return actors::call_token_verdict{false, "this node keeps no ledger of call tokens"};
  if (claim.issuer == own_id) {
    // Ours: the ledger is the one authority, whoever asks.
    const auto now = std::chrono::system_clock::now();
    const auto expiry =
        std::chrono::system_clock::time_point(std::chrono::seconds(claim.expires_at_s));
    if (state.options.token_ledger->claim(claim.token, expiry, now)) {
      // The stream started on the claiming node: the place this node promised it when it
      // answered the webhook is free again (it would otherwise count against MAX_CALLS, and
      // keep a draining node up, until the promise expired).
      if (state.options.release_place && !claim.admission_key.empty())
        state.options.release_place(claim.admission_key);
      return actors::call_token_verdict{true, {}};
    }
    return actors::call_token_verdict{false, "call token already used by another stream"};
  }
  if (from_peer(self))
    return actors::call_token_verdict{false, "call token not issued by this node"};
  const auto issuer = state.peers.find(claim.issuer);
  if (issuer == state.peers.end()) {
    // Its ledger went with it (or it was never in this cluster): no one else may say the token
    // is unused, so the stream is refused (README "Security").
    return actors::call_token_verdict{
        false, "the node that issued the call token is not in the cluster (down or unknown)"};
  }
  return self->delegate(issuer->second, std::move(claim));
}

/// A request naming another node, asked of this one by a local caller, goes on to that peer;
/// one from a peer is never passed on again (no loops). `refused(why)` makes the answer when it
/// cannot go.
template <class Answer, class Request, class Refusal>
caf::result<Answer> forward_to_node(node_pointer self, Request& request, Refusal refused) {
  if (from_peer(self))
    return refused("not this node");
  const auto peer = self->state.peers.find(request.node_id);
  if (peer == self->state.peers.end())
    return refused("not linked to that node");
  return self->delegate(peer->second, std::move(request));
}

caf::result<actors::place_verdict> on_place_request(node_pointer self,
                                                    actors::place_request& request) {
  auto& state = self->state;
  if (request.admission_key.empty() || request.admission_key.size() > max_admission_key_length ||
      request.hold_s > max_place_hold_s || !state.options.reserve_place) {
    return actors::place_verdict{false, "not a place this node gives"};
  }
  if (request.node_id == to_string(self->system().node())) {
    // For this node, whoever asks (its own webhook, or a peer that chose it): its admission
    // decides, exactly as for a webhook it answers itself.
    auto refused =
        state.options.reserve_place(request.admission_key, std::chrono::seconds(request.hold_s));
    if (refused)
      return actors::place_verdict{false, std::move(*refused)};
    return actors::place_verdict{true, {}};
  }
  return forward_to_node<actors::place_verdict>(self, request, [](const char* why) {
    return actors::place_verdict{false, why};
  });
}

caf::result<actors::place_verdict> on_dial_budget_request(node_pointer self,
                                                          actors::dial_budget_request& request) {
  auto& state = self->state;
  if (request.node_id == to_string(self->system().node())) {
    if (!state.options.take_dial)
      return actors::place_verdict{false, "this node keeps no dial budget"};
    if (state.options.take_dial())
      return actors::place_verdict{true, {}};
    return actors::place_verdict{false, std::string(dial_budget_spent)};
  }
  return forward_to_node<actors::place_verdict>(self, request, [](const char* why) {
    return actors::place_verdict{false, why};
  });
}

caf::result<actors::call_handover_answer> on_handover_offer(node_pointer self,
                                                            actors::call_handover_offer& offer) {
  auto& state = self->state;
  if (offer.node_id == to_string(self->system().node())) {
    // For this node: a draining peer's call, to be continued here.
    if (!state.options.accept_handover)
      return actors::call_handover_answer{false, {}, "this node takes no hand-overs"};
    if (!plausible_handover(offer.state))
      return actors::call_handover_answer{false, {}, "not a call state this node takes"};
    return state.options.accept_handover(std::move(offer.state));
  }
  return forward_to_node<actors::call_handover_answer>(self, offer, [](const char* why) {
    return actors::call_handover_answer{false, {}, why};
  });
}

/// A stream that landed on a full peer: from that peer, host its call here; from this node's
/// stream, for a peer (forwarded there). The socket's actor must be on the asking node: no
/// peer makes this node link to a third node's actor.
caf::result<actors::place_verdict> on_host_call_request(node_pointer self,
                                                        actors::host_call_request& request) {
  auto& state = self->state;
  if (request.node_id == to_string(self->system().node())) {
    if (!from_peer(self) || !request.twilio ||
        request.twilio.node() != self->current_sender()->node())
      return actors::place_verdict{false, "not a stream this node hosts"};
    if (!state.options.host_call)
      return actors::place_verdict{false, "this node hosts no calls for peers"};
    if (auto refused = state.options.host_call(std::move(request.twilio)))
      return actors::place_verdict{false, std::move(*refused)};
    return actors::place_verdict{true, {}};
  }
  return forward_to_node<actors::place_verdict>(self, request, [](const char* why) {
    return actors::place_verdict{false, why};
  });
}

/// A chunk of a recording: from a peer, of one of this node's calls (its reader reads it, off
/// the io threads, and answers the asker directly); from this node's API, of a peer's call
/// (forwarded there).
caf::result<actors::recording_chunk> on_recording_chunk_request(
    node_pointer self, actors::recording_chunk_request& request) {
  auto& state = self->state;
  const auto refused = [](std::string why) {
    actors::recording_chunk chunk;
    chunk.status = 400;
    chunk.error = std::move(why);
    return chunk;
  };
  // The reader opens only names the call's own view lists; these bounds keep the asking cheap.
  if (!short_enough(request.call_sid, max_sid_length) || !short_enough(request.file, 64) ||
      request.file.find('/') != std::string::npos)
    return refused("not a request this node takes");
  if (from_peer(self) || request.node_id == to_string(self->system().node())) {
    if (!state.recordings)
      return refused("this node serves no recordings");
    return self->delegate(state.recordings, std::move(request));
  }
  return forward_to_node<actors::recording_chunk>(self, request, [&](const char* why) {
    auto chunk = refused(why);
    chunk.status = 502;
    return chunk;
  });
}

void on_call_changed(node_pointer self, const std::string& call_sid) {
  auto& state = self->state;
  if (from_peer(self) || !state.options.calls || state.peers.empty())
    return;
  auto call = state.options.calls->local_call(call_sid, false);
  if (!call)
    return;
  const actors::call_announcement news{state.options.node_name, std::move(*call)};
  for (const auto& [id, peer] : state.peers)
    self->send(peer, news);
}

void on_call_announcement(node_pointer self, actors::call_announcement& news) {
  auto& state = self->state;
  if (!from_peer(self) || !state.options.calls || !short_enough(news.node_name, max_name_length) ||
      !plausible(news.call)) {
    count(state, "other");
    return;
  }
  news.call.transcript.clear();
  state.options.calls->peer_announced(peer_id(self), news.node_name, std::move(news.call));
}

void on_call_snapshot(node_pointer self, actors::call_snapshot& snapshot) {
  auto& state = self->state;
  if (!from_peer(self) || !state.options.calls ||
      !short_enough(snapshot.node_name, max_name_length) ||
      snapshot.calls.size() > max_snapshot_calls ||
      !std::all_of(snapshot.calls.begin(), snapshot.calls.end(), plausible)) {
    count(state, "other");
    return;
  }
  state.options.calls->peer_snapshot(peer_id(self), snapshot.node_name, std::move(snapshot.calls));
}

/// CLUSTER_DNS answered: its addresses are peers from now on (linked at the next tick). The
/// first answer's peers are tried once before this node calls itself ready, as seeds are.
void on_dns_answer(node_pointer self, std::vector<std::string>& peers) {
  auto& state = self->state;
  state.dns_peers.clear();
  for (auto& peer : peers) {
    if (peer.size() <= max_address_length && split_host_port(peer))
      state.dns_peers.insert(std::move(peer));
  }
  if (!state.dns_answered) {
    state.dns_answered = true;
    for (const auto& peer : state.dns_peers) {
      if (state.owners.count(peer) == 0)
        state.seeds_not_tried.insert(peer);
    }
  }
}

node_impl_actor::behavior_type node_behavior(node_pointer self, cluster_options options,
                                             std::shared_ptr<cluster_view> view) {
  auto& state = self->state;
  state.options = std::move(options);
  state.view = std::move(view);
  state.seeds_not_tried.insert(state.options.seeds.begin(), state.options.seeds.end());
  state.table.emplace(to_string(self->system().node()), self_report(state), state.options.limits);
  if (state.options.calls) {
    // Linked: it ends with this actor (a detached actor holds a thread the system waits for).
    state.recordings =
        self->spawn<caf::detached + caf::linked>(actors::recording_reader, state.options.calls);
  }
  self->set_down_handler([self](caf::down_msg& down) {
    auto& data = self->state;
    for (const auto& [id, peer] : data.peers) {
      if (peer.address() == down.source) {
        const auto lost_id = id;
        note(data, lost_id, data.table->lost(lost_id, steady::now()));
        drop_link(self, lost_id);
        calls_lost(data, lost_id);
        publish_view(data, steady::now());
        return;
      }
    }
  });
  return {
      [self](actors::node_heartbeat& beat) { heard(self, beat); },
      [self](actors::call_announcement& news) { on_call_announcement(self, news); },
      [self](actors::call_snapshot& snapshot) { on_call_snapshot(self, snapshot); },
      [self](actors::remote_call_request& request) {
        return on_remote_call_request(self, request);
      },
      [self](actors::call_token_claim& claim) { return on_token_claim(self, claim); },
      [self](actors::place_request& request) { return on_place_request(self, request); },
      [self](actors::dial_budget_request& request) {
        return on_dial_budget_request(self, request);
      },
      [self](actors::call_handover_offer& offer) { return on_handover_offer(self, offer); },
      [self](actors::host_call_request& request) { return on_host_call_request(self, request); },
      [self](actors::recording_chunk_request& request) {
        return on_recording_chunk_request(self, request);
      },
      [self](call_changed_atom, std::string& call_sid) { on_call_changed(self, call_sid); },
      [self](cluster_tick_atom) {
        if (from_self(self))
          tick(self);
      },
      [self](cluster_dns_atom, std::vector<std::string>& peers) {
        // From this node's DNS watch only (a peer has no business naming our peers this way).
        const auto& sender = self->current_sender();
        if (!sender || sender->node() != self->system().node())
          return;
        on_dns_answer(self, peers);
      },
      [self](cluster_start_atom, std::string& address) {
        // Sent once by cluster_node::start, anonymously (a remote anonymous one is ignored once
        // this node has started, which it has before its port is known to anyone).
        auto& data = self->state;
        if (data.started || self->current_sender() != nullptr)
          return;
        data.started = true;
        data.address = std::move(address);
        tick(self);
      },
  };
}

}  // namespace

void cluster_view::publish(std::vector<actors::cluster_member> members, clock::time_point taken) {
  std::lock_guard lock(mutex_);
  members_ = std::move(members);
  taken_ = taken;
}

std::vector<actors::cluster_member> cluster_view::members(clock::time_point now) const {
  std::lock_guard lock(mutex_);
  auto out = members_;
  const auto since = now > taken_ ? now - taken_ : clock::duration::zero();
  for (auto& member : out) {
    if (member.heartbeat_age && !member.self)
      *member.heartbeat_age += since;
  }
  return out;
}

cluster_view::clock::time_point cluster_view::taken() const {
  std::lock_guard lock(mutex_);
  return taken_;
}

net::http_response cluster_response(const std::vector<actors::cluster_member>& members) {
  boost::json::array nodes;
  std::string self_id;
  for (const auto& member : members) {
    if (member.self)
      self_id = member.id;
    boost::json::value age = nullptr;
    if (member.heartbeat_age) {
      age = std::chrono::duration_cast<std::chrono::milliseconds>(*member.heartbeat_age).count();
    }
    nodes.push_back(boost::json::object{
        {"id", member.id},
        {"name", member.report.name},
        {"state", to_string(member.state)},
        {"self", member.self},
        {"active_calls", member.report.active_calls},
        {"promised_calls", member.report.promised_calls},
        {"capacity", member.report.capacity},
        {"load", member.report.load},
        {"stream_url", member.report.stream_url},
        {"address", member.report.address},
        {"heartbeat_age_ms", age},
    });
  }
  boost::json::object body{{"node", self_id}, {"nodes", std::move(nodes)}};
  return net::http_response::json(200, boost::json::serialize(body) + "\n");
}

void configure_cluster(caf::actor_system_config& config, const cluster_tls_files& tls) {
  config.load<caf::io::middleman>();
  if (tls.enabled()) {
    // With a certificate set, CAF's OpenSSL module requires one from every peer too (mutual
    // TLS; the chain is checked against the CA, host names are not) and offers
    // "HIGH:!aNULL:!MD5" through TLS_method: OpenSSL 3 negotiates it (README "Cluster").
    config.load<caf::openssl::manager>();
    config.set("openssl.certificate", tls.certificate);
    config.set("openssl.key", tls.key);
    config.set("openssl.cafile", tls.ca);
  }
  // Off by default in CAF 0.17.6: without them a frozen peer (SIGSTOP, a partition) keeps its
  // link open forever. With them the link closes after a second's silence beyond the timeout,
  // and every proxy of that node dies (remote_link_unreachable): our monitors fire.
  config.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(500)});
  config.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(3)});
  actors::add_cluster_message_types(config);
}

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size())
    return std::nullopt;
  auto host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  const auto digits = text.substr(colon + 1);
  std::uint16_t port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0)
    return std::nullopt;
  return std::pair{std::string(host), port};
}

boost::system::result<std::unique_ptr<cluster_node>, std::string> cluster_node::start(
    caf::actor_system& system, cluster_options options) {
  const bool wildcard = options.bind_address == "0.0.0.0" || options.bind_address == "::";
  const auto advertised_host = wildcard ? host_name() : options.bind_address;
  std::unique_ptr<cluster_node> node(new cluster_node());
  node->view_ = std::make_shared<cluster_view>();
  // It starts ticking once published, when its address is known (cluster_start_atom).
  auto handle = system.spawn(node_behavior, options, node->view_);
  auto published =
      options.tls ? caf::openssl::publish(handle, options.port, options.bind_address.c_str(), true)
                  : caf::io::publish(handle, options.port, options.bind_address.c_str(), true);
  if (!published) {
    caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    return "CLUSTER_PORT: cannot publish on " + options.bind_address + ":" +
           std::to_string(options.port) + ": " + system.render(published.error());
  }
  node->port_ = *published;
  node->system_ = &system;
  node->request_timeout_ = options.request_timeout;
  node->id_ = to_string(system.node());
  if (options.calls) {
    // Each change of a local call reaches the node actor, which tells every peer.
    // A weak handle: the directory outlives the node actor.
    options.calls->join_cluster(
        options.node_name,
        [weak = caf::actor_cast<caf::weak_actor_ptr>(handle)](std::string call_sid) {
          if (auto node_actor = weak.lock()) {
            caf::anon_send(caf::actor_cast<caf::actor>(std::move(node_actor)),
                           call_changed_atom::value, std::move(call_sid));
          }
        });
  }
  const bool v6 = advertised_host.find(':') != std::string::npos;
  node->address_ =
      (v6 ? "[" + advertised_host + "]" : advertised_host) + ":" + std::to_string(node->port_);
  caf::anon_send(handle, cluster_start_atom::value, node->address_);
  if (!options.dns_name.empty()) {
    spawn_cluster_dns_watch(system, caf::actor_cast<caf::actor>(handle), options.dns_name,
                            options.dns_port, options.dns_every);
  }
  node->handle_ = caf::actor_cast<caf::actor>(handle);
  node->actor_ = node->handle_;
  return node;
}

cluster_node::~cluster_node() {
  stop();
}

actors::call_token_authority_actor cluster_node::token_authority() const {
  return caf::actor_cast<actors::call_token_authority_actor>(handle_);
}

void cluster_node::ask(actors::remote_call_request request,
                       std::function<void(actors::remote_call_answer)> done) const {
  if (!handle_ || system_ == nullptr)
    return done(answer(502, "this node has left the cluster"));
  // A short-lived actor per question: the API's thread does not wait, and the request's
  // timeout bounds a node that does not answer (the actor ends with its one request). The
  // question goes as spawn arguments: CAF 0.17 binds a reference to a null tuple for a
  // function actor spawned without any (UBSan reports it).
  const auto timeout = request_timeout_;
  system_->spawn(
      [node = caf::actor_cast<actors::node_actor>(handle_), timeout](
          caf::event_based_actor* self, actors::remote_call_request question,
          std::function<void(actors::remote_call_answer)> reply_to) {
        self->request(node, timeout, std::move(question))
            .then(
                [reply_to](actors::remote_call_answer& reply) {
                  // The call's node answered this actor directly: checked here, as the node
                  // actor checks what peers send it.
                  const bool shows_call = !reply.call.identity.call_sid.empty();
                  if ((shows_call && !plausible(reply.call)) ||
                      !short_enough(reply.error, max_call_text)) {
                    return reply_to(answer(502,
                                           "the call's node answered with a call this node "
                                           "cannot read"));
                  }
                  reply_to(std::move(reply));
                },
                [reply_to, timeout](caf::error& error) {
                  if (error == caf::sec::request_timeout) {
                    return reply_to(answer(504, "the call's node did not answer within " +
                                                    std::to_string(timeout.count()) + " ms"));
                  }
                  reply_to(answer(502, "the call's node cannot be reached: " + to_string(error)));
                });
      },
      std::move(request), std::move(done));
}

void cluster_node::read_chunk(actors::recording_chunk_request request,
                              std::function<void(actors::recording_chunk)> done) const {
  const auto failed = [](std::uint16_t status, std::string why) {
    actors::recording_chunk chunk;
    chunk.status = status;
    chunk.error = std::move(why);
    return chunk;
  };
  if (!handle_ || system_ == nullptr)
    return done(failed(502, "this node has left the cluster"));
  // As ask(): a short-lived actor per chunk, its request's timeout bounding a silent node.
  const auto timeout = request_timeout_;
  const std::uint64_t offset = request.offset;
  system_->spawn(
      [node = caf::actor_cast<actors::node_actor>(handle_), timeout, failed, offset](
          caf::event_based_actor* self, actors::recording_chunk_request question,
          std::function<void(actors::recording_chunk)> reply_to) {
        self->request(node, timeout, std::move(question))
            .then(
                [reply_to, failed, offset](actors::recording_chunk& chunk) {
                  // Another node's bytes: no more than a chunk, never past the size it gives.
                  if (chunk.bytes.size() > actors::recording_chunk_bytes ||
                      chunk.error.size() > max_call_text ||
                      (chunk.status == 200 &&
                       (chunk.total < offset || chunk.bytes.size() > chunk.total - offset))) {
                    return reply_to(failed(502,
                                           "the call's node answered with a chunk this "
                                           "node cannot read"));
                  }
                  reply_to(std::move(chunk));
                },
                [reply_to, failed, timeout](caf::error& error) {
                  if (error == caf::sec::request_timeout) {
                    return reply_to(failed(504, "the call's node did not answer within " +
                                                    std::to_string(timeout.count()) + " ms"));
                  }
                  reply_to(failed(502, "the call's node cannot be reached: " + to_string(error)));
                });
      },
      std::move(request), std::move(done));
}

void cluster_node::reserve(actors::place_request request,
                           std::function<void(actors::place_verdict)> done) const {
  if (!handle_ || system_ == nullptr)
    return done(actors::place_verdict{false, "this node has left the cluster"});
  // As ask(): a short-lived actor per question, its request's timeout bounding a silent node.
  const auto timeout = request_timeout_;
  system_->spawn(
      [node = caf::actor_cast<actors::node_actor>(handle_), timeout](
          caf::event_based_actor* self, actors::place_request question,
          std::function<void(actors::place_verdict)> reply_to) {
        self->request(node, timeout, std::move(question))
            .then(
                [reply_to](actors::place_verdict& verdict) {
                  // Another node's words, for the log only: bounded.
                  if (verdict.why.size() > max_call_text)
                    verdict.why.resize(max_call_text);
                  reply_to(std::move(verdict));
                },
                [reply_to](caf::error& error) {
                  reply_to(actors::place_verdict{false, error == caf::sec::request_timeout
                                                            ? "no answer in time"
                                                            : "unreachable: " + to_string(error)});
                });
      },
      std::move(request), std::move(done));
}

namespace {

/// host_call's asker: peers[index] first, then the next, until one hosts the call. Each
/// request's timeout bounds a silent peer.
void ask_to_host(caf::event_based_actor* self, actors::node_actor node,
                 std::chrono::milliseconds timeout,
                 std::shared_ptr<const std::vector<placement_target>> peers, std::size_t index,
                 actors::twilio_socket_actor socket,
                 std::function<void(std::optional<std::string>)> reply_to) {
  if (index == peers->size())
    return reply_to(std::nullopt);
  const auto ask_next = [=](const std::string& why) {
    spdlog::info("{} does not host the call: {}", (*peers)[index].name, why);
    ask_to_host(self, node, timeout, peers, index + 1, socket, reply_to);
  };
  self->request(node, timeout, actors::host_call_request{(*peers)[index].node_id, socket})
      .then(
          [=](actors::place_verdict& verdict) {
            if (verdict.granted)
              return reply_to((*peers)[index].name);
            ask_next(verdict.why.substr(0, max_call_text));  // another node's words: bounded
          },
          [=](caf::error& error) { ask_next(to_string(error)); });
}

}  // namespace

void cluster_node::host_call(actors::twilio_socket_actor twilio,
                             std::function<void(std::optional<std::string>)> done) const {
  if (!handle_ || system_ == nullptr)
    return done(std::nullopt);
  const auto now = std::chrono::steady_clock::now();
  auto order = hosting_order(view_->members(now), id_, now);
  if (order.empty())
    return done(std::nullopt);
  // As reserve(): a short-lived actor, which lives while a request of its is pending.
  system_->spawn(
      [node = caf::actor_cast<actors::node_actor>(handle_), timeout = request_timeout_](
          caf::event_based_actor* self, std::vector<placement_target> peers,
          actors::twilio_socket_actor socket,
          std::function<void(std::optional<std::string>)> reply_to) {
        ask_to_host(self, node, timeout,
                    std::make_shared<const std::vector<placement_target>>(std::move(peers)), 0,
                    std::move(socket), std::move(reply_to));
      },
      std::move(order), std::move(twilio), std::move(done));
}

void cluster_node::offer_handover(actors::call_handover_offer offer,
                                  std::function<void(actors::call_handover_answer)> done) const {
  if (!handle_ || system_ == nullptr)
    return done(actors::call_handover_answer{false, {}, "this node has left the cluster"});
  // As reserve(): a short-lived actor per question, its request's timeout bounding a silent
  // peer.
  const auto timeout = request_timeout_;
  system_->spawn(
      [node = caf::actor_cast<actors::node_actor>(handle_), timeout](
          caf::event_based_actor* self, actors::call_handover_offer question,
          std::function<void(actors::call_handover_answer)> reply_to) {
        self->request(node, timeout, std::move(question))
            .then(
                [reply_to](actors::call_handover_answer& answer) {
                  // Another node's words: bounded.
                  if (answer.why.size() > max_call_text)
                    answer.why.resize(max_call_text);
                  if (answer.key.size() > max_token_length)
                    answer = {false, {}, "a hand-over key longer than any node makes"};
                  reply_to(std::move(answer));
                },
                [reply_to](caf::error& error) {
                  reply_to(actors::call_handover_answer{false,
                                                        {},
                                                        error == caf::sec::request_timeout
                                                            ? "no answer in time"
                                                            : "unreachable: " + to_string(error)});
                });
      },
      std::move(offer), std::move(done));
}

void cluster_node::take_dial(std::function<void(std::optional<bool>)> done) const {
  if (!handle_ || system_ == nullptr)
    return done(std::nullopt);
  const auto keeper = dial_budget_keeper(view_->members(std::chrono::steady_clock::now()));
  const auto timeout = request_timeout_;
  system_->spawn(
      [node = caf::actor_cast<actors::node_actor>(handle_), timeout](
          caf::event_based_actor* self, actors::dial_budget_request question,
          std::function<void(std::optional<bool>)> reply_to) {
        self->request(node, timeout, std::move(question))
            .then(
                [reply_to](actors::place_verdict& verdict) {
                  // Refused because the keeper is not linked or keeps none: not an answer.
                  if (!verdict.granted && verdict.why != dial_budget_spent)
                    return reply_to(std::nullopt);
                  reply_to(verdict.granted);
                },
                [reply_to](caf::error&) { reply_to(std::nullopt); });
      },
      actors::dial_budget_request{keeper}, std::move(done));
}

void cluster_node::stop() {
  if (handle_) {
    caf::anon_send_exit(handle_, caf::exit_reason::user_shutdown);
    handle_ = nullptr;
  }
}

}  // namespace switchboard::app
