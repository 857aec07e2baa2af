#pragma once
// Blocking file work of the calls, off the io threads that run the actors: a call's directory
// and marker, the recorders' writes and their close (with its fdatasync), call.json rewrites.
// A slow or stalled disk then delays the files, never another call's audio.
//
// One thread for the node: jobs run in the order they were posted (a recorder's appends reach
// its file in order, and its close comes after them). A job reports back to its actor with a
// message; it never touches actor state. The queue is not bounded: on a stalled disk it grows by
// the audio the recorders hand it (16 kB a second per call) until the disk answers.
//
// The thread works in batches: the first job posted to an empty queue wakes it, it then waits
// `batch_window` (20 ms) for more and runs all that came. Under load the recorders post thousands
// of small jobs a second (each track every 200 ms); woken for each, the thread and the io threads
// that post paid a futex wake, two context switches and the queue's lock per job. Nothing here
// needs the disk sooner: the recordings are already 200 ms batches, and a call's directory,
// call.json and close are not on any caller's path.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace switchboard::actors {

class file_work {
 public:
  virtual ~file_work() = default;
  /// Runs `job` later, in posting order, on a thread that may block on the disk.
  virtual void post(std::function<void()> job) = 0;
};

/// The node's file thread.
class file_work_thread final : public file_work {
 public:
  static constexpr std::chrono::milliseconds default_batch_window{20};

  explicit file_work_thread(std::chrono::milliseconds batch_window = default_batch_window);
  /// Runs the jobs still queued, then joins (stop() does it earlier).
  ~file_work_thread() override;
  file_work_thread(const file_work_thread&) = delete;
  file_work_thread& operator=(const file_work_thread&) = delete;

  void post(std::function<void()> job) override;
  /// Runs what is queued and stops the thread; later posts run on the caller's thread.
  void stop();
  /// Jobs posted and not yet finished.
  std::size_t pending() const;

 private:
  void run();

  const std::chrono::milliseconds batch_window_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // posted, not yet taken into a batch
  std::atomic<std::size_t> running_{0};     // taken into the batch that runs now, not finished
  bool idle_ = false;                       // the thread waits for a first job
  bool stopping_ = false;
  std::thread thread_;
};

/// Runs each job at once on the posting thread: deterministic actor tests, and code with no
/// file thread (a node's environment without one falls back to it).
class inline_file_work final : public file_work {
 public:
  void post(std::function<void()> job) override { job(); }
};

}  // namespace switchboard::actors
