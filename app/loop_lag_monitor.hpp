#pragma once
// The io threads' event-loop lag: a timer armed every `period` on the node's io_context, whose
// handler runs as late as the queue of work in front of it. The io threads read the sockets and
// run every call's actors (app/io_thread_scheduler.hpp), so this lateness is the wait a frame
// read now would see before it is handled: the first thing to grow when the node takes more
// calls than its cores carry, before the calls' round trip does.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace switchboard::app {

class loop_lag_monitor {
 public:
  using sample_handler = std::function<void(std::chrono::microseconds lag)>;

  /// `on_sample` runs on an io thread after each tick. Nothing runs before start().
  loop_lag_monitor(boost::asio::io_context& io, std::chrono::milliseconds period,
                   sample_handler on_sample);
  loop_lag_monitor(const loop_lag_monitor&) = delete;
  loop_lag_monitor& operator=(const loop_lag_monitor&) = delete;

  void start();
  /// Stops ticking; call from an io thread or once the io threads have stopped.
  void stop();

 private:
  void arm();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds period_;
  sample_handler on_sample_;
  bool stopped_ = false;
};

/// The shards' lags, for admission: each shard records its samples on its own thread, and one
/// reader takes the worst of all once a period. A sample is taken once: a shard keeps the
/// worst of its samples since the last take, and the take clears it, so that one late tick of
/// one shard cannot count as two late periods in a row (admission trips on two), nor a shard's
/// earlier sample hide under a later, smaller one.
class shard_lags {
 public:
  explicit shard_lags(std::size_t shards) : worst_since_taken_(shards) {}

  /// From shard `shard`'s thread (or any thread: it is lock-free).
  void record(std::size_t shard, std::chrono::microseconds lag);
  /// The worst lag any shard recorded since the last take (zero if none did).
  std::chrono::microseconds take_worst();

 private:
  std::vector<std::atomic<std::int64_t>> worst_since_taken_;  // µs
};

}  // namespace switchboard::app
