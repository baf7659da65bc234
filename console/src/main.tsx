import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { onSessionChange, sessionExpired, signOut, token, whoAmI } from "./api";
import { ClusterDetail } from "./pages/ClusterDetail";
import { ClusterForm } from "./pages/ClusterForm";
import { Clusters } from "./pages/Clusters";
import { Components } from "./pages/Components";
import { JobDetail } from "./pages/JobDetail";
import { JobForm } from "./pages/JobForm";
import { Jobs } from "./pages/Jobs";
import { Peers } from "./pages/Peers";
import { PersistentCache } from "./pages/PersistentCache";
import { Profile } from "./pages/Profile";
import { SwarmTasks, SwarmView } from "./pages/Swarm";
import { Tasks } from "./pages/Tasks";
import { Tokens } from "./pages/Tokens";
import { Users } from "./pages/Users";
import { SignIn } from "./pages/SignIn";
import { Route, useRoute } from "./router";
import "./style.css";

// The sections in the navigation bar, and which routes belong to each.
const sections = [
  { href: "#/clusters", title: "Clusters", pages: ["clusters", "cluster", "cluster-new", "cluster-edit"] },
  { href: "#/components", title: "Schedulers and seed peers", pages: ["components"] },
  { href: "#/peers", title: "Peers", pages: ["peers"] },
  { href: "#/jobs", title: "Jobs", pages: ["jobs", "job", "job-new", "tasks"] },
  { href: "#/swarm", title: "Swarm", pages: ["swarm", "swarm-task"] },
  { href: "#/cache", title: "Persistent cache", pages: ["cache"] },
  { href: "#/users", title: "Users", pages: ["users"], root: true },
  { href: "#/tokens", title: "Tokens", pages: ["tokens"] },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "clusters":
      return <Clusters />;
    case "cluster-new":
      return <ClusterForm />;
    case "cluster":
      return <ClusterDetail id={route.id} />;
    case "cluster-edit":
      return <ClusterForm id={route.id} />;
    case "components":
      return <Components />;
    case "jobs":
      return <Jobs />;
    case "job-new":
      return <JobForm />;
    case "job":
      return <JobDetail id={route.id} />;
    case "tasks":
      return <Tasks />;
    case "users":
      return <Users />;
    case "tokens":
      return <Tokens />;
    case "profile":
      return <Profile />;
    case "peers":
      return <Peers />;
    case "swarm":
      return <SwarmTasks />;
    case "swarm-task":
      return <SwarmView taskId={route.taskId} />;
    case "cache":
      return <PersistentCache />;
    case "not-found":
      return (
        <section>
          <h2>Page not found</h2>
          <p class="empty">
            Nothing lives at <code>{route.hash}</code>. <a href="#/clusters">Back to the clusters</a>
          </p>
        </section>
      );
  }
}

function App() {
  const [signedIn, setSignedIn] = useState(token() !== null);
  const [expired, setExpired] = useState(sessionExpired());
  const route = useRoute();

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
  const me = whoAmI();
  return (
    <div class="shell">
      <nav aria-label="Main">
        <span class="brand">Dragonfly</span>
        {sections.filter((s) => !s.root || me?.role === "root").map((s) => (
          <a key={s.href} href={s.href} aria-current={s.pages.includes(route.page) ? "page" : undefined}>
            {s.title}
          </a>
        ))}
        {me && (
          <a class="who" href="#/profile" aria-current={route.page === "profile" ? "page" : undefined}>
            {me.name} ({me.role})
          </a>
        )}
        <button type="button" class="link" onClick={() => signOut()}>
          Sign out
        </button>
      </nav>
      <main>
        <Page route={route} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
