#pragma once

#include <vector>

#include "dragonfly/manager/db.h"

namespace df::manager {

const std::vector<db::Migration>& Migrations();

}  // namespace df::manager
