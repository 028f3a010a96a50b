/** Reads a JSON response as the type the test expects (the assertions check the shape). */
export async function json<T>(response: Response | Promise<Response>): Promise<T> {
  return (await (await response).json()) as T;
}
