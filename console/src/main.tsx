import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { onSessionChange, signOut, token } from "./api";
import { Clusters } from "./pages/Clusters";
import { Components } from "./pages/Components";
import { SignIn } from "./pages/SignIn";
import "./style.css";

const pages = {
  "#/clusters": { title: "Clusters", view: () => <Clusters /> },
  "#/components": { title: "Schedulers and seed peers", view: () => <Components /> },
};
type PageKey = keyof typeof pages;

function currentPage(): PageKey {
  return location.hash in pages ? (location.hash as PageKey) : "#/clusters";
}

function App() {
  const [signedIn, setSignedIn] = useState(token() !== null);
  const [page, setPage] = useState<PageKey>(currentPage());

  useEffect(() => {
    const follow = () => setPage(currentPage());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
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
        {(Object.keys(pages) as PageKey[]).map((key) => (
          <a key={key} href={key} aria-current={key === page ? "page" : undefined}>
            {pages[key].title}
          </a>
        ))}
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
      <main>{pages[page].view()}</main>
    </div>
  );
}

let manualSignOut = false;

render(<App />, document.getElementById("app")!);
