// The dashboard (issue 11, item 6): the pipeline's figures agree with the API's stats, the
// charts have text alternatives, and the signed-in member's due follow-ups link to their leads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, assertAccessible, screenshot, apiCaller, ownerPage, dollars, assertNoSidewaysScroll,
} from './harness.mjs';

const DAY = 24 * 3600 * 1000;
let server, browser, api, page, me;

async function lead(fields) {
  const { status, json } = await api('POST', '/opportunities', fields);
  assert.equal(status, 201, JSON.stringify(json));
  return json.data;
}

async function close(id, won, reason) {
  const { status, json } = await api('POST', `/opportunities/${id}/close`, won ? { won } : { won, reason });
  assert.equal(status, 200, JSON.stringify(json));
}

const stat = (key) => page.locator(`[data-stat="${key}"]`).textContent();

before(async () => {
  server = await startServer();
  api = apiCaller(server, server.printed.find((line) => line.token).token);
  browser = await launchBrowser();
  page = await ownerPage(browser, server, 'owner password for tests', { viewport: { width: 1280, height: 1000 } });
  me = (await api('GET', '/me')).json.data;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the figures are the API stats, each linking to its leads', async () => {
  const sam = (await api('POST', '/staff', { name: 'Sam Sales', email: 'sam@example.com' })).json.data;
  await lead({ title: 'Botox consult', prospect_name: 'Ann', source: 'website', estimated_value: 1200.5, probability: 40 });
  await lead({ title: 'Filler package', prospect_name: 'Bea', source: 'referral', estimated_value: 25000, assigned_to: sam.id });
  const qualified = await lead({ title: 'Laser course', prospect_name: 'Cy', source: 'website', estimated_value: 900 });
  await api('PATCH', `/opportunities/${qualified.id}`, { status: 'qualified', probability: 70 });
  const won = await lead({ title: 'Facial', prospect_name: 'Di', source: 'walk_in', estimated_value: 150 });
  await close(won.id, true);
  const lost = await lead({ title: 'Peel', prospect_name: 'Ed', source: 'website', estimated_value: 300 });
  await close(lost.id, false, 'Price');
  await lead({ title: 'No source', prospect_name: 'Flo' });

  const stats = (await api('GET', '/opportunities/stats')).json.data;
  await page.goto(`${server.url}/dashboard?assigned_to=`);
  await assertAccessible(page, 'dashboard');
  assert.equal(await stat('total-value'), dollars(stats.totalValue));
  assert.equal(await stat('weighted-value'), dollars(stats.weightedValue));
  assert.equal(await stat('needs-follow-up'), String(stats.needsFollowUp));
  assert.equal(await stat('win-rate'), `${Math.round(stats.winRate * 100)}%`);
  assert.equal(await stat('total'), String(stats.total));
  for (const [status, count] of Object.entries(stats.counts)) {
    assert.equal(await stat(`count-${status}`), String(count), status);
  }
  const openValue = (await api('GET', '/opportunities?status=open&limit=200')).json.data.reduce((sum, l) => sum + (l.estimated_value ?? 0), 0);
  assert.equal(await stat('value-open'), dollars(openValue));

  // The charts are images with a name, beside tables of their numbers.
  assert.equal(await page.getByRole('img', { name: /^Bar chart of leads/ }).count(), 2);
  const website = stats.bySource.find((source) => source.source === 'website');
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'website', exact: true }) });
  assert.match(await row.textContent(), new RegExp(`${website.total}${website.won}${website.lost}`));

  // A member's figures: the owner filter narrows them as the API's assigned_to does.
  await page.selectOption('#filter-owner', sam.id);
  await page.click('button:has-text("Show")');
  await page.waitForURL(new RegExp(`assigned_to=${sam.id}`));
  const sams = (await api('GET', `/opportunities/stats?assigned_to=${sam.id}`)).json.data;
  assert.equal(await stat('total-value'), dollars(sams.totalValue));
  assert.equal(await stat('total'), String(sams.total));

  // The open pipeline tile opens the list of exactly those leads.
  await page.goto(`${server.url}/dashboard?assigned_to=`);
  await page.click('.tile a:has-text("Open pipeline")');
  await page.waitForURL(/\/leads\?/);
  const open = stats.counts.open + stats.counts.contacted + stats.counts.qualified + stats.counts.proposal;
  assert.equal(await page.locator('[data-total]').textContent(), String(open));
});

test("the signed-in member's follow-ups due today or overdue, each linking to its lead", async () => {
  const now = Date.now();
  const overdue = await lead({ title: 'Call back Gia', prospect_name: 'Gia', prospect_phone: '+15550001111', assigned_to: me.id,
    follow_up_date: new Date(now - 2 * DAY).toISOString() });
  const today = await lead({ title: 'Send quote to Hal', prospect_name: 'Hal', assigned_to: me.id, follow_up_date: new Date(now).toISOString() });
  const later = await lead({ title: 'Check in with Ivy', prospect_name: 'Ivy', assigned_to: me.id,
    follow_up_date: new Date(now + 3 * DAY).toISOString() });
  const sam = (await api('GET', '/staff')).json.data.find((member) => member.email === 'sam@example.com');
  const others = await lead({ title: "Sam's call", prospect_name: 'Jo', assigned_to: sam.id, follow_up_date: new Date(now - DAY).toISOString() });

  await page.goto(`${server.url}/dashboard`);
  const section = page.locator('section.follow-ups');
  const overdueList = section.getByRole('list', { name: 'Overdue' });
  const todayList = section.getByRole('list', { name: 'Today' });
  await overdueList.getByRole('link', { name: overdue.title }).waitFor();
  assert.match(await overdueList.textContent(), /Overdue 2 d/);
  assert.equal(await overdueList.locator(`a[href="tel:+15550001111"]`).count(), 1);
  await todayList.getByRole('link', { name: today.title }).waitFor();
  assert.equal(await section.getByText(later.title).count(), 0, 'not due yet');
  assert.equal(await section.getByText(others.title).count(), 0, "another member's follow-up");
  assert.equal(await section.getByRole('link', { name: today.title }).getAttribute('href'), `/leads/${today.id}`);
  await assertAccessible(page, 'dashboard with follow-ups');
  await screenshot(page, 'dashboard');
});

test('on a 375 px phone the dashboard fits the width', async () => {
  const phone = await page.context().browser().newContext({ viewport: { width: 375, height: 800 } });
  await phone.addCookies(await page.context().cookies());
  const small = await phone.newPage();
  await small.goto(`${server.url}/dashboard?assigned_to=`);
  await assertNoSidewaysScroll(small, 'the dashboard');
  await assertAccessible(small, 'dashboard at 375 px');
  const chart = await small.locator('#stages-chart').boundingBox();
  assert.ok(chart.width <= 375 && chart.width > 250, `the chart is ${chart.width} px wide`);
  await phone.close();
});
