// The node's actors run on its io threads (app/io_thread_scheduler.hpp): messages between actors
// arrive in order and on those threads, CAF's delayed messages still arrive, and mail left when
// the io threads have stopped is released at shutdown instead of leaking its actor, while a hub
// worker (the middleman's) scheduled then runs at once, so that the shutdown does not wait for it.
#include "app/io_thread_scheduler.hpp"

#include <boost/asio/post.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/abstract_worker.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// `count` shards, each run by its own thread, as the node runs its own; none runs with 0.
struct io_threads {
  explicit io_threads(unsigned count) : shards(std::max(count, 1u)) {
    if (count == 0)
      return;
    shards.start();
    for (auto id : shards.thread_ids())
      ids.insert(id);
  }
  void stop() { shards.stop(); }

  switchboard::net::io_shards shards;
  std::set<std::thread::id> ids;
};

/// An actor system whose actors run on `io`'s threads, as the node's do.
struct actors_on {
  explicit actors_on(io_threads& io) : system(scheduled_on(config, io.shards)) {}
  static caf::actor_system_config& scheduled_on(caf::actor_system_config& config,
                                                switchboard::net::io_shards& shards) {
    switchboard::app::run_actors_on_io_threads(config, shards);
    return config;
  }
  caf::actor_system_config config;
  caf::actor_system system;
};

/// Where the actors of a test ran, and what they saw.
struct trace {
  std::mutex mutex;
  std::set<std::thread::id> threads;
  std::vector<int> seen;
  void add(int value) {
    std::lock_guard lock(mutex);
    threads.insert(std::this_thread::get_id());
    seen.push_back(value);
  }
};

/// Records each number, then hands it to `next`.
caf::behavior relay(caf::event_based_actor* self, trace* log, caf::actor next) {
  return {
      [=](int value) {
        log->add(value);
        self->send(next, value);
      },
  };
}

}  // namespace

TEST_CASE("actors run on the io threads, and the messages of a chain arrive in order",
          "[io_scheduler]") {
  io_threads io(2);
  trace log;
  {
    actors_on actors(io);
    auto& system = actors.system;
    caf::scoped_actor self(system);
    auto last = system.spawn(relay, &log, caf::actor_cast<caf::actor>(self));
    auto middle = system.spawn(relay, &log, last);
    auto first = system.spawn(relay, &log, middle);
    for (int i = 0; i < 50; ++i)
      self->send(first, i);
    std::vector<int> arrived;
    for (int i = 0; i < 50; ++i)
      self->receive([&](int value) { arrived.push_back(value); });
    std::vector<int> sent(50);
    std::iota(sent.begin(), sent.end(), 0);
    CHECK(arrived == sent);
    io.stop();
  }
  CHECK(log.seen.size() == 150);
  CHECK(std::all_of(log.threads.begin(), log.threads.end(),
                    [&](auto id) { return io.ids.count(id) == 1; }));
}

TEST_CASE("delayed messages still arrive: CAF's clock runs beside the io threads",
          "[io_scheduler]") {
  io_threads io(1);
  trace log;
  {
    actors_on actors(io);
    auto& system = actors.system;
    caf::scoped_actor self(system);
    auto target = system.spawn(relay, &log, caf::actor_cast<caf::actor>(self));
    self->delayed_send(target, 5ms, 7);
    self->receive([&](int value) { CHECK(value == 7); },
                  [&](const caf::error& error) { FAIL(system.render(error)); });
    io.stop();
  }
  CHECK(log.seen == std::vector<int>{7});
}

namespace {

/// What `what` returns when run on shard `index`'s thread, waited for.
template <class Function>
auto run_on(switchboard::net::io_shards& shards, std::size_t index, Function what) {
  std::promise<decltype(what())> result;
  boost::asio::post(shards.shard(index), [&] { result.set_value(what()); });
  return result.get_future().get();
}

/// Answers each number with the shard it ran on (-1: not on a shard's thread); asked "child",
/// spawns one of its own kind and answers with it.
caf::behavior shard_reporter(caf::event_based_actor* self, switchboard::net::io_shards* shards) {
  return {
      [shards](int) {
        const auto index = shards->current_index();
        return index ? static_cast<int>(*index) : -1;
      },
      [self, shards](const std::string&) { return self->spawn(shard_reporter, shards); },
  };
}

/// Hands each number on to `target`, whose answer goes back to the asker.
caf::behavior forwarder(caf::event_based_actor* self, caf::actor target) {
  return {[self, target](int value) {
    return self->delegate(target, value);
  }};
}

int shard_answer(caf::scoped_actor& self, const caf::actor& asked) {
  int answer = -2;
  self->request(asked, caf::infinite, 0)
      .receive([&](int shard) { answer = shard; },
               [&](const caf::error& error) { FAIL(self->system().render(error)); });
  return answer;
}

std::optional<std::size_t> home_of(caf::actor_system& system, const caf::actor& handle) {
  auto* actor = dynamic_cast<caf::local_actor*>(caf::actor_cast<caf::abstract_actor*>(handle));
  REQUIRE(actor != nullptr);
  return switchboard::app::home_shard(system, *actor);
}

}  // namespace

