#include "actors/file_work.hpp"

namespace switchboard::actors {

file_work_thread::file_work_thread(std::chrono::milliseconds batch_window)
    : batch_window_(batch_window), thread_([this] { run(); }) {}

file_work_thread::~file_work_thread() {
  stop();
}

void file_work_thread::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      // Only the first job wakes the thread; the rest join the batch it gathers.
      if (idle_)
        wake_.notify_one();
      return;
    }
  }
  job();  // stopped: nothing may be lost, so it runs here
}

void file_work_thread::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
}

std::size_t file_work_thread::pending() const {
  std::lock_guard lock(mutex_);
  return jobs_.size() + running_.load();
}

void file_work_thread::run() {
  std::deque<std::function<void()>> batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    idle_ = true;
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    idle_ = false;
    if (jobs_.empty())
      return;  // stopping, and everything posted has run
    // Gather what the window brings (stop() cuts it short).
    wake_.wait_for(lock, batch_window_, [this] { return stopping_; });
    batch.swap(jobs_);
    running_ = batch.size();
    lock.unlock();
    while (!batch.empty()) {
      auto job = std::move(batch.front());
      batch.pop_front();
      job();
      // Destroyed before the next job: what it held (a recorder's file, a call's last
      // reference to something) may block on the disk as it goes, outside the lock, so that
      // posters (the io threads) never wait for it.
      job = nullptr;
      --running_;
    }
    lock.lock();
  }
}

}  // namespace switchboard::actors
