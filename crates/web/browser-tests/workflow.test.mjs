// The seed's website-lead workflow from end to end, in Chromium, as a visitor and the clinic's
// staff would do it: the visitor sends the hosted form; staff assign the lead, log the first
// call, move it across the board by drag and by keyboard, qualify it, convert the prospect to a
// client and close the sale. The API then reads back what the seed's walk-through shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, assertAccessible, apiCaller, ownerPage } from './harness.mjs';

let server, browser, api;

before(async () => {
  server = await startServer();
  api = apiCaller(server, server.printed.find((line) => line.token).token);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Clicks `selector` and waits for the page it leads to. */
async function submit(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

async function columnOf(page, id) {
  return page.locator(`#card-${id}`).evaluate((card) => card.closest('ul.cards').dataset.status);
}

test('the website lead workflow: create, assign, log a call, move by drag and keyboard, qualify, convert, close won', async () => {
  const form = (await api('POST', '/lead-forms', { name: 'Botox' })).json.data;
  const sam = (await api('POST', '/staff', { name: 'Sam Sales', email: 'sam@example.com' })).json.data;

  // 1. A website inquiry arrives through the hosted form.
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto(form.hosted_url);
  await visitor.getByLabel('Name (required)').fill('Jane Doe');
  await visitor.getByLabel('E-mail').fill('jane@example.com');
  await visitor.getByLabel('Phone').fill('+15551234567');
  await visitor.getByLabel('Message').fill('Interested in Botox, first visit.');
  await Promise.all([visitor.waitForURL(/\/thanks$/), visitor.getByRole('button', { name: 'Send' }).click()]);
  await visitor.context().close();

  const staff = await ownerPage(browser, server, 'owner password for the workflow', { viewport: { width: 1920, height: 1000 } });
  await staff.goto(`${server.url}/board`);
  const card = staff.locator('li.card', { hasText: 'Website Inquiry - Botox' });
  const id = await card.getAttribute('data-id');
  assert.equal(await columnOf(staff, id), 'open');

  // 2. Assign it to the salesperson, from the lead page the card's title opens.
  await submit(staff, `#card-${id} .card-title a`);
  assert.equal(await staff.inputValue('#description'), 'Interested in Botox, first visit.');
  assert.equal(await staff.inputValue('#source'), 'website');
  await staff.selectOption('#assigned_to', sam.id);
  await submit(staff, 'button:has-text("Save changes")');
  await staff.locator('#announce-polite', { hasText: 'Changes saved.' }).waitFor();

  // 3. Log the first call.
  await staff.selectOption('#activity-activity_type', 'call');
  await staff.fill('#activity-description', 'Initial outreach call');
  await staff.fill('#activity-outcome', 'Left voicemail');
  await submit(staff, '#log-activity button[type=submit]');
  await staff.locator('#activity .entry', { hasText: 'Initial outreach call' }).waitFor();

  // 4. Across the board: dragged to Contacted, then qualified with the keyboard's Move control.
  await submit(staff, '.breadcrumb a:has-text("Board")');
  await staff.locator(`#card-${id} .card-title a`).dragTo(staff.locator('ul.cards[data-status="contacted"]'));
  await staff.locator('#announce-polite', { hasText: 'Moved Website Inquiry - Botox to Contacted' }).waitFor();
  assert.equal(await columnOf(staff, id), 'contacted');
  await staff.locator(`#move-${id}`).focus();
  await staff.locator(`#move-${id}`).selectOption('qualified');
  await staff.keyboard.press('Tab');
  await Promise.all([staff.waitForURL(/moved=/), staff.keyboard.press('Enter')]);
  assert.equal(await columnOf(staff, id), 'qualified');

  // The seed's qualifying figures, on the lead page.
  await submit(staff, `#card-${id} .card-title a`);
  await staff.fill('#probability', '70');
  await staff.fill('#estimated_value', '600.00');
  await submit(staff, 'button:has-text("Save changes")');
  await staff.locator('#announce-polite', { hasText: 'Changes saved.' }).waitFor();

  // 5. Convert the prospect to a client, then close the sale.
  await submit(staff, 'button:has-text("Convert to client")');
  await staff.locator('#announce-polite', { hasText: 'Converted: a new client, Jane Doe, was created from this lead.' }).waitFor();
  await submit(staff, 'button:has-text("Close as won")');
  await staff.locator('#announce-polite', { hasText: 'Closed as won.' }).waitFor();
  assert.deepEqual(await staff.locator('#history tbody th').allTextContents(), ['Open', 'Contacted', 'Qualified', 'Won']);
  await assertAccessible(staff, 'the won lead');

  const lead = (await api('GET', `/opportunities/${id}`)).json.data;
  assert.deepEqual(
    [lead.status, lead.probability, lead.estimated_value, lead.assigned_staff.name, lead.client.name, lead.source],
    ['won', 100, 600, 'Sam Sales', 'Jane Doe', 'website'],
  );
  const log = lead.activities.map((activity) => activity.description);
  for (const entry of ['Initial outreach call', 'Status changed from open to contacted by Administrator',
    'Status changed from contacted to qualified by Administrator', 'Status changed from qualified to won by Administrator']) {
    assert.ok(log.includes(entry), `${entry} in ${JSON.stringify(log)}`);
  }
  const stats = (await api('GET', '/opportunities/stats')).json.data;
  assert.deepEqual([stats.counts.won, stats.total, stats.winRate], [1, 1, 1]);
  assert.deepEqual(stats.bySource, [{ source: 'website', total: 1, won: 1, lost: 0, winRate: 1, wonValue: 600 }]);

  // 6. The dashboard reflects the sale: one lead, won, a win rate of 100 %.
  await submit(staff, 'nav a:has-text("Dashboard")');
  const figure = (key) => staff.locator(`[data-stat="${key}"]`).first().textContent();
  assert.deepEqual([await figure('total'), await figure('win-rate'), await figure('count-won')], ['1', '100%', '1']);
  await assertAccessible(staff, 'the dashboard after the sale');
  await staff.context().close();
});
