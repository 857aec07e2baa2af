#include "net/io_shards.hpp"

#include <boost/asio/strand.hpp>

#include <algorithm>
#include <pthread.h>
#include <stdexcept>
#include <string>

namespace switchboard::net {

namespace {

/// The shard the calling thread runs, if any: set for the life of a shard's thread. Keyed by
/// its set, because a process may hold several nodes (tests) and their sets.
struct shard_thread {
  const io_shards* owner = nullptr;
  std::size_t index = 0;
};
thread_local shard_thread this_thread_shard;

/// Marks an io_context that only its shard's thread runs (see connection_executor).
class one_thread_runs_it final : public boost::asio::execution_context::service {
 public:
  using key_type = one_thread_runs_it;
  static inline boost::asio::execution_context::id id;
  explicit one_thread_runs_it(boost::asio::execution_context& owner)
      : boost::asio::execution_context::service(owner) {}

 private:
  void shutdown() override {}
};

}  // namespace

boost::asio::any_io_executor connection_executor(boost::asio::io_context& io) {
  if (boost::asio::has_service<one_thread_runs_it>(io))
    return io.get_executor();
  return boost::asio::make_strand(io);
}

io_shards::io_shards(unsigned count) {
  if (count == 0)
    throw std::invalid_argument("io_shards: at least one shard");
  shards_.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    shards_.push_back(std::make_unique<shard_state>());
    boost::asio::make_service<one_thread_runs_it>(shards_.back()->io);
  }
}

io_shards::~io_shards() {
  stop();
}

boost::asio::io_context& io_shards::current() {
  const auto index = current_index();
  return shards_[index.value_or(0)]->io;
}

std::optional<std::size_t> io_shards::current_index() const {
  if (this_thread_shard.owner != this)
    return std::nullopt;
  return this_thread_shard.index;
}

io_shards::shard_state& io_shards::least_loaded_state() {
  // Loads read without a lock: two connections accepted at once may both pick the same shard,
  // which the next ones even out.
  auto least = std::min_element(shards_.begin(), shards_.end(), [](const auto& a, const auto& b) {
    return a->open_connections.load(std::memory_order_relaxed) <
           b->open_connections.load(std::memory_order_relaxed);
  });
  return **least;
}

boost::asio::io_context& io_shards::least_loaded() {
  return least_loaded_state().io;
}

io_shards::placement io_shards::place_connection() {
  shard_state& chosen = least_loaded_state();
  chosen.open_connections.fetch_add(1, std::memory_order_relaxed);
  // The lease owns nothing; its deleter gives the place back. The shard outlives it: the set
  // is destroyed after the sockets (their io_contexts are in it).
  std::shared_ptr<void> lease(static_cast<void*>(&chosen), [](void* state) {
    static_cast<shard_state*>(state)->open_connections.fetch_sub(1, std::memory_order_relaxed);
  });
  return {chosen.io, std::move(lease)};
}

std::vector<std::size_t> io_shards::open_connections() const {
  std::vector<std::size_t> counts;
  counts.reserve(shards_.size());
  for (const auto& shard : shards_)
    counts.push_back(shard->open_connections.load(std::memory_order_relaxed));
  return counts;
}

std::vector<std::thread::id> io_shards::thread_ids() const {
  std::vector<std::thread::id> ids;
  ids.reserve(threads_.size());
  for (const auto& thread : threads_)
    ids.push_back(thread.get_id());
  return ids;
}

void io_shards::start() {
  if (!threads_.empty())
    return;
  threads_.reserve(shards_.size());
  for (std::size_t index = 0; index < shards_.size(); ++index) {
    threads_.emplace_back([this, index] {
      const auto name = "io." + std::to_string(index);
      pthread_setname_np(pthread_self(), name.c_str());
      this_thread_shard = {this, index};
      shards_[index]->io.run();
      this_thread_shard = {};
    });
  }
}

void io_shards::stop() {
  for (auto& shard : shards_)
    shard->io.stop();
  for (auto& thread : threads_)
    thread.join();
  threads_.clear();
}

}  // namespace switchboard::net
