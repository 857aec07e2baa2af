// The node's actors run on its io threads (app/io_thread_scheduler.hpp): messages between actors
// arrive in order and on those threads, CAF's delayed messages still arrive, and mail left when
// the io threads have stopped is released at shutdown instead of leaking its actor, while a hub
// worker (the middleman's) scheduled then runs at once, so that the shutdown does not wait for it.
#include "app/io_thread_scheduler.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/abstract_worker.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// An io_context run by `count` threads, as the node runs its own.
struct io_threads {
  explicit io_threads(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
      threads.emplace_back([this] { io.run(); });
      ids.insert(threads.back().get_id());
    }
  }
  ~io_threads() { stop(); }
  void stop() {
    work.reset();
    io.stop();
    for (auto& thread : threads) {
      if (thread.joinable())
        thread.join();
    }
  }

  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  std::vector<std::thread> threads;
  std::set<std::thread::id> ids;
};

/// An actor system whose actors run on `io`'s threads, as the node's do.
struct actors_on {
  explicit actors_on(boost::asio::io_context& io) : system(scheduled_on(config, io)) {}
  static caf::actor_system_config& scheduled_on(caf::actor_system_config& config,
                                                boost::asio::io_context& io) {
    switchboard::app::run_actors_on_io_threads(config, io);
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
    actors_on actors(io.io);
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
    actors_on actors(io.io);
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

caf::behavior idle_actor() {
  return {[](int) {
  }};
}

}  // namespace

TEST_CASE("mail left when the io threads have stopped is released at shutdown", "[io_scheduler]") {
  io_threads io(1);
  std::atomic<int> terminated{0};
  {
    actors_on actors(io.io);
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
  actors_on actors(io.io);
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
  actors_on actors(io.io);
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
