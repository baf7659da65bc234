import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { onSessionChange, signOut, token } from "./api";
import { Clusters } from "./pages/Clusters";
import { SignIn } from "./pages/SignIn";
import "./style.css";

function App() {
  const [signedIn, setSignedIn] = useState(token() !== null);
  const [expired, setExpired] = useState(false);

  useEffect(
    () =>
      onSessionChange(() => {
        const now = token() !== null;
        setSignedIn((was) => {
          setExpired(was && !now && !manualSignOut);
          manualSignOut = false;
          return now;
        });
      }),
    [],
  );

  if (!signedIn) {
    return <SignIn expired={expired} />;
  }
  return (
    <div class="shell">
      <nav aria-label="Main">
        <span class="brand">Dragonfly</span>
        <a href="#/clusters" aria-current="page">
          Clusters
        </a>
        <button
          type="button"
          class="link"
          onClick={() => {
            manualSignOut = true;
            signOut();
          }}
        >
          Sign out
        </button>
      </nav>
      <main>
        <Clusters />
      </main>
    </div>
  );
}

let manualSignOut = false;

render(<App />, document.getElementById("app")!);
