#pragma once
// This node's place in the cluster (README "Cluster"): one `node` actor (actors/interfaces.hpp)
// published on CLUSTER_PORT through CAF's io middleman, linked to every other node (full
// mesh), telling each about once a second who it is and how loaded, and marking peers down
// when their link drops (a down message from the peer's node actor: its process died, or the
// middleman's heartbeats timed out) or they fall silent. The table itself is the plain
// actors::cluster_membership; /cluster reads a copy of it (cluster_view).
//
// Threads: the node actor runs on the io threads like every actor (app/io_thread_scheduler);
// it never blocks: connections go through the middleman actor's request interface (the
// middleman actor runs on a thread of its own, where CAF's blocking connect is harmless).
// Only start() blocks (publish), and it runs on the thread that starts the server.

#include "actors/call_directory.hpp"
#include "actors/cluster_membership.hpp"
#include "actors/interfaces.hpp"
#include "app/remote_calls.hpp"
#include "metrics/bridge_metrics.hpp"
#include "net/call_token.hpp"
#include "net/http_types.hpp"

#include <boost/system/result.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace switchboard::app {

/// The membership table as last published by the node actor, for readers on other threads.
class cluster_view {
 public:
  using clock = std::chrono::steady_clock;
  void publish(std::vector<actors::cluster_member> members, clock::time_point taken);
  /// The members with their heartbeat ages advanced to `now`.
  std::vector<actors::cluster_member> members(clock::time_point now) const;
  /// When the node actor last published it (its last heartbeat: this node's own row is as of
  /// then).
  clock::time_point taken() const;

 private:
  mutable std::mutex mutex_;
  std::vector<actors::cluster_member> members_;  // guarded by mutex_
  clock::time_point taken_{};                    // guarded by mutex_
};

/// GET /cluster's JSON: {"node": self id, "nodes": [{id, name, state, self, active_calls,
/// promised_calls, capacity, load, stream_url, address, heartbeat_age_ms (null: never heard)}]}.
net::http_response cluster_response(const std::vector<actors::cluster_member>& members);

struct cluster_options {
  std::string bind_address;        // what CLUSTER_PORT binds to
  std::uint16_t port = 0;          // 0 = any free port
  std::vector<std::string> seeds;  // host:port
  /// CLUSTER_DNS (app/cluster_dns.hpp): every address it resolves to is a peer on `dns_port`;
  /// resolved every `dns_every`. Empty: none.
  std::string dns_name;
  std::uint16_t dns_port = 0;
  std::chrono::milliseconds dns_every{5000};
  std::string node_name;
  /// Live calls on this node, read each heartbeat.
  std::function<std::uint32_t()> active_calls = [] {
    return 0u;
  };
  /// Places promised to calls whose stream has not started yet (webhooks and POST /calls of
  /// this node or of peers that placed calls here), read each heartbeat: placement counts them.
  std::function<std::uint32_t()> promised_calls = [] {
    return 0u;
  };
  std::uint32_t capacity = 0;  // MAX_CALLS, 0 = unlimited
  /// This node's admission asked for a place: nullopt when granted, else why not (full,
  /// overloaded, draining). hold 0 gives the place back. Empty: every request is refused.
  std::function<std::optional<std::string>(const std::string& admission_key,
                                           std::chrono::seconds hold)>
      reserve_place;
  /// Takes one dial from CALLS_PER_MINUTE when this node keeps the cluster's budget: true when
  /// the minute has one left. Empty: every request is refused.
  std::function<bool()> take_dial;
  /// NODE_STREAM_URL, advertised so that peers can send calls here; empty = none.
  std::string stream_url;
  /// True once this node drains (SIGTERM, POST /drain): it then reports `draining`, read each
  /// heartbeat, so that peers stop sending it calls.
  std::function<bool()> draining = [] {
    return false;
  };
  std::chrono::milliseconds heartbeat_every{1000};
  bool tls = false;  // configure_cluster was given certificates: links go through caf::openssl
  actors::cluster_membership::limits limits;
  std::shared_ptr<metrics::bridge_metrics> metrics;  // may be null
  /// The node's call directory: its calls are announced to the peers, theirs merged into it,
  /// and the peers' questions about its calls answered from it. Null: calls are not shared.
  std::shared_ptr<actors::call_directory> calls;
  /// The ledger of the tokens this node issued: the one authority on them for the cluster.
  std::shared_ptr<net::call_token_ledger> token_ledger;
  /// Frees the place this node promised a call (its admission key) when its stream started on
  /// another node, which claimed the call's token here. Empty: nothing to free.
  std::function<void(const std::string& admission_key)> release_place;
  /// A draining peer's call to continue here (actors/call_handover.hpp): the answer carries the
  /// key its new stream will bring, or why not (draining, full). Empty: every offer is refused.
  std::function<actors::call_handover_answer(actors::call_handover_state)> accept_handover;
  /// Spawns the supervisor of a peer's call here, for the twilio_socket that stays with its
  /// socket on that peer (a stream that landed there with every place taken): nullopt when
  /// hosted, else why not (draining, full). Empty: every request is refused.
  std::function<std::optional<std::string>(actors::twilio_socket_actor)> host_call;
  /// How long a question to another node (a call's view, a hang-up, a token claim) may take.
  std::chrono::milliseconds request_timeout{2000};
};

