#include "actors/model_link_watch.hpp"

namespace switchboard::actors {

void model_link_watch::connecting() {
  phase_ = model_link_phase::connecting;
  quiet_since_.reset();
  probe_sent_ = false;
}

void model_link_watch::opened(time_point now) {
  phase_ = model_link_phase::configuring;
  opened_at_ = now;
  quiet_since_.reset();
  probe_sent_ = false;
}

void model_link_watch::configured(time_point now) {
  if (phase_ != model_link_phase::configuring)
    return;
  phase_ = model_link_phase::ready;
  model_event(now);
}

void model_link_watch::model_event(time_point) {
  quiet_since_.reset();
  probe_sent_ = false;
}

void model_link_watch::caller_audio(time_point now) {
  if (phase_ == model_link_phase::ready && !quiet_since_ && settings_.silence_timeout.count() > 0)
    quiet_since_ = now;
}

void model_link_watch::lost() {
  phase_ = model_link_phase::lost;
  quiet_since_.reset();
  probe_sent_ = false;
}

model_watch_due model_link_watch::check(time_point now) {
  switch (phase_) {
    case model_link_phase::configuring:
      if (now - opened_at_ >= settings_.ready_timeout) {
        lost();
        return model_watch_due::ready_timeout;
      }
      return model_watch_due::nothing;
    case model_link_phase::ready: {
      if (!quiet_since_)
        return model_watch_due::nothing;
      const auto quiet = now - *quiet_since_;
      if (quiet >= settings_.silence_timeout) {
        lost();
        return model_watch_due::silent;
      }
      if (!probe_sent_ && quiet >= settings_.silence_timeout / 2) {
        probe_sent_ = true;
        return model_watch_due::probe;
      }
      return model_watch_due::nothing;
    }
    case model_link_phase::connecting:
    case model_link_phase::lost:
      return model_watch_due::nothing;
  }
  return model_watch_due::nothing;
}

std::optional<model_link_watch::time_point> model_link_watch::next_deadline() const {
  switch (phase_) {
    case model_link_phase::configuring:
      return opened_at_ + settings_.ready_timeout;
    case model_link_phase::ready:
      if (!quiet_since_)
        return std::nullopt;
      return *quiet_since_ +
             (probe_sent_ ? settings_.silence_timeout : settings_.silence_timeout / 2);
    case model_link_phase::connecting:
    case model_link_phase::lost:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace switchboard::actors
