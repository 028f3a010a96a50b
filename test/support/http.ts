/** Reads a JSON response as the type the test expects (the assertions check the shape). */
export async function json<T>(response: Response | Promise<Response>): Promise<T> {
  return (await (await response).json()) as T;
}

/** A call to Aegle's admin API with the admin token: method, path below /api/admin, JSON body. */
export function adminApi(baseUrl: () => string, token: string) {
  return (method: string, path: string, body?: unknown) =>
    fetch(`${baseUrl()}/api/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
}

/** Asks `probe` every 50 ms until it answers something other than undefined, for up to `ms`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
