// Small pieces every page uses.

// The non-empty trimmed lines of a text area (`sep` splits further, e.g. /[\n,]/).
export const lines = (text: string, sep: RegExp = /\n/) =>
  text
    .split(sep)
    .map((l) => l.trim())
    .filter(Boolean);

// An error for the user (announced by screen readers); nothing when `message` is empty.
export function Alert({ message }: { message: string | null | undefined }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}
