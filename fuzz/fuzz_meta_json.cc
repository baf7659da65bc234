// A task's meta.json as left on disk (a crash, a full disk, a hand edit): the store opens and
// either loads the task or discards it.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "dragonfly/storage/task_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string root = [] {
    char tmpl[] = "/tmp/df-fuzz-meta-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  // libFuzzer ends through exit(): leave no store behind. Registered after `root` is built, so
  // it runs before `root` is destroyed.
  static const bool cleanup = std::atexit([] {
                                std::error_code ec;
                                std::filesystem::remove_all(root, ec);
                              }) == 0;
  (void)cleanup;
  const std::string id(64, 'a');
  std::filesystem::remove_all(root + "/" + id);
  std::filesystem::create_directories(root + "/" + id);
  {
    std::ofstream(root + "/" + id + "/meta.json", std::ios::binary)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    std::ofstream(root + "/" + id + "/data", std::ios::binary) << std::string(4096, 'x');
  }
  auto store = df::storage::OpenTaskStore(root);
  if (!store.ok()) {
    __builtin_trap();  // one task's metadata must never keep the store from opening
  }
  return 0;
}
