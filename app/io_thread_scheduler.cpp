#include "app/io_thread_scheduler.hpp"

#include <boost/asio/defer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/abstract_worker.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace switchboard::app {

namespace {

namespace asio = boost::asio;

class io_thread_coordinator;
struct shard_queue;

/// The drain running on this thread, if any: jobs at home on its shard scheduled while it runs
/// join it.
struct running_drain {
  const shard_queue* shard = nullptr;
  std::vector<caf::resumable*>* next_jobs = nullptr;
};
thread_local running_drain this_thread_drain;

/// A shard as CAF sees it: the execution unit its actors run in. CAF remembers an actor's last
/// unit (`local_actor::context()`), which is how the actor's home is found again.
class shard_unit final : public caf::execution_unit {
 public:
  shard_unit(io_thread_coordinator& owner, caf::actor_system& system)
      : caf::execution_unit(&system), owner_(owner) {}
  void exec_later(caf::resumable* job) override;

 private:
  io_thread_coordinator& owner_;
};

/// The delayed messages sent from one shard's thread (CAF's `delayed_send`), on one Asio timer
/// of that shard: a call's timers (the silence clock's wake-ups, watchdogs, retries) fire on the
/// call's own thread, where CAF's clock thread would wake twice per message (once to take it,
/// once to hand it over). Touched only by the shard's thread, or by any once it has stopped.
class shard_timers {
 public:
  explicit shard_timers(asio::io_context& io) : timer_(io) {}

  void schedule(caf::actor_clock::time_point at, caf::strong_actor_ptr receiver,
                caf::mailbox_element_ptr content) {
    due_.push_back({at, next_sequence_++, std::move(receiver), std::move(content)});
    std::push_heap(due_.begin(), due_.end(), later);
    if (!armed_for_ || at < *armed_for_)
      arm(at);
  }

  /// Hands every message still due to its receiver at once (the system is stopping and the
  /// shard's thread has stopped): an actor whose one wake-up was a timer is then scheduled
  /// into the closed scheduler, which ends it, instead of being left alive, idle, and holding
  /// its peers.
  void deliver_all_now() {
    auto left = std::move(due_);
    due_.clear();
    armed_for_.reset();
    timer_.cancel();
    for (auto& message : left)
      message.receiver->enqueue(std::move(message.content), nullptr);
  }

 private:
  struct delayed_message {
    caf::actor_clock::time_point at;
    std::uint64_t sequence;  // equal times keep the order they were sent in
    caf::strong_actor_ptr receiver;
    caf::mailbox_element_ptr content;
  };
  static bool later(const delayed_message& a, const delayed_message& b) {
    return a.at != b.at ? a.at > b.at : a.sequence > b.sequence;
  }

  void arm(caf::actor_clock::time_point at) {
    armed_for_ = at;
    // Re-arming cancels the wait before it, whose handler then sees operation_aborted.
    timer_.expires_at(at);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec != asio::error::operation_aborted)
        fire();
    });
  }

  void fire() {
    armed_for_.reset();
    const auto now = std::chrono::steady_clock::now();
    while (!due_.empty() && due_.front().at <= now) {
      std::pop_heap(due_.begin(), due_.end(), later);
      auto message = std::move(due_.back());
      due_.pop_back();
      // Mail to an actor at home here joins this shard's own queue: no lock, no wake-up.
      message.receiver->enqueue(std::move(message.content), nullptr);
    }
    if (!due_.empty())
      arm(due_.front().at);
  }

  asio::steady_timer timer_;
  std::vector<delayed_message> due_;  // a min-heap by (at, sequence)
  std::optional<caf::actor_clock::time_point> armed_for_;
  std::uint64_t next_sequence_ = 0;
};

/// One shard's run queue.
struct shard_queue {
  shard_queue(io_thread_coordinator& owner, caf::actor_system& system, asio::io_context& loop,
              std::size_t position)
      : io(loop), index(position), unit(owner, system), timers(loop) {}

  asio::io_context& io;
  const std::size_t index;
  shard_unit unit;
  shard_timers timers;
  // Touched only by the shard's own thread (or by any thread once the shard has stopped).
  std::vector<caf::resumable*> local_jobs;
  bool local_drain_posted = false;
  std::vector<caf::resumable*> running;  // the drain's current round
  std::vector<caf::resumable*> next;     // the drain's next round
  // Filled by the other threads.
  std::mutex mutex;
  std::vector<caf::resumable*> remote_jobs;  // guarded by mutex
  bool remote_drain_posted = false;          // guarded by mutex
};

bool is_actor(const caf::resumable& job) {
  const auto kind = job.subtype();
  return kind == caf::resumable::scheduled_actor || kind == caf::resumable::io_actor;
}

bool is_hub_worker(caf::resumable* job) {
  return dynamic_cast<caf::detail::abstract_worker*>(job) != nullptr;
}

/// CAF's clock, with delayed messages sent from a shard's thread kept on that shard's timers
/// (the rest, and timeouts of requests and behaviours, on CAF's clock thread as before).
class shard_clock final : public caf::detail::thread_safe_actor_clock {
 public:
  explicit shard_clock(const io_thread_coordinator& owner) : owner_(owner) {}

