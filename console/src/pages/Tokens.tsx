import { useState } from "preact/hooks";
import { AccessToken, TokenScope, createToken, deleteToken, listTokens, setTokenState } from "../api";
import { errorText, useLoad } from "../load";
import { Alert } from "../ui";

const day = 24 * 3600 * 1000;

// Personal access tokens for /oapi/v1 (scripts, Harbor): create (shown once), revoke, delete.
export function Tokens() {
  const tokens = useLoad(listTokens);
  const [error, setError] = useState<string | null>(null);
  const act = (what: Promise<void>, t: AccessToken) =>
    what
      .then(() => {
        setError(null);
        tokens.reload();
      })
      .catch((err) => setError(`Could not change ${t.name}: ${errorText(err)}`));

  return (
    <section aria-labelledby="tokens-title">
      <h2 id="tokens-title">Personal access tokens</h2>
      <p>
        A token calls the open API (<code>/oapi/v1</code>: jobs, clusters) as you, within its scopes; it cannot
        sign in here or manage users.
      </p>
      <Alert message={error} />
      {tokens.error && (
        <p class="error" role="alert">
          Could not load the tokens: {tokens.error}
        </p>
      )}
      {!tokens.error && tokens.data === null && <p class="loading">Loading the tokens...</p>}
      {tokens.data !== null && tokens.data.length === 0 && <p class="empty">No token yet.</p>}
      {tokens.data !== null && tokens.data.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scopes</th>
              <th scope="col">State</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((t) => {
              const expired = new Date(t.expired_at).getTime() <= Date.now();
              return (
                <tr key={t.id} data-token={t.name}>
                  <td>
                    {t.name}
                    {t.bio && <div class="muted">{t.bio}</div>}
                  </td>
                  <td>{t.scopes.length ? t.scopes.join(", ") : "all"}</td>
                  <td>
                    <span class={`state state-${t.state === "active" && !expired ? "active" : "inactive"}`}>
                      {expired ? "expired" : t.state === "active" ? "active" : "revoked"}
                    </span>
                  </td>
                  <td>{new Date(t.expired_at).toLocaleDateString()}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`${t.state === "active" ? "Revoke" : "Re-activate"} ${t.name}`}
                      onClick={() => act(setTokenState(t.id, t.state === "active" ? "inactive" : "active"), t)}
                    >
                      {t.state === "active" ? "Revoke" : "Re-activate"}
                    </button>
                    <button type="button" class="secondary" aria-label={`Delete ${t.name}`} onClick={() => act(deleteToken(t.id), t)}>
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <NewToken onCreated={tokens.reload} />
    </section>
  );
}

function NewToken({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [bio, setBio] = useState("");
  const [scopes, setScopes] = useState<TokenScope[]>(["job"]);
  const [days, setDays] = useState("90");
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    if (!/^[A-Za-z0-9_.-]{1,191}$/.test(name)) {
      setError("Name: letters, digits, '_', '.' and '-'.");
      return;
    }
    if (scopes.length === 0) {
      setError("Scopes: at least one.");
      return;
    }
    try {
      const t = await createToken({
        name,
        bio,
        scopes,
        expired_at: new Date(Date.now() + Number(days) * day).toISOString().replace(/\.\d+Z$/, "Z"),
      });
      setError(null);
      setSecret(t.token);
      setName("");
      setBio("");
      onCreated();
    } catch (err) {
      setError(errorText(err));
    }
  }

  return (
    <form class="form" onSubmit={submit} noValidate aria-labelledby="new-token-title">
      <fieldset>
        <legend id="new-token-title">Create a token</legend>
        <label>
          Token name
          <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Token description
          <input name="bio" value={bio} onInput={(e) => setBio((e.target as HTMLInputElement).value)} />
        </label>
        <div role="group" aria-label="Scopes" class="actions">
          {(["job", "cluster"] as TokenScope[]).map((s) => (
            <label class="check" key={s}>
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) =>
                  setScopes((e.target as HTMLInputElement).checked ? [...scopes, s] : scopes.filter((x) => x !== s))
                }
              />
              {s === "job" ? "job (preheat, tasks)" : "cluster (clusters)"}
            </label>
          ))}
        </div>
        <label>
          Expires in
          <select name="expiry" value={days} onChange={(e) => setDays((e.target as HTMLSelectElement).value)}>
            <option value="7">7 days</option>
            <option value="30">30 days</option>
            <option value="90">90 days</option>
            <option value="365">a year</option>
          </select>
        </label>
        <Alert message={error} />
        {secret && (
          <div class="secret" role="status">
            <p>Copy the token now: it is not shown again.</p>
            <code data-secret="token">{secret}</code>{" "}
            <button type="button" class="secondary" onClick={() => void navigator.clipboard?.writeText(secret)}>
              Copy
            </button>
          </div>
        )}
        <div class="actions">
          <button type="submit">Create token</button>
        </div>
      </fieldset>
    </form>
  );
}
