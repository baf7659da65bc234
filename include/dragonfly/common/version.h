// What this build is: the project version and the git commit it was built from ("unknown"
// outside a git checkout). Components report both to the
// manager (the console's peers page groups daemons by them).
#pragma once

namespace df {

extern const char* const kVersion;
extern const char* const kGitCommit;

}  // namespace df
