#pragma once
// Where the uploader's blocking PUTs run: a few threads of their own (UPLOAD_CONCURRENCY),
// never the io threads that run the actors, nor the node's file thread (a slow bucket must not
// delay the recordings' writes). The uploader never gives them more jobs than threads, so a job
// starts at once.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace switchboard::actors {

class upload_workers {
 public:
  virtual ~upload_workers() = default;
  /// Runs `job` on a thread that may block on the network.
  virtual void run(std::function<void()> job) = 0;
};

/// `threads` threads; jobs in posting order.
class upload_thread_pool final : public upload_workers {
 public:
  explicit upload_thread_pool(std::size_t threads);
  /// Drops what has not started, waits for what runs (each bounded by the client's timeout).
  ~upload_thread_pool() override;
  upload_thread_pool(const upload_thread_pool&) = delete;
  upload_thread_pool& operator=(const upload_thread_pool&) = delete;

  void run(std::function<void()> job) override;
  /// As the destructor; later jobs are dropped.
  void stop();

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

/// Runs each job at once where it is posted: deterministic actor tests.
class inline_upload_workers final : public upload_workers {
 public:
  void run(std::function<void()> job) override { job(); }
};

}  // namespace switchboard::actors