/// The cluster link's mutual TLS (CLUSTER_TLS_*): PEM files; all empty = plain TCP.
struct cluster_tls_files {
  std::string certificate;
  std::string key;
  std::string ca;
  bool enabled() const { return !certificate.empty(); }
};

/// Prepares `config` for a cluster node: CAF's io middleman with its heartbeats on (so a frozen
/// peer's link times out), CAF's OpenSSL module when `tls` is enabled (every peer must then
/// present a certificate chaining to tls.ca), and every cross-node type. Call before the actor
/// system is built.
void configure_cluster(caf::actor_system_config& config, const cluster_tls_files& tls = {});

class cluster_node final : public remote_calls {
 public:
  /// Spawns the node actor and publishes it on options.port. Blocks until published: call it
  /// from a thread that does not run actors.
  static boost::system::result<std::unique_ptr<cluster_node>, std::string> start(
      caf::actor_system& system, cluster_options options);

  ~cluster_node() override;
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  std::uint16_t port() const { return port_; }
  /// host:port the peers are told to reach this node at.
  const std::string& address() const { return address_; }
  const cluster_view& view() const { return *view_; }
  /// This node's id in the cluster (CAF's node id as text, one per process): the issuer its
  /// call tokens name.
  const std::string& id() const { return id_; }
  /// Where this node's streams claim tokens that other nodes issued (the node actor).
  actors::call_token_authority_actor token_authority() const;
  // remote_calls
  void ask(actors::remote_call_request request,
           std::function<void(actors::remote_call_answer)> done) const override;
  void read_chunk(actors::recording_chunk_request request,
                  std::function<void(actors::recording_chunk)> done) const override;
  /// Asks `request.node_id` (this node or a peer) for a place for a call (placement); `done`
  /// is called once, on an io thread: refused when that node is full, draining, not linked or
  /// does not answer within the request timeout. Never blocks.
  void reserve(actors::place_request request,
               std::function<void(actors::place_verdict)> done) const;
  /// Asks the peers with room, best first (hosting_order), to host the call of `twilio`, a
  /// stream that landed here with every place taken; `done` once, on an io thread: the name of
  /// the peer that hosts it, or nullopt when none would. Never blocks.
  void host_call(actors::twilio_socket_actor twilio,
                 std::function<void(std::optional<std::string>)> done) const;
  /// Offers a call's state to `offer.node_id` (a peer) at the drain deadline; `done` once, on an
  /// io thread: the peer's key, or refused (the peer's reason, not linked, no answer in time).
  /// Never blocks.
  void offer_handover(actors::call_handover_offer offer,
                      std::function<void(actors::call_handover_answer)> done) const;
  /// One dial from the cluster's CALLS_PER_MINUTE, at the node that keeps it
  /// (dial_budget_keeper); `done` once, on an io thread: granted or not, or nullopt when the
  /// keeper could not be asked (not linked, no answer in time).
  void take_dial(std::function<void(std::optional<bool>)> done) const;
  /// Ends the node actor (its peers see its link drop when the process ends).
  void stop();
  /// The node actor, also after stop() (to await its end); null before start.
  const caf::actor& actor() const { return actor_; }

 private:
  cluster_node() = default;
  caf::actor handle_;  // null once stopped
  caf::actor actor_;   // the same actor, kept after stop()
  caf::actor_system* system_ = nullptr;
  std::chrono::milliseconds request_timeout_{2000};
  std::string id_;
  std::uint16_t port_ = 0;
  std::string address_;
  std::shared_ptr<cluster_view> view_;
};

/// Splits "host:port" ("[v6]:port" too); nullopt when it is not that.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text);

}  // namespace switchboard::app