  void schedule_message(time_point at, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override;
  using thread_safe_actor_clock::schedule_message;

 private:
  const io_thread_coordinator& owner_;
};

class io_thread_coordinator final : public caf::scheduler::abstract_coordinator {
 public:
  io_thread_coordinator(caf::actor_system& system, net::io_shards& shards)
      : abstract_coordinator(system), shards_(shards), clock_(*this) {
    for (std::size_t index = 0; index < shards.size(); ++index)
      queues_.push_back(std::make_unique<shard_queue>(*this, system, shards.shard(index), index));
  }

  void enqueue(caf::resumable* job) override {
    shard_queue& home = home_of(job);
    if (this_thread_drain.shard == &home) {
      this_thread_drain.next_jobs->push_back(job);
      return;
    }
    if (shards_.current_index() == home.index) {
      // From the home's own thread (a socket's handler, a timer there): no lock, no wake-up.
      home.local_jobs.push_back(job);
      if (!home.local_drain_posted) {
        home.local_drain_posted = true;
        // Deferred (a continuation): it runs after the handler that scheduled it, on this
        // thread, in the same turn of the event loop.
        asio::defer(home.io, [this, &home] { drain(home); });
      }
      return;
    }
    // The type first: io.stopped() takes the io_context's lock, and most jobs are actors.
    if (!is_actor(*job) && is_hub_worker(job) && home.io.stopped()) {
      // A worker of a hub (the middleman's BASP workers: a peer's last messages, arriving as the
      // node shuts down) once the io threads have stopped: the middleman's stop, in the actor
      // system's destructor before this scheduler's, waits for every such worker to finish
      // (basp_broker::on_exit → await_workers). Queued, it would never run and the process would
      // hang there (seen after drains with 60 calls); run here, it only hands the message to its
      // actor's mailbox, which this scheduler then releases as any job left at shutdown.
      resume_outside_drain(home, job);
      return;
    }
    bool post_drain = false;
    bool closed = false;
    {
      std::lock_guard lock(home.mutex);
      closed = closed_;
      if (!closed) {
        home.remote_jobs.push_back(job);
        post_drain = !home.remote_drain_posted;
        home.remote_drain_posted = true;
      }
    }
    if (closed) {
      // The system is shutting down: nothing runs any more; the actor ends as in stop(). Outside
      // the lock: ending it may schedule other actors, which comes back here.
      end_at_shutdown(job);
      return;
    }
    if (post_drain)
      asio::post(home.io, [this, &home] { drain(home); });
  }

  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

  /// Ends a job that will never run (the system is shutting down). CAF's own
  /// cleanup_and_release ends an actor without its on_exit, so a stateful actor's state is never
  /// destroyed, and the actors it wakes by ending are never released: a call's actors, which
  /// hold each other in their states, then stay in memory for good (LeakSanitizer saw a whole
  /// call and its node's metrics kept after a stop that cut a call as it finished). Here the
  /// actor ends as if it had quit: its state goes, and the actors linked to it are told and end
  /// the same way (their mail comes back here through enqueue).
  void end_at_shutdown(caf::resumable* job) {
    if (job->subtype() != caf::resumable::scheduled_actor) {
      cleanup_and_release(job);
      return;
    }
    auto* actor = static_cast<caf::scheduled_actor*>(job);
    actor->quit(caf::exit_reason::user_shutdown);
    actor->finalize();
    intrusive_ptr_release(job);
  }

  /// The queue of the shard whose thread calls this, if any.
  shard_queue* current_shard() const {
    const auto index = shards_.current_index();
    return index ? queues_[*index].get() : nullptr;
  }

  std::optional<std::size_t> shard_of(const caf::local_actor& actor) const {
    if (const auto* home = queue_of_unit(actor.context()))
      return home->index;
    return std::nullopt;
  }

  /// See run_hub_workers_left.
  std::size_t run_queued_workers() {
    for (const auto& queue : queues_) {
      if (!queue->io.stopped())
        return 0;
    }
    std::vector<std::pair<shard_queue*, caf::resumable*>> workers;
    for (auto& queue : queues_) {
      auto take_workers = [&](std::vector<caf::resumable*>& jobs) {
        auto actors_end = std::stable_partition(jobs.begin(), jobs.end(), [](auto* job) {
          return is_actor(*job) || !is_hub_worker(job);
        });
        for (auto it = actors_end; it != jobs.end(); ++it)
          workers.emplace_back(queue.get(), *it);
        jobs.erase(actors_end, jobs.end());
      };
      // The shard's thread has been joined: its own queue is ours now.
      take_workers(queue->local_jobs);
      std::lock_guard lock(queue->mutex);
      take_workers(queue->remote_jobs);
    }
    // Outside the locks: a worker hands its message to an actor, whose scheduling comes back to
    // enqueue (and stays queued: the io threads have stopped).
    for (auto [queue, worker] : workers)
      resume_outside_drain(*queue, worker);
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
    // The io threads have stopped (see the header): every queue is this thread's to empty.
    // Closed first: a job scheduled from now on (another thread's last send) ends at once.
    closed_ = true;
    std::vector<caf::resumable*> left;
    for (auto& queue : queues_) {
      std::lock_guard lock(queue->mutex);
      left.insert(left.end(), queue->local_jobs.begin(), queue->local_jobs.end());
      left.insert(left.end(), queue->remote_jobs.begin(), queue->remote_jobs.end());
      queue->local_jobs.clear();
      queue->remote_jobs.clear();
    }
    for (auto* job : left)
      end_at_shutdown(job);
    // Delayed messages not yet due: their receivers end with the rest.
    for (auto& queue : queues_)
      queue->timers.deliver_all_now();
    stop_actors();
    clock_.cancel_dispatch_loop();
    if (clock_thread_.joinable())
      clock_thread_.join();
  }

