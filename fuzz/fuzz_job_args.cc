// REST job bodies: any JSON (or not JSON) as a job's args, for each job type.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "manager/jobs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(std::string_view(reinterpret_cast<const char*>(data), size),
                                 nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return 0;
  }
  for (const char* type : {"preheat", "get_task", "delete_task", "other"}) {
    (void)df::manager::ValidateJobArgs(type, j);
  }
  return 0;
}
