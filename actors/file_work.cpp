#include "actors/file_work.hpp"

namespace switchboard::actors {

file_work_thread::file_work_thread() : thread_([this] { run(); }) {}

file_work_thread::~file_work_thread() {
  stop();
}

void file_work_thread::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
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
  return jobs_.size() + running_;
}

void file_work_thread::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty())
      return;  // stopping, and everything posted has run
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    ++running_;
    lock.unlock();
    job();
    // Destroyed before the lock is taken again: what it held (a recorder's file, a call's
    // last reference to something) may block on the disk as it goes, and posters (the io
    // threads) must never wait for that.
    job = nullptr;
    lock.lock();
    --running_;
  }
}

}  // namespace switchboard::actors
