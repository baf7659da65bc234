// The web console (console/, a single-page app built by the project's build) served by the
// manager on its REST port: the built files under `dir` at their paths, index.html for "/" and
// for any other GET outside the API (the app routes in the browser). Hashed assets are cached for
// a year, index.html never. Only files under `dir` are served (no "..", no symlink out of it).
#pragma once

#include <string>

#include "manager/http_server.h"

namespace df::manager {

// Where the console is: `configured` (console.dir) when set, else the build's or the package's
// copy (<executable>/../console, /usr/share/dragonfly/console); "" when none has index.html.
std::string FindConsoleDir(const std::string& configured);

// Adds the console's routes; register them after the API's (they take every other GET). With an
// empty `dir`, "/" answers 404 saying the console is not installed.
void RegisterConsole(HttpRouter& router, const std::string& dir);

}  // namespace df::manager
