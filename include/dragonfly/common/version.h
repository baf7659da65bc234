// What this build is: the project version, the git commit it was built from ("unknown"
// outside a git checkout) and the build date (UTC; SOURCE_DATE_EPOCH when set, so a package
// build is reproducible). Components report both to the
// manager (the console's peers page groups daemons by them).
#pragma once

namespace df {

extern const char* const kVersion;
extern const char* const kGitCommit;
extern const char* const kBuildDate;  // YYYY-MM-DD

}  // namespace df
