// The agenda (issue 12, item 5): the signed-in staff member's start page lists their overdue,
// today's and upcoming follow-ups and activities like GET /api/v1/agenda, links to the leads,
// and "Mark done" completes an activity. Checked with axe-core, and on a 375 px phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, assertAccessible, screenshot, apiCaller, ownerPage, assertNoSidewaysScroll,
} from './harness.mjs';

const HOUR = 3600 * 1000;
let server, browser, api, page, me;

const at = (hours) => new Date(Date.now() + hours * HOUR).toISOString();

async function lead(fields) {
  const { status, json } = await api('POST', '/opportunities', { prospect_name: 'Ann Example', assigned_to: me.id, ...fields });
  assert.equal(status, 201, JSON.stringify(json));
  return json.data;
}

const titles = (section) => page.locator(`[data-section="${section}"] li a`).allTextContents();

before(async () => {
  server = await startServer();
  api = apiCaller(server, server.printed.find((line) => line.token).token);
  browser = await launchBrowser();
  page = await ownerPage(browser, server, 'owner password for tests');
  me = (await api('GET', '/me')).json.data;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('signing in opens the agenda, which lists what the API lists', async () => {
  assert.match(page.url(), /\/agenda$/);
  await lead({ title: 'Overdue follow-up', follow_up_date: at(-72) });
  await lead({ title: 'Later follow-up', follow_up_date: at(72) });
  const call = await lead({ title: 'Call to make' });
  const scheduled = { activity_type: 'call', description: 'Confirm the appointment', scheduled_at: at(-48) };
  assert.equal((await api('POST', `/opportunities/${call.id}/activities`, scheduled)).status, 201);
  await lead({ title: 'Someone else\'s', follow_up_date: at(-72), assigned_to: null });

  const agenda = (await api('GET', '/agenda')).json.data;
  await page.goto(`${server.url}/agenda`);
  await assertAccessible(page, 'agenda');
  for (const section of ['overdue', 'today', 'upcoming']) {
    assert.deepEqual(await titles(section), agenda[section].map((item) => item.opportunity.title), section);
  }
  assert.deepEqual(await titles('overdue'), ['Overdue follow-up', 'Call to make']);
  assert.deepEqual(await titles('upcoming'), ['Later follow-up']);
  await screenshot(page, 'agenda');

  await page.getByRole('link', { name: 'Overdue follow-up' }).click();
  await page.waitForURL(/\/leads\//);
  await page.getByRole('link', { name: 'Agenda' }).click();
  await page.waitForURL(/\/agenda$/);
});

test('Mark done completes the activity and takes it off the agenda', async () => {
  await page.goto(`${server.url}/agenda`);
  await page.getByRole('button', { name: 'Mark done: Confirm the appointment' }).click();
  await page.waitForURL(/done=1/);
  await page.getByText('Marked as done.').waitFor();
  assert.deepEqual(await titles('overdue'), ['Overdue follow-up']);
  await assertAccessible(page, 'agenda after marking done');
  const agenda = (await api('GET', '/agenda')).json.data;
  assert.equal(agenda.overdue.filter((item) => item.kind === 'activity').length, 0);
});

test('on a 375 px phone the agenda fits the width', async () => {
  const phone = await browser.newContext({ viewport: { width: 375, height: 800 } });
  await phone.addCookies(await page.context().cookies());
  const small = await phone.newPage();
  await small.goto(`${server.url}/agenda`);
  await assertNoSidewaysScroll(small, 'the agenda');
  await assertAccessible(small, 'agenda at 375 px');
  await phone.close();
});