 private:
  const shard_queue* queue_of_unit(const caf::execution_unit* unit) const {
    for (const auto& queue : queues_) {
      if (&queue->unit == unit)
        return queue.get();
    }
    return nullptr;
  }

  /// The shard a job runs on: an actor's home (the shard it last ran on; read here without a
  /// race, because CAF schedules an actor only once its mailbox has blocked, after its last run
  /// wrote the unit); for a new actor or a hub worker, the shard of the thread that schedules
  /// it, or shard 0 from any other thread.
  shard_queue& home_of(caf::resumable* job) {
    if (is_actor(*job)) {
      const auto& actor = *static_cast<caf::scheduled_actor*>(job);
      if (const auto* home = queue_of_unit(actor.context()))
        return *queues_[home->index];
    }
    return *queues_[shards_.current_index().value_or(0)];
  }

  void drain(shard_queue& shard) {
    auto& jobs = shard.running;
    jobs.swap(shard.local_jobs);
    shard.local_drain_posted = false;
    {
      std::lock_guard lock(shard.mutex);
      jobs.insert(jobs.end(), shard.remote_jobs.begin(), shard.remote_jobs.end());
      shard.remote_jobs.clear();
      // Jobs queued from now on post a new drain.
      shard.remote_drain_posted = false;
    }
    auto& next_jobs = shard.next;
    const auto outer = this_thread_drain;
    this_thread_drain = {&shard, &next_jobs};
    // The messages one frame causes (socket actor -> session -> supervisor -> ...) run here in
    // one go; a bound on the rounds keeps other sockets' handlers from waiting behind a storm.
    for (int round = 0; round < max_rounds && !jobs.empty(); ++round) {
      for (auto* job : jobs)
        resume(shard, job);
      jobs.swap(next_jobs);
      next_jobs.clear();
    }
    this_thread_drain = outer;
    if (!jobs.empty()) {
      // Left after the last round: a new drain, after the handlers waiting now.
      std::vector<caf::resumable*> left;
      left.swap(jobs);
      for (auto* job : left)
        enqueue(job);
    }
  }

  /// A job run on a thread that is not draining (no next-jobs list to return it to).
  void resume_outside_drain(shard_queue& shard, caf::resumable* job) {
    std::vector<caf::resumable*> later;
    const auto outer = this_thread_drain;
    this_thread_drain = {nullptr, &later};
    resume(shard, job);
    this_thread_drain = outer;
    for (auto* next : later)
      enqueue(next);
  }

  void resume(shard_queue& shard, caf::resumable* job) {
    switch (job->resume(&shard.unit, max_throughput())) {
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

  net::io_shards& shards_;
  std::vector<std::unique_ptr<shard_queue>> queues_;
  shard_clock clock_;
  std::thread clock_thread_;
  std::atomic<bool> closed_{false};
};

void shard_unit::exec_later(caf::resumable* job) {
  owner_.enqueue(job);
}

void shard_clock::schedule_message(time_point at, caf::strong_actor_ptr receiver,
                                   caf::mailbox_element_ptr content) {
  if (auto* shard = owner_.current_shard(); shard != nullptr && receiver != nullptr)
    return shard->timers.schedule(at, std::move(receiver), std::move(content));
  thread_safe_actor_clock::schedule_message(at, std::move(receiver), std::move(content));
}

}  // namespace

std::size_t run_hub_workers_left(caf::actor_system& system) {
  auto* coordinator = dynamic_cast<io_thread_coordinator*>(&system.scheduler());
  return coordinator != nullptr ? coordinator->run_queued_workers() : 0;
}

std::optional<std::size_t> home_shard(caf::actor_system& system, const caf::local_actor& actor) {
  auto* coordinator = dynamic_cast<io_thread_coordinator*>(&system.scheduler());
  return coordinator != nullptr ? coordinator->shard_of(actor) : std::nullopt;
}

void run_actors_on_io_threads(caf::actor_system_config& config, net::io_shards& shards) {
  // An actor with a long mailbox yields after this many messages, so that the io thread gets
  // back to its sockets (CAF's default is unbounded).
  config.set("scheduler.max-throughput", std::size_t{64});
  config.module_factories.push_back(
      [&shards](caf::actor_system& system) -> caf::actor_system::module* {
        return new io_thread_coordinator(system, shards);
      });
}

}  // namespace switchboard::app
