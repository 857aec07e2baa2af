#include "actors/bridge_environment.hpp"

#include <catch2/catch.hpp>

using switchboard::actors::dial_overrides;

TEST_CASE("a dial's overrides are taken once, by its id", "[dial_overrides]") {
  dial_overrides dials;
  dials.put("d1", {"Confirm the slot.", "cedar"});
  dials.put("d2", {std::nullopt, "ash"});
  CHECK_FALSE(dials.take("unknown"));
  const auto first = dials.take("d1");
  REQUIRE(first.has_value());
  CHECK(first->instructions == "Confirm the slot.");
  CHECK(first->voice == "cedar");
  CHECK_FALSE(dials.take("d1"));  // a replayed stream gets the node's defaults
  CHECK(dials.take("d2")->voice == "ash");
}

TEST_CASE("pending overrides are bounded: the oldest are forgotten", "[dial_overrides]") {
  dial_overrides dials;
  for (std::size_t i = 0; i <= dial_overrides::max_pending; ++i)
    dials.put("d" + std::to_string(i), {"prompt " + std::to_string(i), std::nullopt});
  CHECK_FALSE(dials.take("d0"));
  CHECK(dials.take("d1").has_value());
  CHECK(dials.take("d" + std::to_string(dial_overrides::max_pending)).has_value());
}
