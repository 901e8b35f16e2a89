// The list of leads (issue 11, item 3): the API's filters, sorting and paging, all in the URL,
// and a CSV export of exactly the leads the view selects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launchBrowser, assertAccessible, apiCaller, ownerPage, assertNoSidewaysScroll } from './harness.mjs';

let server, browser, api, page;

async function lead(fields) {
  const { status, json } = await api('POST', '/opportunities', fields);
  assert.equal(status, 201, JSON.stringify(json));
  return json.data;
}

/** The ids of the rows the list shows, in order. */
const shownIds = () => page.locator('table.leads tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.id));

/** The ids of the leads the API lists for a query, in its order. */
async function apiIds(query) {
  const { status, json } = await api('GET', `/opportunities?${query}`);
  assert.equal(status, 200, JSON.stringify(json));
  return json.data.map((l) => l.id);
}

before(async () => {
  server = await startServer();
  api = apiCaller(server, server.printed.find((line) => line.token).token);
  browser = await launchBrowser();
  page = await ownerPage(browser, server, 'owner password for tests', { viewport: { width: 1280, height: 1000 } });
  const sources = ['website', 'referral', 'phone'];
  for (let i = 0; i < 30; i += 1) {
    await lead({ title: `Lead ${String(i).padStart(2, '0')}`, prospect_name: `Person ${i}`, source: sources[i % 3],
      estimated_value: ((i * 37) % 50) * 100 + 10 });
  }
  const won = await lead({ title: 'Won website lead', prospect_name: 'Wanda', source: 'website', estimated_value: 999 });
  assert.equal((await api('POST', `/opportunities/${won.id}/close`, { won: true })).status, 200);
  const lost = await lead({ title: 'Lost referral lead', prospect_name: 'Lou', source: 'referral', estimated_value: 5 });
  assert.equal((await api('POST', `/opportunities/${lost.id}/close`, { won: false, reason: 'Price' })).status, 200);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the list shows what the API lists, newest first, 50 to a page', async () => {
  await page.click('nav >> text=List');
  await page.waitForURL(/\/leads$/);
  await assertAccessible(page, 'list');
  const total = (await api('GET', '/opportunities')).json.meta.total;
  assert.equal(await page.locator('[data-total]').textContent(), String(total));
  assert.deepEqual(await shownIds(), await apiIds(''));
  const first = page.locator('table.leads tbody tr').first().getByRole('link');
  assert.match(await first.getAttribute('href'), /^\/leads\/[0-9a-f-]{36}$/, 'each title links to its lead page');
});

test('filters go into the URL, and the URL reproduces the view', async () => {
  await page.goto(`${server.url}/leads`);
  await page.check('input[name=status][value=won]');
  await page.check('input[name=status][value=open]');
  await page.fill('#filter-source', 'website');
  await page.click('button:has-text("Apply filters")');
  await page.waitForURL(/status=open&status=won/);
  const url = page.url();
  assert.match(url, /source=website/);
  assert.deepEqual(await shownIds(), await apiIds('status=open,won&source=website'));

  // A bookmark: the same view from its URL alone, in a fresh tab.
  const tab = await page.context().newPage();
  await tab.goto(url);
  assert.equal(await tab.locator('input[name=status][value=won]').isChecked(), true);
  assert.equal(await tab.locator('input[name=status][value=lost]').isChecked(), false);
  assert.equal(await tab.locator('#filter-source').inputValue(), 'website');
  assert.equal(await tab.locator('table.leads tbody tr').count(), (await apiIds('status=open,won&source=website')).length);
  await tab.close();
});

test('column headings sort through the API, with aria-sort on the sorted one', async () => {
  await page.goto(`${server.url}/leads?assigned_to=&status=open`);
  await page.click('th >> a[data-sort=estimated_value]');
  await page.waitForURL(/sort=-estimated_value/);
  assert.equal(await page.locator('th:has(a[data-sort=estimated_value])').getAttribute('aria-sort'), 'descending');
  assert.equal(await page.locator('th:has(a[data-sort=created_at])').getAttribute('aria-sort'), null);
  assert.deepEqual(await shownIds(), await apiIds('status=open&sort=-estimated_value'));
  await page.click('th >> a[data-sort=estimated_value]');
  await page.waitForURL(/sort=estimated_value/);
  assert.equal(await page.locator('th:has(a[data-sort=estimated_value])').getAttribute('aria-sort'), 'ascending');
  assert.deepEqual(await shownIds(), await apiIds('status=open&sort=estimated_value'));
  assert.equal(await page.locator('#list-sort').inputValue(), 'estimated_value', 'the form keeps the order');
  await assertAccessible(page, 'sorted list');
});

test('pages follow the API paging and keep the filters and order', async () => {
  await page.goto(`${server.url}/leads?assigned_to=&status=open&sort=estimated_value&limit=25`);
  assert.equal(await page.locator('table.leads tbody tr').count(), 25);
  assert.equal(await page.getByRole('link', { name: 'Previous 25' }).count(), 0);
  await page.getByRole('link', { name: 'Next 25' }).click();
  await page.waitForURL(/offset=25/);
  assert.match(page.url(), /status=open/);
  assert.match(await page.locator('#list-count').textContent(), /Showing 26–30 of 30 leads/);
  assert.deepEqual(await shownIds(), await apiIds('status=open&sort=estimated_value&limit=25&offset=25'));
  assert.equal(await page.getByRole('link', { name: 'Next 25' }).count(), 0);
  await page.getByRole('link', { name: 'Previous 25' }).click();
  await page.waitForURL((url) => !url.searchParams.has('offset'));
  assert.equal(await page.locator('table.leads tbody tr').count(), 25);
});

test('Export CSV downloads exactly the leads the filters select', async () => {
  await page.goto(`${server.url}/leads?assigned_to=&status=open&source=referral&limit=25`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  assert.equal(download.suggestedFilename(), 'opportunities.csv');
  const lines = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  assert.match(lines[0], /^id,title,prospect_name,/);
  const exported = lines.slice(1).map((line) => line.split(',')[0]).sort();
  const listed = (await apiIds('status=open&source=referral&limit=200')).sort();
  assert.equal(listed.length, 10);
  assert.deepEqual(exported, listed);
  assert.ok(lines.slice(1).every((line) => line.includes(',referral,') && line.includes(',open,')));
});

test('a search the API refuses is explained beside the form, not a server error', async () => {
  const response = await page.goto(`${server.url}/leads?search=${encodeURIComponent('a b c d e f g h i')}`);
  assert.equal(response.status(), 400);
  await page.getByRole('alert').filter({ hasText: 'at most 8 different words' }).waitFor();
  await assertAccessible(page, 'list with a refused search');
});

test('on a 375 px phone the list fits the width and its table scrolls on its own', async () => {
  const phone = await browser.newContext({ viewport: { width: 375, height: 800 } });
  await phone.addCookies(await page.context().cookies());
  const small = await phone.newPage();
  await small.goto(`${server.url}/leads?assigned_to=`);
  await assertNoSidewaysScroll(small, 'the list');
  await assertAccessible(small, 'list at 375 px');
  await small.fill('#filter-search', 'Wanda');
  await small.press('#filter-search', 'Enter');
  await small.waitForURL(/search=Wanda/);
  assert.equal(await small.locator('table.leads tbody tr').count(), 1);
  const region = await small.locator('.table-scroll').evaluate((el) => ({ scroll: el.scrollWidth, width: el.clientWidth }));
  assert.ok(region.scroll > region.width, 'the wide table scrolls inside its region');
  await phone.close();
});