TEST_CASE("an actor runs on the shard that spawned it, whoever sends to it", "[io_scheduler]") {
  io_threads io(2);
  {
    actors_on actors(io);
    auto& system = actors.system;
    // A call's actors are spawned beside its socket, on that shard's thread.
    auto on_one = run_on(io.shards, 1, [&] { return system.spawn(shard_reporter, &io.shards); });
    auto on_zero = run_on(io.shards, 0, [&] { return system.spawn(shard_reporter, &io.shards); });
    caf::scoped_actor self(system);
    // From a thread that is no shard's.
    CHECK(shard_answer(self, on_one) == 1);
    CHECK(shard_answer(self, on_zero) == 0);
    CHECK(home_of(system, on_one) == std::optional<std::size_t>(1));
    // From an actor at home on the other shard.
    auto via_zero = run_on(io.shards, 0, [&] { return system.spawn(forwarder, on_one); });
    CHECK(shard_answer(self, via_zero) == 1);
    CHECK(home_of(system, via_zero) == std::optional<std::size_t>(0));
    // From CAF's clock thread.
    self->delayed_send(on_one, std::chrono::milliseconds(1), 0);
    self->receive([](int shard) { CHECK(shard == 1); },
                  [&](const caf::error& error) { FAIL(system.render(error)); });
    // Many at once from both shards and from here, all still served at home.
    auto via_one = run_on(io.shards, 1, [&] { return system.spawn(forwarder, on_zero); });
    for (int i = 0; i < 100; ++i) {
      self->send(via_zero, i);
      self->send(via_one, i);
    }
    int at_one = 0;
    int at_zero = 0;
    for (int i = 0; i < 200; ++i) {
      self->receive([&](int shard) { ++(shard == 1 ? at_one : at_zero); },
                    [&](const caf::error& error) { FAIL(system.render(error)); });
    }
    CHECK(at_one == 100);
    CHECK(at_zero == 100);
    io.stop();
  }
}

TEST_CASE("an actor spawned by an actor shares its home", "[io_scheduler]") {
  io_threads io(2);
  {
    actors_on actors(io);
    auto& system = actors.system;
    caf::scoped_actor self(system);
    for (std::size_t shard : {0u, 1u}) {
      auto parent =
          run_on(io.shards, shard, [&] { return system.spawn(shard_reporter, &io.shards); });
      caf::actor child;
      self->request(parent, caf::infinite, std::string("child"))
          .receive([&](caf::actor spawned) { child = std::move(spawned); },
                   [&](const caf::error& error) { FAIL(system.render(error)); });
      REQUIRE(child);
      CHECK(shard_answer(self, child) == static_cast<int>(shard));
      CHECK(home_of(system, child) == std::optional<std::size_t>(shard));
    }
    // Spawned from a thread that is no shard's: shard 0, the node's own.
    auto from_here = system.spawn(shard_reporter, &io.shards);
    CHECK(shard_answer(self, from_here) == 0);
    io.stop();
  }
}

namespace {

/// Asked "go", sends itself three delayed numbers (30, 10 and 30 ms); reports each, with the
/// shard it arrived on, to `observer`.
caf::behavior delayer(caf::event_based_actor* self, switchboard::net::io_shards* shards,
                      caf::actor observer) {
  return {
      [self](const std::string&) {
        self->delayed_send(self, std::chrono::milliseconds(30), 1);
        self->delayed_send(self, std::chrono::milliseconds(10), 2);
        self->delayed_send(self, std::chrono::milliseconds(30), 3);
      },
      [self, shards, observer](int value) {
        const auto index = shards->current_index();
        self->send(observer, value, index ? static_cast<int>(*index) : -1);
      },
  };
}

}  // namespace

TEST_CASE("delayed messages sent on a shard arrive there, in time order, never early",
          "[io_scheduler]") {
  io_threads io(2);
  {
    actors_on actors(io);
    auto& system = actors.system;
    caf::scoped_actor self(system);
    auto observer = caf::actor_cast<caf::actor>(self);
    auto on_one = run_on(io.shards, 1, [&] { return system.spawn(delayer, &io.shards, observer); });
    const auto sent_at = std::chrono::steady_clock::now();
    self->send(on_one, std::string("go"));
    std::vector<int> order;
    std::chrono::steady_clock::duration last_after{};
    for (int i = 0; i < 3; ++i) {
      self->receive(
          [&](int value, int shard) {
            order.push_back(value);
            CHECK(shard == 1);
            last_after = std::chrono::steady_clock::now() - sent_at;
          },
          [&](const caf::error& error) { FAIL(system.render(error)); });
    }
    // Due times first, then the order they were sent in.
    CHECK(order == std::vector<int>{2, 1, 3});
    // A timer never fires before its time: the last was due 30 ms after "go".
    CHECK(last_after >= std::chrono::milliseconds(30));
    io.stop();
  }
}

