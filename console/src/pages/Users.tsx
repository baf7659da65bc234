import { useState } from "preact/hooks";
import { User, createUser, listUsers, updateUser, whoAmI } from "../api";
import { errorText, useLoad } from "../load";
import { Alert } from "../ui";

// Root only: every user, their role and state, and adding one.
export function Users() {
  if (whoAmI()?.role !== "root") {
    return <RootOnly />;
  }
  return <UserList />;
}

export function RootOnly() {
  return (
    <section>
      <h2>Not for your role</h2>
      <p class="error" role="alert">
        This page needs the root role.
      </p>
      <a href="#/clusters">Back to the clusters</a>
    </section>
  );
}

function UserList() {
  const users = useLoad(listUsers);
  const [error, setError] = useState<string | null>(null);
  const me = whoAmI();
  const change = (u: User, patch: Partial<Pick<User, "role" | "state">>) =>
    updateUser(u.id, patch)
      .then(() => {
        setError(null);
        users.reload();
      })
      .catch((err) => setError(`Could not change ${u.name}: ${errorText(err)}`));

  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <Alert message={error} />
      {users.error && (
        <p class="error" role="alert">
          Could not load the users: {users.error}
        </p>
      )}
      {!users.error && users.data === null && <p class="loading">Loading the users...</p>}
      {users.data !== null && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => (
              <tr key={u.id} data-user={u.name}>
                <td>
                  {u.name} {u.id === me?.id && <span class="badge">you</span>}
                </td>
                <td>{u.email || "-"}</td>
                <td>
                  <select
                    aria-label={`Role of ${u.name}`}
                    value={u.role}
                    onChange={(e) => change(u, { role: (e.target as HTMLSelectElement).value as User["role"] })}
                  >
                    <option value="root">root</option>
                    <option value="guest">guest</option>
                  </select>
                </td>
                <td>
                  <span class={`state state-${u.state === "enable" ? "active" : "inactive"}`}>
                    {u.state === "enable" ? "enabled" : "disabled"}
                  </span>{" "}
                  <button
                    type="button"
                    class="secondary"
                    aria-label={`${u.state === "enable" ? "Disable" : "Enable"} ${u.name}`}
                    onClick={() => change(u, { state: u.state === "enable" ? "disable" : "enable" })}
                  >
                    {u.state === "enable" ? "Disable" : "Enable"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <NewUser onCreated={users.reload} />
    </section>
  );
}

function NewUser({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<User["role"]>("guest");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setDone(null);
    if (!/^[A-Za-z0-9_.-]{3,64}$/.test(name)) {
      setError("Name: 3 to 64 characters of letters, digits, '_', '.' and '-'.");
      return;
    }
    if (password.length < 8 || password.length > 64) {
      setError("Password: 8 to 64 characters.");
      return;
    }
    try {
      await createUser({ name, email, password, role });
      setError(null);
      setDone(`${name} can sign in now.`);
      setName("");
      setEmail("");
      setPassword("");
      onCreated();
    } catch (err) {
      setError(errorText(err));
    }
  }

  return (
    <form class="form" onSubmit={submit} noValidate aria-labelledby="new-user-title">
      <fieldset>
        <legend id="new-user-title">Add a user</legend>
        <label>
          User name
          <input name="name" autoComplete="off" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Email
          <input name="email" type="email" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Initial password
          <input
            name="password"
            type="password"
            autoComplete="new-password"
            value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Role
          <select name="role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as User["role"])}>
            <option value="guest">guest</option>
            <option value="root">root</option>
          </select>
        </label>
        <Alert message={error} />
        {done && (
          <p class="notice" role="status">
            {done}
          </p>
        )}
        <div class="actions">
          <button type="submit">Add user</button>
        </div>
      </fieldset>
    </form>
  );
}
