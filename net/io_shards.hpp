#pragma once
// The node's event loops: one io_context per io thread (a "shard"), each run by its own thread.
//
// Why: a call's audio is ~150 small messages a second through its two sockets and its actors.
// With one io_context run by every io thread, a call's handlers ran on whichever thread was
// free, and every hand-over between the threads (a strand's queue, a posted drain, a wake-up)
// was paid in locks, futex calls and cache misses: two threads cost more per call than one
// (bench/README.md "bench/floor"). A shard is one thread's whole world: the connections it
// accepted, the model connections opened from it and the actors that run there
// (app/io_thread_scheduler.hpp); a call's frames never leave it.
//
// A new connection goes to the shard with the fewest open connections (its lease counts it
// there until the connection ends), so that calls spread evenly whatever mix of webhooks and
// media streams arrives. Work from other threads (CAF's clock, the cluster's middleman, the
// file thread's answers) still reaches a shard by a post: thread-safe, just not free.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace switchboard::net {

class io_shards {
 public:
  /// `count` shards (at least 1), not yet running.
  explicit io_shards(unsigned count);
  ~io_shards();
  io_shards(const io_shards&) = delete;
  io_shards& operator=(const io_shards&) = delete;

  std::size_t size() const { return shards_.size(); }
  boost::asio::io_context& shard(std::size_t index) { return shards_.at(index)->io; }

  /// The shard whose thread calls this; off the shards' threads, shard 0 (the node's own: its
  /// timers, signals, internal listeners and REST clients live there).
  boost::asio::io_context& current();
  /// The index of the shard whose thread calls this, if it is one of this set's threads.
  std::optional<std::size_t> current_index() const;

  /// Where a newly accepted connection lives: the shard with the fewest open connections, and a
  /// lease that counts the connection there until the last copy of it is dropped.
  struct placement {
    boost::asio::io_context& io;
    std::shared_ptr<void> lease;
  };
  placement place_connection();
  /// The shard with the fewest open connections, for work that will open some (a call hosted
  /// for a peer: its model connection), without a lease.
  boost::asio::io_context& least_loaded();
  /// Open connections per shard (leases not yet dropped), for logs and tests.
  std::vector<std::size_t> open_connections() const;

  /// The shards' threads, in shard order (empty unless running). For tests and logs.
  std::vector<std::thread::id> thread_ids() const;

  /// Starts one thread per shard. Each runs until stop().
  void start();
  /// Stops every shard's loop and joins its thread; work still queued is not run. Idempotent.
  void stop();
  bool running() const { return !threads_.empty(); }

 private:
  struct shard_state {
    // First, so that it is destroyed last: leases dropped while `io` destroys its handlers
    // still count down here.
    std::atomic<std::size_t> open_connections{0};
    boost::asio::io_context io{1};  // one thread runs it
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
        boost::asio::make_work_guard(io);
  };
  shard_state& least_loaded_state();

  std::vector<std::unique_ptr<shard_state>> shards_;
  std::vector<std::thread> threads_;
};

/// The executor for a new connection's handlers on `io`: the io_context's own where one thread
/// runs it (a shard's: its handlers cannot overlap, and a strand would only add a queue, a lock
/// and a type-erased hop to every handler), a strand anywhere else (an io_context that several
/// threads run, as tools and tests may).
boost::asio::any_io_executor connection_executor(boost::asio::io_context& io);

}  // namespace switchboard::net
