#pragma once
// How the call-control API (app/call_control.*) reaches a call that runs on another node of the
// cluster: a request to that node's node actor, answered there from its call directory
// (app/cluster_node.cpp implements it). Null without a cluster.

#include "actors/messages.hpp"

#include <functional>

namespace switchboard::app {

class remote_calls {
 public:
  virtual ~remote_calls() = default;
  /// Asks the node `request.node_id`; `done` is called once, on an io thread, with its answer,
  /// or with 502 (not linked to that node, the link failed) or 504 (no answer within the
  /// cluster's request timeout). Never blocks.
  virtual void ask(actors::remote_call_request request,
                   std::function<void(actors::remote_call_answer)> done) const = 0;
  /// Reads one chunk of a recording held by the node `request.node_id`; `done` as for ask().
  virtual void read_chunk(actors::recording_chunk_request request,
                          std::function<void(actors::recording_chunk)> done) const = 0;
};

}  // namespace switchboard::app
