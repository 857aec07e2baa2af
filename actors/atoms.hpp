#pragma once
// Atoms of the call protocol (CAF 0.17: at most 10 characters each).

#include <caf/atom.hpp>

namespace switchboard::actors {

using clear_atom = caf::atom_constant<caf::atom("clear")>;        // empty Twilio's buffer
using cut_atom = caf::atom_constant<caf::atom("cut")>;            // barge-in: cut the playout
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;      // response.cancel
using hangup_atom = caf::atom_constant<caf::atom("hangup")>;      // close the Twilio socket
using close_atom = caf::atom_constant<caf::atom("close")>;        // close the model session
using finalize_atom = caf::atom_constant<caf::atom("finalize")>;  // close a recording
using stop_atom = caf::atom_constant<caf::atom("stop")>;          // stop the silence clock
using drained_atom = caf::atom_constant<caf::atom("drained")>;    // answer once all has played
using connect_atom = caf::atom_constant<caf::atom("connect")>;    // (re)connect the model
using no_start_atom = caf::atom_constant<caf::atom("nostart")>;   // START_TIMEOUT passed
using ingress_atom = caf::atom_constant<caf::atom("ingress")>;    // frames waiting at the door
using retry_atom = caf::atom_constant<caf::atom("retry")>;        // deferred call files are due
using flush_atom = caf::atom_constant<caf::atom("flush")>;        // last try before shutdown
using handover_atom = caf::atom_constant<caf::atom("handover")>;  // the call's state, to move
using handed_atom = caf::atom_constant<caf::atom("handed")>;      // Twilio streams it elsewhere
using backlog_atom = caf::atom_constant<caf::atom("backlog")>;    // uploads not yet confirmed

}  // namespace switchboard::actors
