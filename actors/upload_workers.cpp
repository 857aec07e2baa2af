#include "actors/upload_workers.hpp"

namespace switchboard::actors {

upload_thread_pool::upload_thread_pool(std::size_t threads) {
  for (std::size_t i = 0; i < (threads == 0 ? 1 : threads); ++i)
    threads_.emplace_back([this] { work(); });
}

upload_thread_pool::~upload_thread_pool() {
  stop();
}

void upload_thread_pool::run(std::function<void()> job) {
  std::lock_guard lock(mutex_);
  if (stopping_)
    return;  // the node stops: the call's marker keeps the file for the next start
  jobs_.push_back(std::move(job));
  wake_.notify_one();
}

void upload_thread_pool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
    wake_.notify_all();
  }
  for (auto& thread : threads_) {
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id())
      thread.join();
  }
}

void upload_thread_pool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_)
      return;
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;
    lock.lock();
  }
}

}  // namespace switchboard::actors
