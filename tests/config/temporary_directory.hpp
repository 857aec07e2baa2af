#pragma once

#include "support/temporary_directory.hpp"

namespace switchboard::config::testing {
using switchboard::testing::temporary_directory;
}  // namespace switchboard::config::testing
