import { useEffect, useState } from "preact/hooks";
import { ApiError, signIn, signUp, signUpAllowed } from "../api";
import { Alert } from "../ui";

// Sign in; or, when the manager allows it, sign up as a guest (and be signed in).
export function SignIn({ expired }: { expired: boolean }) {
  const [mode, setMode] = useState<"in" | "up">("in");
  const [canSignUp, setCanSignUp] = useState(false);
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    signUpAllowed()
      .then(setCanSignUp)
      .catch(() => setCanSignUp(false));
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    if (mode === "up" && password !== again) {
      setError("The two passwords differ.");
      return;
    }
    if (mode === "up" && password.length < 8) {
      setError("The password needs at least 8 characters.");
      return;
    }
    setBusy(true);
    try {
      await (mode === "in" ? signIn(name, password) : signUp(name, email, password));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const switchTo = (m: "in" | "up") => {
    setMode(m);
    setError(null);
  };
  const input = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Dragonfly</h1>
        {mode === "up" && <h2>Create an account</h2>}
        {expired && mode === "in" && <p class="notice">Your session ended. Sign in again.</p>}
        <label>
          Name
          <input name="name" autoComplete="username" required value={name} onInput={input(setName)} />
        </label>
        {mode === "up" && (
          <label>
            Email (optional)
            <input name="email" type="email" autoComplete="email" value={email} onInput={input(setEmail)} />
          </label>
        )}
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={mode === "in" ? "current-password" : "new-password"}
            required
            value={password}
            onInput={input(setPassword)}
          />
        </label>
        {mode === "up" && (
          <label>
            Password again
            <input name="again" type="password" autoComplete="new-password" required value={again} onInput={input(setAgain)} />
          </label>
        )}
        <Alert message={error} />
        {mode === "in" ? (
          <button type="submit" disabled={busy}>
            {busy ? "Signing in..." : "Sign in"}
          </button>
        ) : (
          <button type="submit" disabled={busy}>
            {busy ? "Creating..." : "Create account"}
          </button>
        )}
        {canSignUp && mode === "in" && (
          <p>
            No account?{" "}
            <button type="button" class="link" onClick={() => switchTo("up")}>
              Sign up
            </button>
          </p>
        )}
        {mode === "up" && (
          <p>
            Have an account?{" "}
            <button type="button" class="link" onClick={() => switchTo("in")}>
              Sign in instead
            </button>
          </p>
        )}
      </form>
    </main>
  );
}
