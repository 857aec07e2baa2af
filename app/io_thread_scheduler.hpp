#pragma once
// CAF's scheduler, replaced: actors run on the node's io threads (its shards, net/io_shards.hpp)
// instead of CAF's worker threads, and each actor on one shard, its home.
//
// Why: a call's audio is ~150 small messages a second, each crossing from an io thread (the
// socket that read it) to an actor and back to an io thread (the socket that writes it). With
// CAF's own workers every crossing is a thread wake-up (a futex or a 50 µs poll sleep), and on a
// 2-core machine those wake-ups, not the parsing, were most of a call's cost. Here a frame read
// by a shard's thread is handled by the call's actors on that same thread, in the same turn of
// its event loop, and their writes are started there: no hand-over, no wake-up, no lock.
//
// Home: an actor runs on the shard it last ran on (CAF records that as the actor's execution
// unit, one per shard here). A new actor's home is the shard of the thread that spawned it:
// a call's supervisor is spawned beside its media stream's socket, and its children beside it.
// Mail from anywhere (another shard, CAF's clock, the cluster's middleman) schedules the actor
// on its home; only mail from the home's own thread skips the queue's lock.
//
// How: each shard has a queue its own thread fills without a lock and one that other threads
// fill under a mutex; a drain handler posted to the shard's io_context runs both. Jobs an actor
// schedules while it runs (its sends to actors at home) join the running drain, without a post.
// Timers (delayed sends) run on CAF's clock thread, as with the default scheduler.
//
// Lifetime: the io threads must have stopped (io_shards::stop) before the actor system is
// destroyed; the system's shutdown then releases the jobs still queued without running them, as
// CAF's own scheduler does. Hub workers (the middleman's BASP workers) scheduled after the io
// threads stopped run at once on the scheduling thread instead: the middleman's stop waits for
// them; those queued just before the io threads stopped are run by run_hub_workers_left.

#include "net/io_shards.hpp"

#include <caf/actor_system_config.hpp>

#include <cstddef>
#include <optional>

namespace caf {
class actor_system;
class local_actor;
}  // namespace caf

namespace switchboard::app {

/// Makes `config`'s actor system schedule its actors on `shards`' threads. `shards` must outlive
/// the actor system.
void run_actors_on_io_threads(caf::actor_system_config& config, net::io_shards& shards);

/// The shard `actor` calls home (the one it last ran on), if `system` runs its actors on io
/// shards and the actor has run or been spawned on one. For tests and logs.
std::optional<std::size_t> home_shard(caf::actor_system& system, const caf::local_actor& actor);

/// Once the io threads have stopped (and been joined), runs on the calling thread the hub workers
/// (the middleman's BASP workers) still queued for them: a worker queued just before the stop
/// would otherwise never run, and the middleman's stop in the actor system's destructor waits for
/// every worker. Actors' queued mail stays queued (released at shutdown). Returns how many ran;
/// does nothing for a system that does not run its actors on io threads, or while they run.
std::size_t run_hub_workers_left(caf::actor_system& system);

}  // namespace switchboard::app
