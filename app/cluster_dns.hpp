#pragma once
// CLUSTER_DNS: peers found by a DNS name, e.g. a Kubernetes headless Service, whose records are
// every pod (ready or not). Each address the name resolves to is a peer on CLUSTER_PORT; the
// name is resolved again every few seconds, so that a pod that appears later is linked without a
// restart of anyone. The node's own address is among them: the link finds out (the node id is
// its own) and leaves it.
//
// getaddrinfo blocks (a DNS server may take seconds): it runs on a detached actor of its own,
// which hands each answer to the node actor by message, never on the io threads.

#include <boost/system/result.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::app {

/// To the node actor: the peers CLUSTER_DNS resolves to now ("host:port", IPv6 as
/// "[addr]:port"), replacing the previous answer.
using cluster_dns_atom = caf::atom_constant<caf::atom("cdns")>;

/// A name's many records are bounded: a cluster is tens of nodes, not thousands.
inline constexpr std::size_t max_dns_peers = 64;

/// Every address `name` resolves to (IPv4 and IPv6, once each, in the resolver's order, at most
/// max_dns_peers) as a peer on `port`; the error names the name and the resolver's reason.
/// Blocking.
boost::system::result<std::vector<std::string>, std::string> resolve_cluster_peers(
    std::string_view name, std::uint16_t port);

/// Resolves `name` now and then every `every`, sending each answer that resolved to `node` as
/// (cluster_dns_atom, std::vector<std::string>); a failure is logged (once until it resolves
/// again) and keeps the peers of the last answer. It ends when `node` does.
void spawn_cluster_dns_watch(caf::actor_system& system, caf::actor node, std::string name,
                             std::uint16_t port, std::chrono::milliseconds every);

}  // namespace switchboard::app
