// `serve --demo` as a newcomer tries it (issue 11, item 8): one command, then a living board
// after choosing the owner's password. Its screenshot is the README's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, assertAccessible, screenshot } from './harness.mjs';

let server, browser;

before(async () => {
  server = await startServer(['--demo']);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('serve --demo opens on a populated board', async () => {
  const demo = server.printed.find((line) => line.demo)?.demo;
  assert.ok(demo, `a demo line among ${JSON.stringify(server.printed)}`);
  assert.equal(demo.leads, 300);

  const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
  await page.goto(server.printed.find((line) => line.setup_url).setup_url);
  await page.fill('#password', 'owner password for tests');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/agenda/);
  await page.goto(`${server.url}/board`);

  const counts = await page.locator('[data-count]').allTextContents();
  assert.equal(counts.length, 7);
  assert.equal(counts.reduce((sum, count) => sum + Number(count), 0), demo.leads, `every lead in a column: ${counts}`);
  assert.ok(counts.every((count) => Number(count) > 0), `every stage has leads: ${counts}`);
  assert.ok(await page.locator('li.card').count() >= 7 * 10, 'the first cards of every column are shown');
  for (const chip of ['Overdue', 'Today', 'No follow-up']) {
    assert.ok(await page.locator('li.card .chip', { hasText: chip }).count() > 0, `cards with "${chip}"`);
  }
  assert.ok(await page.locator('li.card .chip.category').count() > 0, 'cards carry their category');
  await assertAccessible(page, 'the demo board');
  await screenshot(page, 'board-demo');
});
