#pragma once
// The io threads' event-loop lag: a timer armed every `period` on the node's io_context, whose
// handler runs as late as the queue of work in front of it. The io threads read the sockets and
// run every call's actors (app/io_thread_scheduler.hpp), so this lateness is the wait a frame
// read now would see before it is handled: the first thing to grow when the node takes more
// calls than its cores carry, before the calls' round trip does.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>

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

}  // namespace switchboard::app
