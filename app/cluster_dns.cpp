#include "app/cluster_dns.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace switchboard::app {

namespace {

using dns_tick_atom = caf::atom_constant<caf::atom("cdnstick")>;

std::string peer_of(const sockaddr* address, std::uint16_t port) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    if (inet_ntop(AF_INET, &v4->sin_addr, text.data(), text.size()) == nullptr)
      return {};
    return std::string(text.data()) + ":" + std::to_string(port);
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (inet_ntop(AF_INET6, &v6->sin6_addr, text.data(), text.size()) == nullptr)
      return {};
    return "[" + std::string(text.data()) + "]:" + std::to_string(port);
  }
  return {};
}

struct dns_watch_state {
  static inline const char* name = "cluster_dns_watch";
  bool failing = false;  // the last try failed: the next failure is not logged again
};

void resolve_and_tell(caf::stateful_actor<dns_watch_state>* self, const caf::actor& node,
                      const std::string& name, std::uint16_t port) {
  auto peers = resolve_cluster_peers(name, port);
  if (!peers) {
    if (!self->state.failing)
      spdlog::warn("cluster: {} (CLUSTER_DNS); the peers found before stay", peers.error());
    self->state.failing = true;
    return;
  }
  if (self->state.failing)
    spdlog::info("cluster: CLUSTER_DNS {} resolves again", name);
  self->state.failing = false;
  self->send(node, cluster_dns_atom::value, std::move(*peers));
}

caf::behavior dns_watch(caf::stateful_actor<dns_watch_state>* self, caf::actor node,
                        std::string name, std::uint16_t port, std::chrono::milliseconds every) {
  // It ends with the node actor; the node does not end with it (a monitor, not a link).
  self->monitor(node);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->send(self, dns_tick_atom::value);
  return {
      [=](dns_tick_atom) {
        resolve_and_tell(self, node, name, port);
        self->delayed_send(self, every, dns_tick_atom::value);
      },
  };
}

}  // namespace

boost::system::result<std::vector<std::string>, std::string> resolve_cluster_peers(
    std::string_view name, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string host(name);
  const int failed = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (failed != 0)
    return "cannot resolve " + host + ": " + gai_strerror(failed);
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, &freeaddrinfo);
  std::vector<std::string> peers;
  for (const auto* entry = found; entry != nullptr && peers.size() < max_dns_peers;
       entry = entry->ai_next) {
    auto peer = peer_of(entry->ai_addr, port);
    if (!peer.empty() && std::find(peers.begin(), peers.end(), peer) == peers.end())
      peers.push_back(std::move(peer));
  }
  if (peers.empty())
    return host + " resolves to no IPv4 or IPv6 address";
  return peers;
}

void spawn_cluster_dns_watch(caf::actor_system& system, caf::actor node, std::string name,
                             std::uint16_t port, std::chrono::milliseconds every) {
  system.spawn<caf::detached>(dns_watch, std::move(node), std::move(name), port, every);
}

}  // namespace switchboard::app
