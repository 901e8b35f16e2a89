// What the tests need beyond the seed's functions: the server the test script started (from
// OPPORTUNITIES_URL and OPPORTUNITIES_TOKEN) and the records the seed takes for granted (staff,
// clients), made over plain HTTP.
import assert from 'node:assert/strict';

export const baseUrl = required('OPPORTUNITIES_URL');
export const token = required('OPPORTUNITIES_TOKEN');

function required(name: string): string {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run the tests with scripts/typescript-client.sh, which starts a server`);
  return value;
}

/** One API call that must succeed; answers its `data`. */
export async function api<T = { id: string }>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const envelope = (await response.json()) as { success: boolean; data: T };
  assert.ok(envelope.success, `${method} ${path} failed: ${JSON.stringify(envelope)}`);
  return envelope.data;
}

/** A suffix that keeps names and e-mail addresses unique across the records of one run. */
export function unique(): string {
  return crypto.randomUUID().slice(0, 8);
}
