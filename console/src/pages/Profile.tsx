import { useState } from "preact/hooks";
import { changePassword, getUser, whoAmI } from "../api";
import { errorText, useLoad } from "../load";
import { Alert } from "../ui";

// The signed-in user, and changing their password (which ends their other sessions).
export function Profile() {
  const me = whoAmI();
  const user = useLoad(() => (me ? getUser(me.id) : Promise.reject(new Error("not signed in"))));
  const [oldPassword, setOld] = useState("");
  const [newPassword, setNew] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setDone(false);
    if (newPassword.length < 8 || newPassword.length > 64) {
      setError("New password: 8 to 64 characters.");
      return;
    }
    if (newPassword !== again) {
      setError("The new password and its repetition differ.");
      return;
    }
    try {
      await changePassword(me!.id, oldPassword, newPassword, me!.name);
      setError(null);
      setDone(true);
      setOld("");
      setNew("");
      setAgain("");
    } catch (err) {
      setError(errorText(err));
    }
  }

  return (
    <section aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      {user.error && (
        <p class="error" role="alert">
          Could not load your profile: {user.error}
        </p>
      )}
      {user.data && (
        <dl class="facts">
          <dt>Name</dt>
          <dd>{user.data.name}</dd>
          <dt>Email</dt>
          <dd>{user.data.email || "-"}</dd>
          <dt>Role</dt>
          <dd>{user.data.role}</dd>
        </dl>
      )}
      <form class="form" onSubmit={submit} noValidate aria-labelledby="password-title">
        <fieldset>
          <legend id="password-title">Change your password</legend>
          <label>
            Current password
            <input type="password" autoComplete="current-password" value={oldPassword} onInput={(e) => setOld((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            New password
            <input type="password" autoComplete="new-password" value={newPassword} onInput={(e) => setNew((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            New password again
            <input type="password" autoComplete="new-password" value={again} onInput={(e) => setAgain((e.target as HTMLInputElement).value)} />
          </label>
          <Alert message={error} />
          {done && (
            <p class="notice" role="status">
              Password changed. Your other sessions have ended.
            </p>
          )}
          <div class="actions">
            <button type="submit">Change password</button>
          </div>
        </fieldset>
      </form>
    </section>
  );
}