namespace {

caf::behavior idle_actor() {
  return {[](int) {
  }};
}

}  // namespace

TEST_CASE("mail left when the io threads have stopped is released at shutdown", "[io_scheduler]") {
  io_threads io(1);
  std::atomic<int> terminated{0};
  {
    actors_on actors(io);
    auto& system = actors.system;
    // As the node does: an actor waiting for mail that no thread will run must not hold it up.
    system.await_actors_before_shutdown(false);
    caf::actor target;
    {
      caf::scoped_actor self(system);
      target = system.spawn(idle_actor);
      target->attach_functor([&terminated] { ++terminated; });
      self->send(target, 1);
    }
    io.stop();
    // Queued for a drain that will never run: only the system's shutdown can let it go.
    caf::anon_send(target, 2);
    caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
    target = nullptr;
    CHECK(terminated == 0);
  }
  // Terminated (its monitors told, its resources let go) though it never ran again.
  CHECK(terminated == 1);
}

namespace {

/// A state that counts its own destruction and holds a peer, as a call's actors hold each other.
struct peer_holding_state {
  std::atomic<int>* destroyed = nullptr;
  caf::actor peer;
  ~peer_holding_state() {
    if (destroyed != nullptr)
      ++*destroyed;
  }
};

caf::behavior peer_holder(caf::stateful_actor<peer_holding_state>* self,
                          std::atomic<int>* destroyed) {
  self->state.destroyed = destroyed;
  return {
      [self](caf::actor peer) {
        self->link_to(peer);
        self->state.peer = std::move(peer);
        return 0;
      },
      [](int) {},
  };
}

}  // namespace

TEST_CASE(
    "an actor left queued at shutdown ends as if it had quit: its state goes, and its "
    "linked peers end too",
    "[io_scheduler]") {
  // CAF's own release of such a job skips the actor's on_exit: the states, which hold each
  // other, would never be destroyed (a whole call kept in memory after a stop that cut it).
  io_threads io(1);
  std::atomic<int> destroyed{0};
  {
    actors_on actors(io);
    auto& system = actors.system;
    system.await_actors_before_shutdown(false);
    caf::actor first = system.spawn(peer_holder, &destroyed);
    caf::actor second = system.spawn(peer_holder, &destroyed);
    {
      caf::scoped_actor self(system);
      for (const auto& [holder, peer] : {std::pair{first, second}, std::pair{second, first}}) {
        self->request(holder, caf::infinite, peer)
            .receive([](int) {}, [&](const caf::error& error) { FAIL(system.render(error)); });
      }
    }
    io.stop();
    // Queued for a drain that will never run.
    caf::anon_send(first, 1);
    first = nullptr;
    second = nullptr;
    CHECK(destroyed == 0);
  }
  CHECK(destroyed == 2);
}

namespace {

/// A hub worker (as the middleman's BASP workers are): counts its runs and where they ran.
class counting_worker final : public caf::detail::abstract_worker {
 public:
  counting_worker(std::atomic<int>& runs, std::thread::id& ran_on) : runs_(runs), ran_on_(ran_on) {}
  resume_result resume(caf::execution_unit*, size_t) override {
    ran_on_ = std::this_thread::get_id();
    ++runs_;
    return resumable::done;
  }

 private:
  std::atomic<int>& runs_;
  std::thread::id& ran_on_;
};

}  // namespace

TEST_CASE("a hub worker scheduled after the io threads stopped runs on the thread that queued it",
          "[io_scheduler]") {
  // The middleman's stop, in the actor system's destructor, waits for every BASP worker: one left
  // queued for an io thread that will never run again would hang the process at exit.
  io_threads io(1);
  actors_on actors(io);
  io.stop();
  std::atomic<int> runs{0};
  std::thread::id ran_on;
  // The scheduler takes the worker's one reference and releases it once the worker is done.
  actors.system.scheduler().enqueue(new counting_worker(runs, ran_on));
  CHECK(runs == 1);
  CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE(
    "a hub worker queued just before the io threads stopped runs when the node runs those "
    "left",
    "[io_scheduler]") {
  // No thread runs the io_context: the worker is queued for a drain that never comes, as one
  // scheduled in the instant before the node's io threads stop.
  io_threads io(0);
  actors_on actors(io);
  std::atomic<int> runs{0};
  std::thread::id ran_on;
  actors.system.scheduler().enqueue(new counting_worker(runs, ran_on));
  CHECK(runs == 0);
  // While the io threads may still run it, it is theirs.
  CHECK(switchboard::app::run_hub_workers_left(actors.system) == 0);
  io.stop();
  CHECK(switchboard::app::run_hub_workers_left(actors.system) == 1);
  CHECK(runs == 1);
  CHECK(ran_on == std::this_thread::get_id());
  // Run once: nothing is left for a second call.
  CHECK(switchboard::app::run_hub_workers_left(actors.system) == 0);
}
