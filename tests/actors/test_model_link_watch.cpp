// The model link's watchdog on explicit times: the ready deadline, the quiet clock that runs
// only while caller audio flows, the probe at half the silence timeout, and the verdicts.
#include "actors/model_link_watch.hpp"

#include <catch2/catch.hpp>

using namespace switchboard::actors;
using namespace std::chrono_literals;

namespace {

const model_link_watch::time_point t0{};

model_link_watch watch_with(std::chrono::milliseconds ready, std::chrono::milliseconds silence) {
  return model_link_watch(model_watch_settings{ready, silence});
}

}  // namespace

TEST_CASE("a link must be configured within the ready timeout of its upgrade",
          "[model_link_watch]") {
  auto watch = watch_with(5s, 20s);
  watch.connecting();
  CHECK_FALSE(watch.next_deadline());  // the handshake has its own timeout
  watch.opened(t0);
  CHECK(watch.phase() == model_link_phase::configuring);
  REQUIRE(watch.next_deadline());
  CHECK(*watch.next_deadline() == t0 + 5s);
  // session.created, or any other event, is not the answer to our configuration.
  watch.model_event(t0 + 100ms);
  CHECK(watch.check(t0 + 4999ms) == model_watch_due::nothing);
  CHECK(watch.check(t0 + 5s) == model_watch_due::ready_timeout);
  CHECK(watch.phase() == model_link_phase::lost);
  CHECK_FALSE(watch.next_deadline());
  CHECK(watch.check(t0 + 60s) == model_watch_due::nothing);  // reported once
}

TEST_CASE("a configured link has no deadline until caller audio flows", "[model_link_watch]") {
  auto watch = watch_with(5s, 20s);
  watch.opened(t0);
  watch.configured(t0 + 300ms);
  CHECK(watch.phase() == model_link_phase::ready);
  CHECK_FALSE(watch.next_deadline());
  CHECK(watch.check(t0 + 1h) == model_watch_due::nothing);
  // Audio before the link is ready was held, not sent: it starts no quiet clock.
  auto configuring = watch_with(5s, 20s);
  configuring.opened(t0);
  configuring.caller_audio(t0 + 10ms);
  configuring.configured(t0 + 100ms);
  CHECK_FALSE(configuring.next_deadline());
}

TEST_CASE("quiet while audio flows: a probe at half the timeout, lost at the timeout",
          "[model_link_watch]") {
  auto watch = watch_with(5s, 20s);
  watch.opened(t0);
  watch.configured(t0);
  watch.caller_audio(t0 + 1s);
  watch.caller_audio(t0 + 1020ms);  // later frames do not move the start of the quiet
  REQUIRE(watch.next_deadline());
  CHECK(*watch.next_deadline() == t0 + 11s);
  CHECK(watch.check(t0 + 10999ms) == model_watch_due::nothing);
  CHECK(watch.check(t0 + 11s) == model_watch_due::probe);
  CHECK(watch.check(t0 + 12s) == model_watch_due::nothing);  // one probe per quiet stretch
  CHECK(*watch.next_deadline() == t0 + 21s);
  CHECK(watch.check(t0 + 20999ms) == model_watch_due::nothing);
  CHECK(watch.check(t0 + 21s) == model_watch_due::silent);
  CHECK(watch.phase() == model_link_phase::lost);
}

TEST_CASE("any model event ends the quiet: an answered probe keeps the link",
          "[model_link_watch]") {
  auto watch = watch_with(5s, 20s);
  watch.opened(t0);
  watch.configured(t0);
  watch.caller_audio(t0);
  CHECK(watch.check(t0 + 10s) == model_watch_due::probe);
  watch.model_event(t0 + 10200ms);  // session.updated: the probe's answer
  CHECK_FALSE(watch.next_deadline());
  CHECK(watch.check(t0 + 20s) == model_watch_due::nothing);
  // The quiet starts again with the next caller audio, and so does the probe.
  watch.caller_audio(t0 + 10220ms);
  CHECK(*watch.next_deadline() == t0 + 20220ms);
  CHECK(watch.check(t0 + 20220ms) == model_watch_due::probe);
  CHECK(watch.phase() == model_link_phase::ready);
}

TEST_CASE("a new connection starts the watch afresh", "[model_link_watch]") {
  auto watch = watch_with(2s, 4s);
  watch.opened(t0);
  CHECK(watch.check(t0 + 2s) == model_watch_due::ready_timeout);
  watch.connecting();
  CHECK(watch.phase() == model_link_phase::connecting);
  watch.caller_audio(t0 + 3s);  // not ready: no quiet clock
  watch.opened(t0 + 3s);
  CHECK(*watch.next_deadline() == t0 + 5s);
  watch.configured(t0 + 3500ms);
  watch.caller_audio(t0 + 3520ms);
  CHECK(*watch.next_deadline() == t0 + 5520ms);
  watch.lost();  // the link closed
  CHECK_FALSE(watch.next_deadline());
  CHECK(watch.check(t0 + 1h) == model_watch_due::nothing);
}

TEST_CASE("a silence timeout of zero turns the quiet clock off", "[model_link_watch]") {
  auto watch = watch_with(5s, 0s);
  watch.opened(t0);
  watch.configured(t0);
  watch.caller_audio(t0);
  CHECK_FALSE(watch.next_deadline());
  CHECK(watch.check(t0 + 1h) == model_watch_due::nothing);
}
