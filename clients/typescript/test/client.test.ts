// The client beyond the seed's examples: configuration, failures that never reach the API, the
// API's errors passed on, query parameters, and the If-Match and Idempotency-Key options.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

import {
  CLIENT_ERROR_CODES,
  configure,
  createClient,
  createOpportunity,
  getOpportunities,
  getOpportunityCategories,
  updateOpportunity,
} from '@opportunities/client';

import { api, baseUrl, token, unique } from './support/server.js';

/** A local HTTP server that answers every request with `handler`, for failures the API never gives. */
async function fakeServer(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('configuration', () => {
  test('comes from OPPORTUNITIES_URL and OPPORTUNITIES_TOKEN when nothing is configured', async () => {
    assert.equal((await getOpportunityCategories()).success, true);
  });

  test('configure() takes precedence over the environment, field by field', async () => {
    try {
      configure({ token: 'opp_not_a_token' });
      const result = await getOpportunityCategories();
      assert.equal(result.success, false);
      assert.equal(result.error?.code, 'unauthorized');
    } finally {
      configure({});
    }
    assert.equal((await getOpportunityCategories()).success, true);
  });

  test('createClient() has its own configuration, and accepts a base URL ending in /api/v1/', async () => {
    const client = createClient({ baseUrl: `${baseUrl}/api/v1/`, token });
    assert.equal((await client.getOpportunityCategories()).success, true);
  });

  test('without a base URL or token the answer is not_configured, not an exception', async () => {
    const saved = { url: process.env.OPPORTUNITIES_URL, token: process.env.OPPORTUNITIES_TOKEN };
    delete process.env.OPPORTUNITIES_URL;
    delete process.env.OPPORTUNITIES_TOKEN;
    try {
      const result = await createClient().getOpportunityStats();
      assert.equal(result.success, false);
      assert.equal(result.error?.code, CLIENT_ERROR_CODES.notConfigured);
      assert.match(result.error!.message, /OPPORTUNITIES_URL/);
    } finally {
      process.env.OPPORTUNITIES_URL = saved.url;
      process.env.OPPORTUNITIES_TOKEN = saved.token;
    }
  });
});

describe('failures that never reach the API answer the same envelope', () => {
  let hanging: { url: string; server: Server };
  let proxy: { url: string; server: Server };
  before(async () => {
    hanging = await fakeServer(() => {});
    proxy = await fakeServer((_request, response) => response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'));
  });
  after(() => {
    hanging.server.closeAllConnections();
    hanging.server.close();
    proxy.server.close();
  });

  test('a refused connection is network_error, with the cause', async () => {
    const { url, server } = await fakeServer(() => {});
    server.close();
    const result = await createClient({ baseUrl: url, token }).getOpportunities();
    assert.equal(result.success, false);
    assert.equal(result.error?.code, CLIENT_ERROR_CODES.network);
    assert.equal(result.error?.details.cause, 'ECONNREFUSED');
  });

  test('no answer within timeoutMs is timeout', async () => {
    const result = await createClient({ baseUrl: hanging.url, token, timeoutMs: 200 }).getOpportunity(crypto.randomUUID());
    assert.equal(result.success, false);
    assert.equal(result.error?.code, CLIENT_ERROR_CODES.timeout);
  });

  test("an answer that is not the API's envelope is invalid_response, with the status", async () => {
    const result = await createClient({ baseUrl: proxy.url, token }).getOpportunityStats();
    assert.equal(result.success, false);
    assert.equal(result.error?.code, CLIENT_ERROR_CODES.invalidResponse);
    assert.equal(result.error?.details.status, 502);
  });
});

describe('requests', () => {
  let staff: string;
  before(async () => {
    const suffix = unique();
    staff = (await api('POST', '/staff', { name: `Kim ${suffix}`, email: `kim.${suffix}@example.com`, role: 'member' })).id;
  });

  test("the API's errors come back as it sent them, fields and all", async () => {
    const result = await createOpportunity({ title: '', probability: 150 });
    assert.equal(result.success, false);
    assert.equal(result.error?.code, 'validation_failed');
    assert.deepEqual(Object.keys(result.error?.details.fields as object).sort(), ['probability', 'prospect_name', 'title']);
  });

  test('query parameters may be camelCase or the API names; status may be one or several', async () => {
    const created = await createOpportunity({ title: 'Laser package', prospect_name: `Lee ${unique()}`, assigned_to: staff });
    assert.ok(created.success);
    for (const params of [{ assignedTo: staff }, { assigned_to: staff }, { assignedTo: staff, status: 'open' as const }]) {
      const result = await getOpportunities(params);
      assert.ok(result.success, JSON.stringify(result));
      assert.deepEqual(result.data.map((lead) => lead.id), [created.data.id], JSON.stringify(params));
      assert.equal(result.meta.total, 1);
    }
    const none = await getOpportunities({ assignedTo: staff, status: ['won', 'lost'] });
    assert.deepEqual(none.data, []);
  });

  test('ifMatch refuses a change based on an old version', async () => {
    const created = await createOpportunity({ title: 'Peel', prospect_name: `Noor ${unique()}` });
    assert.ok(created.success);
    const { id, version } = created.data;
    assert.equal((await updateOpportunity(id, { probability: 30 }, { ifMatch: version })).success, true);
    const stale = await updateOpportunity(id, { probability: 40 }, { ifMatch: version });
    assert.equal(stale.error?.code, 'precondition_failed');
  });

  test('idempotencyKey makes a retried create answer the first lead instead of a second one', async () => {
    const lead = { title: 'Filler', prospect_name: `Ivy ${unique()}` };
    const idempotencyKey = crypto.randomUUID();
    const first = await createOpportunity(lead, { idempotencyKey });
    const retry = await createOpportunity(lead, { idempotencyKey });
    assert.ok(first.success && retry.success);
    assert.equal(retry.data.id, first.data.id);
  });

  test('ids are escaped in the path', async () => {
    const result = await createClient().getOpportunity('../stats');
    assert.equal(result.error?.code, 'bad_request');
  });
});
