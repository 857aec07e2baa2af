// CAF's io middleman beside the node's own scheduler (app/io_thread_scheduler): two actor
// systems in one process, each running its actors on its own io threads, linked over loopback
// TCP by the middleman. An actor on one node asks the middleman actor for the other's published
// actor (no blocking call on an io thread) and exchanges a request and its response; both
// handlers run on their node's io threads. Then two cluster nodes find each other.
#include "actors/cluster_membership.hpp"
#include "app/cluster_dns.hpp"
#include "app/cluster_node.hpp"
#include "app/io_thread_scheduler.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using switchboard::app::cluster_node;
using switchboard::app::cluster_options;

namespace {

/// `count` shards, each run by its own thread, as the node runs its own.
struct io_threads {
  explicit io_threads(unsigned count) : shards(count) {
    shards.start();
    for (auto id : shards.thread_ids())
      ids.insert(id);
  }
  void stop() { shards.stop(); }
  switchboard::net::io_shards shards;
  std::set<std::thread::id> ids;
};

/// One node: its io threads run its actors, and the middleman is loaded as on a cluster node.
struct node_system {
  // As the server does (app/bridge_server.cpp): the io threads stop before the actor system
  // goes, and the system does not wait for actors that no thread runs any more.
  node_system() : system(prepare(config, io.shards)) { system.await_actors_before_shutdown(false); }
  ~node_system() { io.stop(); }
  static caf::actor_system_config& prepare(caf::actor_system_config& config,
                                           switchboard::net::io_shards& shards) {
    switchboard::app::run_actors_on_io_threads(config, shards);
    switchboard::app::configure_cluster(config);
    return config;
  }
  io_threads io{2};
  caf::actor_system_config config;
  caf::actor_system system;
};

struct thread_log {
  std::mutex mutex;
  std::set<std::thread::id> threads;
  void add() {
    std::lock_guard lock(mutex);
    threads.insert(std::this_thread::get_id());
  }
  bool all_in(const std::set<std::thread::id>& allowed) {
    std::lock_guard lock(mutex);
    for (auto id : threads) {
      if (allowed.count(id) == 0)
        return false;
    }
    return !threads.empty();
  }
};

using ask_atom = caf::atom_constant<caf::atom("ask")>;

caf::behavior echo(caf::event_based_actor*, thread_log* log) {
  return {[log](const std::string& text) {
    log->add();
    return "echo: " + text;
  }};
}

/// Finds the actor published at host:port through the middleman actor, asks it `text`, and
/// answers with its reply.
caf::behavior asker(caf::event_based_actor* self, thread_log* log) {
  return {[self, log](ask_atom, const std::string& host, std::uint16_t port,
                      const std::string& text) -> caf::result<std::string> {
    log->add();
    auto promise = self->make_response_promise<std::string>();
    self->request(self->system().middleman().actor_handle(), 5s, caf::connect_atom::value, host,
                  port)
        .then(
            [self, log, promise, text](const caf::node_id&, caf::strong_actor_ptr& remote,
                                       std::set<std::string>&) mutable {
              log->add();
              if (!remote) {
                promise.deliver(caf::make_error(caf::sec::no_actor_published_at_port));
                return;
              }
              self->request(caf::actor_cast<caf::actor>(remote), 5s, text)
                  .then(
                      [log, promise](std::string& reply) mutable {
                        log->add();
                        promise.deliver(std::move(reply));
                      },
                      [promise](caf::error& error) mutable { promise.deliver(std::move(error)); });
            },
            [promise](caf::error& error) mutable { promise.deliver(std::move(error)); });
    return promise;
  }};
}

/// Polls `condition` until it holds or `limit` passes; true when it held.
template <class Condition>
bool eventually(Condition condition, std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

/// True once `node` lists the peer `name` as ready.
bool sees_ready(const cluster_node& node, const std::string& name) {
  for (const auto& member : node.view().members(std::chrono::steady_clock::now())) {
    if (!member.self && member.report.name == name &&
        member.state == switchboard::actors::node_state::ready)
      return true;
  }
  return false;
}

/// As the server stops (bridge_server::stop): each node actor has ended before its io threads
/// stop, so its state (the membership table, the view) is freed, not left to the sanitizer.
void stop_and_await(node_system& system, cluster_node& node) {
  caf::scoped_actor self(system.system);
  self->monitor(node.actor());
  node.stop();
  bool ended = false;
  self->receive([&](const caf::down_msg&) { ended = true; }, caf::after(30s) >> [] {});
  CHECK(ended);
}

}  // namespace

TEST_CASE(
    "the middleman runs beside the io-thread scheduler: a request and its response "
    "cross two actor systems over loopback",
    "[cluster_link]") {
  thread_log server_log;
  thread_log client_log;
  node_system server;
  node_system client;
  auto published_actor = server.system.spawn(echo, &server_log);
  // Blocking, so on this test thread: never on the io threads that run the actors.
  auto port = caf::io::publish(published_actor, 0, "127.0.0.1");
  REQUIRE(port);
  REQUIRE(*port != 0);
  auto ask = client.system.spawn(asker, &client_log);
  caf::scoped_actor self(client.system);
  std::string reply;
  self->request(ask, 10s, ask_atom::value, std::string("127.0.0.1"), *port, std::string("hello"))
      .receive([&](std::string& text) { reply = std::move(text); },
               [&](caf::error& error) { FAIL(client.system.render(error)); });
  CHECK(reply == "echo: hello");
  CHECK(server_log.all_in(server.io.ids));
  CHECK(client_log.all_in(client.io.ids));
  self->send_exit(ask, caf::exit_reason::user_shutdown);
  self->send_exit(published_actor, caf::exit_reason::user_shutdown);
}

TEST_CASE("two cluster nodes in one process find each other from one seed", "[cluster_link]") {
  node_system first_system;
  node_system second_system;
  cluster_options first_options;
  first_options.bind_address = "127.0.0.1";
  first_options.node_name = "first";
  auto first = cluster_node::start(first_system.system, first_options);
  REQUIRE(first);
  cluster_options second_options;
  second_options.bind_address = "127.0.0.1";
  second_options.node_name = "second";
  second_options.seeds = {(*first)->address()};
  auto second = cluster_node::start(second_system.system, second_options);
  REQUIRE(second);
  CHECK((*first)->address() == "127.0.0.1:" + std::to_string((*first)->port()));

  // The first node had no seed: it learns of the second only from the link the second opened.
  CHECK(eventually([&] { return sees_ready(**first, "second"); }));
  CHECK(eventually([&] { return sees_ready(**second, "first"); }));
  stop_and_await(first_system, **first);
  stop_and_await(second_system, **second);
}

TEST_CASE("a node finds its peers by CLUSTER_DNS: each address of the name on CLUSTER_PORT",
          "[cluster_link]") {
  // A headless Service's name resolves to every pod, each on the same port. Here the name is
  // `localhost` (127.0.0.1, from /etc/hosts: the real resolver, no DNS server needed), the first
  // node listens there, and the second on 127.0.0.2 with the same port, as a second pod would.
  node_system first_system;
  node_system second_system;
  cluster_options first_options;
  first_options.bind_address = "127.0.0.1";
  first_options.node_name = "first";
  auto first = cluster_node::start(first_system.system, first_options);
  REQUIRE(first);
  cluster_options second_options;
  second_options.bind_address = "127.0.0.2";
  second_options.port = (*first)->port();
  second_options.node_name = "second";
  second_options.dns_name = "localhost";
  second_options.dns_port = (*first)->port();
  second_options.dns_every = 200ms;
  auto second = cluster_node::start(second_system.system, second_options);
  REQUIRE(second);

  // Neither was given a seed: the second found the first through the name alone.
  CHECK(eventually([&] { return sees_ready(**second, "first"); }));
  CHECK(eventually([&] { return sees_ready(**first, "second"); }));
  stop_and_await(second_system, **second);
  stop_and_await(first_system, **first);
}

TEST_CASE("CLUSTER_DNS resolves a name to its addresses as peers and says why when it cannot",
          "[cluster_link]") {
  using switchboard::app::resolve_cluster_peers;
  const auto local = resolve_cluster_peers("localhost", 7070);
  REQUIRE(local.has_value());
  CHECK(std::find(local->begin(), local->end(), "127.0.0.1:7070") != local->end());
  CHECK(std::set<std::string>(local->begin(), local->end()).size() == local->size());
  // .invalid never resolves (RFC 6761).
  const auto nowhere = resolve_cluster_peers("switchboard.invalid", 7070);
  REQUIRE_FALSE(nowhere.has_value());
  CHECK(nowhere.error().find("switchboard.invalid") != std::string::npos);
}

TEST_CASE("host:port splits, IPv6 in brackets, and nothing else passes", "[cluster_link]") {
  using switchboard::app::split_host_port;
  CHECK(split_host_port("127.0.0.1:4000") ==
        std::pair{std::string("127.0.0.1"), std::uint16_t{4000}});
  CHECK(split_host_port("node-1.cluster:80") ==
        std::pair{std::string("node-1.cluster"), std::uint16_t{80}});
  CHECK(split_host_port("[::1]:4000") == std::pair{std::string("::1"), std::uint16_t{4000}});
  CHECK_FALSE(split_host_port("127.0.0.1"));
  CHECK_FALSE(split_host_port(":4000"));
  CHECK_FALSE(split_host_port("host:"));
  CHECK_FALSE(split_host_port("host:0"));
  CHECK_FALSE(split_host_port("host:65536"));
  CHECK_FALSE(split_host_port("host:12x"));
  CHECK_FALSE(split_host_port("[::1:4000"));
}
