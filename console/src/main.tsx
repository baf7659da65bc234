import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { onSessionChange, sessionExpired, signOut, token } from "./api";
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
  const [expired, setExpired] = useState(sessionExpired());

  useEffect(() => {
    const follow = () => {
      setSignedIn(token() !== null);
      setExpired(sessionExpired());
    };
    const unsubscribe = onSessionChange(follow);
    follow(); // a change between the first render and this subscription
    return unsubscribe;
  }, []);

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
          onClick={() => signOut()}
        >
          Sign out
        </button>
      </nav>
      <main>{pages[page].view()}</main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
