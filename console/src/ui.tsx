// Small pieces every page uses.

// An error for the user (announced by screen readers); nothing when `message` is empty.
export function Alert({ message }: { message: string | null | undefined }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}
