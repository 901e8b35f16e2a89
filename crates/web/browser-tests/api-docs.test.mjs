// The API reference page (issue 13, item 4) renders in Chromium from the binary alone: every
// request to anywhere but this server is refused, and Swagger UI still shows the document.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser } from './harness.mjs';

let server, browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the reference page renders every tag with no request leaving the server', async () => {
  const page = await browser.newPage();
  const elsewhere = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(server.url)) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  await page.goto(`${server.url}/api/docs/`);
  await page.locator('.swagger-ui .info .title').getByText('Opportunities').waitFor();
  const document = await (await fetch(`${server.url}/api/v1/openapi.json`)).json();
  const operationsOf = (path) => Object.values(path).filter((op) => typeof op === 'object' && op.responses);
  const tags = new Set(Object.values(document.paths).flatMap(operationsOf).flatMap((op) => op.tags ?? []));
  assert.ok(tags.size > 3, `only ${tags.size} tags in the document`);
  for (const tag of tags) {
    await page.locator(`.opblock-tag[data-tag="${tag}"]`).waitFor();
  }
  const operations = await page.locator('.opblock').count();
  assert.ok(operations > 30, `only ${operations} operations shown`);
  assert.deepEqual(elsewhere, [], 'the page asked for something outside the server');
});
