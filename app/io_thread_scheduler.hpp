#pragma once
// CAF's scheduler, replaced: actors run on the node's io threads instead of CAF's worker threads.
//
// Why: a call's audio is ~150 small messages a second, each crossing from an io thread (the
// socket that read it) to an actor and back to an io thread (the socket that writes it). With
// CAF's own workers every crossing is a thread wake-up (a futex or a 50 µs poll sleep), and on a
// 2-core machine those wake-ups, not the parsing, were most of a call's cost. Here a frame read
// by an io thread is handled by the call's actors on that same thread, in the same turn of its
// event loop, and their writes are started there: no hand-over, no wake-up.
//
// How: every job CAF schedules (an actor with mail) goes into one queue; a drain handler posted
// to the io_context runs the queued jobs. Jobs an actor schedules while it runs (its sends to
// other actors) join the running drain of that thread, without a post. Timers (delayed sends)
// run on CAF's clock thread, as with the default scheduler.
//
// Lifetime: the io threads must have stopped (io_context::stop + join) before the actor system
// is destroyed; the system's shutdown then releases the jobs still queued without running them,
// as CAF's own scheduler does. Hub workers (the middleman's BASP workers) scheduled after the io
// threads stopped run at once on the scheduling thread instead: the middleman's stop waits for
// them; those queued just before the io threads stopped are run by run_hub_workers_left.

#include <boost/asio/io_context.hpp>
#include <caf/actor_system_config.hpp>

#include <cstddef>

namespace caf {
class actor_system;
}

namespace switchboard::app {

/// Makes `config`'s actor system schedule its actors on `io`'s threads. `io` must outlive the
/// actor system.
void run_actors_on_io_threads(caf::actor_system_config& config, boost::asio::io_context& io);

/// Once the io threads have stopped (and been joined), runs on the calling thread the hub workers
/// (the middleman's BASP workers) still queued for them: a worker queued just before the stop
/// would otherwise never run, and the middleman's stop in the actor system's destructor waits for
/// every worker. Actors' queued mail stays queued (released at shutdown). Returns how many ran;
/// does nothing for a system that does not run its actors on io threads, or while they run.
std::size_t run_hub_workers_left(caf::actor_system& system);

}  // namespace switchboard::app
