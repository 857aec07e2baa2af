#include "app/io_thread_scheduler.hpp"

#include <boost/asio/defer.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/abstract_worker.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace switchboard::app {

namespace {

namespace asio = boost::asio;

class io_thread_coordinator;

/// The drain running on this thread, if any: jobs scheduled while it runs join it.
struct running_drain {
  const io_thread_coordinator* owner = nullptr;
  std::vector<caf::resumable*>* next_jobs = nullptr;
};
thread_local running_drain this_thread_drain;

class io_thread_coordinator final : public caf::scheduler::abstract_coordinator {
 public:
  io_thread_coordinator(caf::actor_system& system, asio::io_context& io)
      : abstract_coordinator(system), io_(io), unit_(*this, system) {}

  void enqueue(caf::resumable* job) override {
    if (this_thread_drain.owner == this) {
      this_thread_drain.next_jobs->push_back(job);
      return;
    }
    // The type first: io_.stopped() takes the io_context's lock, and most jobs are actors.
    if (dynamic_cast<caf::detail::abstract_worker*>(job) != nullptr && io_.stopped()) {
      // A worker of a hub (the middleman's BASP workers: a peer's last messages, arriving as the
      // node shuts down) once the io threads have stopped: the middleman's stop, in the actor
      // system's destructor before this scheduler's, waits for every such worker to finish
      // (basp_broker::on_exit → await_workers). Queued, it would never run and the process would
      // hang there (seen after drains with 60 calls); run here, it only hands the message to its
      // actor's mailbox, which this scheduler then releases as any job left at shutdown.
      resume_outside_drain(job);
      return;
    }
    bool post_drain = false;
    bool closed = false;
    {
      std::lock_guard lock(mutex_);
      closed = closed_;
      if (!closed) {
        queued_.push_back(job);
        post_drain = !drain_posted_;
        drain_posted_ = true;
      }
    }
    if (closed) {
      // The system is shutting down: nothing runs any more; the actor ends as in stop(). Outside
      // the lock: ending it may schedule other actors, which comes back here.
      cleanup_and_release(job);
      return;
    }
    if (post_drain) {
      // Deferred (a continuation): from an io thread, it stays on that thread's own queue and
      // wakes no other thread; `post` would hand it to any idle io thread, with a wake-up.
      asio::defer(io_, [this] { drain(); });
    }
  }

  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

  /// See run_hub_workers_left.
  std::size_t run_queued_workers() {
    if (!io_.stopped())
      return 0;
    std::vector<caf::resumable*> workers;
    {
      std::lock_guard lock(mutex_);
      auto actors_end = std::stable_partition(queued_.begin(), queued_.end(), [](auto* job) {
        return dynamic_cast<caf::detail::abstract_worker*>(job) == nullptr;
      });
      workers.assign(actors_end, queued_.end());
      queued_.erase(actors_end, queued_.end());
    }
    // Outside the lock: a worker hands its message to an actor, whose scheduling comes back to
    // enqueue (and stays queued: the io threads have stopped).
    for (auto* worker : workers)
      resume_outside_drain(worker);
    return workers.size();
  }

 protected:
  void start() override {
    clock_thread_ = std::thread{[this] {
      caf::detail::set_thread_name("caf.clock");
      clock_.run_dispatch_loop();
    }};
    abstract_coordinator::start();
  }

  void stop() override {
    std::vector<caf::resumable*> left;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      left.swap(queued_);
    }
    for (auto* job : left)
      cleanup_and_release(job);
    stop_actors();
    clock_.cancel_dispatch_loop();
    if (clock_thread_.joinable())
      clock_thread_.join();
  }

 private:
  /// Runs CAF jobs on the io thread that calls it (a drain handler); see `enqueue`.
  class io_unit final : public caf::execution_unit {
   public:
    io_unit(io_thread_coordinator& owner, caf::actor_system& system)
        : caf::execution_unit(&system), owner_(owner) {}
    void exec_later(caf::resumable* job) override { owner_.enqueue(job); }

   private:
    io_thread_coordinator& owner_;
  };

  void drain() {
    std::vector<caf::resumable*> jobs;
    {
      std::lock_guard lock(mutex_);
      jobs.swap(queued_);
      // Jobs queued from now on post a new drain, which another idle io thread may take.
      drain_posted_ = false;
    }
    std::vector<caf::resumable*> next_jobs;
    const auto outer = this_thread_drain;
    this_thread_drain = {this, &next_jobs};
    // The messages one frame causes (socket actor -> session -> supervisor -> ...) run here in
    // one go; a bound on the rounds keeps other sockets' handlers from waiting behind a storm.
    for (int round = 0; round < max_rounds && !jobs.empty(); ++round) {
      for (auto* job : jobs)
        resume(job);
      jobs.swap(next_jobs);
      next_jobs.clear();
    }
    this_thread_drain = outer;
    for (auto* job : jobs)
      enqueue(job);
  }

  /// A job run on a thread that is not draining (no next-jobs list to return it to).
  void resume_outside_drain(caf::resumable* job) {
    std::vector<caf::resumable*> later;
    const auto outer = this_thread_drain;
    this_thread_drain = {this, &later};
    resume(job);
    this_thread_drain = outer;
    for (auto* next : later)
      enqueue(next);
  }

  void resume(caf::resumable* job) {
    switch (job->resume(&unit_, max_throughput())) {
      case caf::resumable::resume_later:
        this_thread_drain.next_jobs->push_back(job);
        break;
      case caf::resumable::done:
      case caf::resumable::awaiting_message:
        intrusive_ptr_release(job);
        break;
      case caf::resumable::shutdown_execution_unit:
        // Only CAF's own workers' shutdown helpers answer this; none is ever queued here.
        break;
    }
  }

  static constexpr int max_rounds = 16;

  asio::io_context& io_;
  io_unit unit_;
  caf::detail::thread_safe_actor_clock clock_;
  std::thread clock_thread_;
  std::mutex mutex_;
  std::vector<caf::resumable*> queued_;  // guarded by mutex_
  bool drain_posted_ = false;            // guarded by mutex_
  bool closed_ = false;                  // guarded by mutex_
};

}  // namespace

std::size_t run_hub_workers_left(caf::actor_system& system) {
  auto* coordinator = dynamic_cast<io_thread_coordinator*>(&system.scheduler());
  return coordinator != nullptr ? coordinator->run_queued_workers() : 0;
}

void run_actors_on_io_threads(caf::actor_system_config& config, asio::io_context& io) {
  // An actor with a long mailbox yields after this many messages, so that the io thread gets
  // back to its sockets (CAF's default is unbounded).
  config.set("scheduler.max-throughput", std::size_t{64});
  config.module_factories.push_back([&io](caf::actor_system& system) -> caf::actor_system::module* {
    return new io_thread_coordinator(system, io);
  });
}

}  // namespace switchboard::app
