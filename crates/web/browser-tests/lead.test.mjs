// The lead page (issue 11, item 4): reached from its card on the board, every field edited in
// one form, notes, the activity timeline, the stage history, closing, converting and deleting,
// in Chromium, with axe-core run on every state of the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, assertAccessible, screenshot, apiCaller, ownerPage, otherOrganization,
} from './harness.mjs';

const PASSWORD = 'owner password for lead tests';
let server, browser, owner, api;

async function lead(fields) {
  const { status, json } = await api('POST', '/opportunities', { prospect_name: 'Pat Prospect', ...fields });
  assert.equal(status, 201, JSON.stringify(json));
  return json.data;
}

async function stored(id) {
  return (await api('GET', `/opportunities/${id}`)).json.data;
}

/** Clicks `selector` and resolves to the response the navigation ends on. */
async function submit(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return response;
}

/** The polite live region once the page's script has filled it. */
async function announced(page, text, region = '#announce-polite') {
  await page.locator(region, { hasText: text }).waitFor();
}

before(async () => {
  server = await startServer();
  api = apiCaller(server, server.printed.find((line) => line.token).token);
  browser = await launchBrowser();
  owner = await ownerPage(browser, server, PASSWORD);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a card's title opens the lead page, and the card still drags by it", async () => {
  const linked = await lead({ title: 'Linked card' });
  await owner.goto(`${server.url}/board?assigned_to=`);
  await owner.locator(`#card-${linked.id} .card-title a`).dragTo(owner.locator('ul.cards[data-status="contacted"]'));
  await announced(owner, 'Moved Linked card to Contacted');
  assert.equal((await stored(linked.id)).status, 'contacted');

  await submit(owner, `#card-${linked.id} .card-title a`);
  assert.equal(new URL(owner.url()).pathname, `/leads/${linked.id}`);
  assert.equal(await owner.locator('h1').textContent(), 'Linked card');
  assert.equal(await owner.locator('.stepper [aria-current=step]').getAttribute('data-stage'), 'contacted');
  await assertAccessible(owner, 'lead page');
  await owner.setViewportSize({ width: 375, height: 800 });
  await assertAccessible(owner, 'lead page at 375 px');
  const overflow = await owner.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 375 px (${overflow} px too wide)`);
  await owner.setViewportSize({ width: 1280, height: 900 });
});

test('every field is edited in one form; bad fields are named beside them and nothing is saved', async () => {
  const category = (await api('POST', '/opportunity-categories', { name: 'Botox', color: '#0f8a5f' })).json.data;
  const sam = (await api('POST', '/staff', { name: 'Sam Sales', email: 'sam@example.com' })).json.data;
  const edited = await lead({ title: 'Needs edits', source: 'phone' });
  await owner.goto(`${server.url}/leads/${edited.id}`);

  await owner.fill('#title', '');
  await owner.fill('#estimated_value', 'lots');
  await owner.fill('#probability', '150');
  const refused = await submit(owner, 'button:has-text("Save changes")');
  assert.equal(refused.status(), 422);
  for (const field of ['title', 'estimated_value', 'probability']) {
    await owner.locator(`#${field}-error`).waitFor();
    assert.equal(await owner.locator(`#${field}`).getAttribute('aria-invalid'), 'true');
    assert.equal(await owner.locator(`#${field}`).getAttribute('aria-describedby'), `${field}-error`);
  }
  assert.equal(await owner.evaluate(() => document.activeElement?.id), 'error-summary', 'the summary takes the focus');
  assert.equal(await owner.inputValue('#estimated_value'), 'lots', 'what was typed stays');
  await assertAccessible(owner, 'lead page with errors');
  assert.equal((await stored(edited.id)).title, 'Needs edits');

  await owner.fill('#title', 'Botox consult – J. Doe');
  await owner.fill('#prospect_name', 'Jane Doe');
  await owner.fill('#prospect_phone', '+15551234567');
  await owner.fill('#prospect_email', 'jane.edit@example.com');
  await owner.selectOption('#category_id', category.id);
  await owner.fill('#estimated_value', '600');
  await owner.fill('#probability', '70');
  await owner.selectOption('#source', 'referral');
  await owner.selectOption('#assigned_to', sam.id);
  await owner.fill('#follow_up_date', '2026-12-01T10:00');
  await owner.fill('#description', 'Wants a consult before the holidays.');
  await owner.selectOption('#status', 'qualified');
  await submit(owner, 'button:has-text("Save changes")');
  assert.match(owner.url(), /done=saved/);
  await announced(owner, 'Changes saved.');
  const saved = await stored(edited.id);
  assert.deepEqual(
    [saved.title, saved.prospect_name, saved.prospect_phone, saved.prospect_email, saved.category_id, saved.estimated_value,
      saved.probability, saved.source, saved.assigned_to, saved.follow_up_date, saved.description, saved.status],
    ['Botox consult – J. Doe', 'Jane Doe', '+15551234567', 'jane.edit@example.com', category.id, 600, 70, 'referral', sam.id,
      '2026-12-01T10:00:00Z', 'Wants a consult before the holidays.', 'qualified'],
  );
  await owner.locator('#activity .entry', { hasText: 'Status changed from open to qualified' }).waitFor();
  await assertAccessible(owner, 'lead page after saving');

  await submit(owner, 'button:has-text("Save changes")');
  await announced(owner, 'Nothing to save');
  assert.equal((await stored(edited.id)).version, saved.version, 'an untouched form changes nothing');
});

test('notes come newest first, and a call with a scheduled date joins the timeline beside the stage changes', async () => {
  const worked = await lead({ title: 'Worked lead', estimated_value: 450, source: 'website' });
  await owner.goto(`${server.url}/leads/${worked.id}`);

  const refused = await submit(owner, 'button:has-text("Add note")');
  assert.equal(refused.status(), 422);
  await owner.locator('#note-content-error').waitFor();
  await assertAccessible(owner, 'lead page with a refused note');
  await owner.fill('#note-content', 'First: asked about prices.');
  await submit(owner, 'button:has-text("Add note")');
  await announced(owner, 'Note added.');
  await owner.fill('#note-content', 'Second: booked a call back.');
  await submit(owner, 'button:has-text("Add note")');
  assert.deepEqual(await owner.locator('#notes .note-content').allTextContents(), ['Second: booked a call back.', 'First: asked about prices.']);

  await owner.selectOption('#activity-activity_type', 'call');
  await owner.fill('#activity-description', 'Initial outreach call');
  await owner.fill('#activity-outcome', 'Left voicemail');
  await owner.fill('#activity-scheduled_at', '2026-12-02T15:30');
  await submit(owner, '#log-activity button[type=submit]');
  await announced(owner, 'Activity logged.');
  const call = owner.locator('#activity .entry').first();
  assert.match(await call.textContent(), /Call\s+Initial outreach call.*Outcome: Left voicemail.*Scheduled for Wed 2 Dec 2026, 15:30 UTC/s);

  await owner.selectOption('#status', 'contacted');
  await submit(owner, 'button:has-text("Save changes")');
  await owner.locator('#activity .entry', { hasText: 'Status changed from open to contacted by Administrator' }).waitFor();
  const stages = await owner.locator('#history tbody th').allTextContents();
  assert.deepEqual(stages, ['Open', 'Contacted']);
  assert.match(await owner.locator('#history tbody tr').last().textContent(), /Still there.*Administrator/s);
  const activities = (await api('GET', `/opportunities/${worked.id}/activities`)).json.data;
  assert.deepEqual(activities.map((a) => a.activity_type), ['status_change', 'call']);
  assert.equal(activities[1].scheduled_at, '2026-12-02T15:30:00Z');
  await owner.goto(`${server.url}/leads/${worked.id}`);
  await assertAccessible(owner, 'lead page with notes and activities');
  await screenshot(owner, 'lead');
});

test('a conflicting edit from a second tab shows the conflict and overwrites nothing', async () => {
  const contested = await lead({ title: 'Contested lead', estimated_value: 100 });
  const first = owner;
  await first.goto(`${server.url}/leads/${contested.id}`);
  const second = await owner.context().newPage();
  await second.goto(`${server.url}/leads/${contested.id}`);
  await second.fill('#title', 'Renamed in the other tab');
  await submit(second, 'button:has-text("Save changes")');
  await second.close();

  await first.fill('#estimated_value', '999');
  const response = await submit(first, 'button:has-text("Save changes")');
  assert.equal(response.status(), 409);
  const alert = first.getByRole('alert');
  await alert.filter({ hasText: 'Your changes were not saved' }).waitFor();
  await announced(first, 'Your changes were not saved', '#announce-assertive');
  const rows = await first.locator('table.differences tbody tr').allTextContents();
  assert.ok(rows.some((row) => /Estimated value\s*999\s*100\.00/.test(row)), rows.join(' | '));
  assert.ok(rows.some((row) => /Title\s*Contested lead\s*Renamed in the other tab/.test(row)), rows.join(' | '));
  assert.equal(await first.locator('h1').textContent(), 'Renamed in the other tab', 'the page shows the lead as it now is');
  assert.equal(await first.inputValue('#title'), 'Renamed in the other tab');
  await assertAccessible(first, 'lead page with a conflict');
  const now = await stored(contested.id);
  assert.deepEqual([now.title, now.estimated_value], ['Renamed in the other tab', 100], 'nothing was overwritten');

  // The form now carries the current version: the same change saves.
  await first.fill('#estimated_value', '999');
  await submit(first, 'button:has-text("Save changes")');
  assert.deepEqual([(await stored(contested.id)).title, (await stored(contested.id)).estimated_value], ['Renamed in the other tab', 999]);
});

test('closing as lost needs a reason, won takes an optional sale, and reopening asks to unlink it', async () => {
  const closing = await lead({ title: 'Closing lead' });
  await owner.goto(`${server.url}/leads/${closing.id}`);
  const refused = await submit(owner, 'button:has-text("Close as lost")');
  assert.equal(refused.status(), 422);
  await owner.locator('#lost-reason-error').waitFor();
  await assertAccessible(owner, 'lead page with a refused close');
  await owner.fill('#lost-reason', 'Went with a competitor');
  await submit(owner, 'button:has-text("Close as lost")');
  await announced(owner, 'Closed as lost.');
  assert.match(await owner.locator('#close-lead').textContent(), /Lost on .*Reason: Went with a competitor/s);
  await assertAccessible(owner, 'lost lead');

  await owner.selectOption('#status', 'open');
  await submit(owner, 'button:has-text("Save changes")');
  let now = await stored(closing.id);
  assert.deepEqual([now.status, now.closed_reason, now.probability], ['open', null, 10], 'reopened at the stage default');

  await owner.fill('#won-transaction_id', 'not a sale');
  await submit(owner, 'button:has-text("Close as won")');
  await owner.locator('#won-transaction_id-error').waitFor();
  const sale = '0190a4c2-7b1e-7c3d-8e4f-5a6b7c8d9e0f';
  await owner.fill('#won-transaction_id', sale);
  await submit(owner, 'button:has-text("Close as won")');
  await announced(owner, 'Closed as won.');
  assert.match(await owner.locator('#close-lead').textContent(), new RegExp(`Won on .*Sale: ${sale}`, 's'));
  await assertAccessible(owner, 'won lead');

  await owner.selectOption('#status', 'proposal');
  const kept = await submit(owner, 'button:has-text("Save changes")');
  assert.equal(kept.status(), 409);
  await owner.getByRole('alert').filter({ hasText: 'linked to the sale' }).waitFor();
  assert.equal((await stored(closing.id)).status, 'won');
  await owner.check('#unlink_sale');
  await submit(owner, 'button:has-text("Save changes")');
  now = await stored(closing.id);
  assert.deepEqual([now.status, now.transaction_id], ['proposal', null]);
});

test('converting shows whether a client was created or an existing one linked', async () => {
  const first = await lead({ title: 'First visit', prospect_name: 'Carla Client', prospect_email: 'carla@example.com' });
  const second = await lead({ title: 'Second visit', prospect_name: 'Carla C.', prospect_email: 'carla@example.com' });
  await owner.goto(`${server.url}/leads/${first.id}`);
  await submit(owner, 'button:has-text("Convert to client")');
  await announced(owner, 'Converted: a new client, Carla Client, was created from this lead.');
  assert.equal(await owner.locator('#contact .client-name').textContent(), 'Carla Client');
  assert.equal(await owner.locator('button:has-text("Convert to client")').count(), 0);
  await assertAccessible(owner, 'converted lead');

  await owner.goto(`${server.url}/leads/${second.id}`);
  await submit(owner, 'button:has-text("Convert to client")');
  await announced(owner, 'Converted: linked to the existing client Carla Client, who has the same e-mail.');
  assert.equal((await stored(second.id)).client_id, (await stored(first.id)).client_id);
});

test('deleting asks first and works without JavaScript', async () => {
  const doomed = await lead({ title: 'Doomed lead' });
  await owner.goto(`${server.url}/leads/${doomed.id}/delete`);
  await assertAccessible(owner, 'delete confirmation');
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${server.url}/sign-in`);
  await page.fill('#email', 'admin@localhost');
  await page.fill('#password', PASSWORD);
  await submit(page, 'button[type=submit]');
  await page.goto(`${server.url}/leads/${doomed.id}`);
  await submit(page, '.lead-actions a:has-text("Delete")');
  assert.equal(await page.locator('h1').textContent(), 'Delete “Doomed lead”?');
  await submit(page, 'a:has-text("Cancel, keep it")');
  assert.equal((await stored(doomed.id)).title, 'Doomed lead');
  await submit(page, '.lead-actions a:has-text("Delete")');
  await submit(page, 'button:has-text("Delete this lead")');
  assert.match(page.url(), /\/board\?.*deleted=1/);
  await page.getByRole('status').filter({ hasText: 'The lead was deleted.' }).waitFor();
  assert.equal((await api('GET', `/opportunities/${doomed.id}`)).status, 404);
  await context.close();
});

test("a second organization's lead is not reachable by URL", async () => {
  const other = otherOrganization(server);
  const foreign = (await api('POST', '/opportunities', { title: 'Not yours', prospect_name: 'Nora' }, other.token)).json.data;
  const response = await owner.goto(`${server.url}/leads/${foreign.id}`);
  assert.equal(response.status(), 404);
  await owner.getByText('not found', { exact: false }).first().waitFor();
  await assertAccessible(owner, 'lead not found');
  assert.equal((await owner.goto(`${server.url}/leads/${foreign.id}/delete`)).status(), 404);
  assert.equal((await owner.goto(`${server.url}/leads/not-a-lead`)).status(), 404);

  await owner.goto(`${server.url}/board`);
  const csrf = await owner.locator('input[name=csrf]').first().inputValue();
  const version = String(foreign.version);
  const posts = [
    ['', { title: 'Taken over', version }], ['/notes', { content: 'x' }], ['/activities', { activity_type: 'call', description: 'x' }],
    ['/close', { outcome: 'won', version }], ['/convert', { version }], ['/delete', { version }],
  ];
  for (const [path, form] of posts) {
    const post = await owner.request.post(`${server.url}/leads/${foreign.id}${path}`, { form: { csrf, ...form }, maxRedirects: 0 });
    assert.equal(post.status(), 404, path);
  }
  const untouched = (await api('GET', `/opportunities/${foreign.id}`, undefined, other.token)).json.data;
  assert.deepEqual([untouched.title, untouched.status, untouched.notes_count, untouched.activities_count], ['Not yours', 'open', 0, 0]);
});

test('form posts without the CSRF token are refused', async () => {
  const guarded = await lead({ title: 'Guarded lead' });
  const version = String(guarded.version);
  const posts = [
    ['', { title: 'Forged', version }], ['/notes', { content: 'Forged' }], ['/activities', { activity_type: 'call', description: 'Forged' }],
    ['/close', { outcome: 'won', version }], ['/convert', { version }], ['/delete', { version }],
  ];
  for (const [path, form] of posts) {
    const post = await owner.request.post(`${server.url}/leads/${guarded.id}${path}`, { form, maxRedirects: 0 });
    assert.equal(post.status(), 403, path);
  }
  const now = await stored(guarded.id);
  assert.deepEqual([now.title, now.status, now.client_id, now.notes_count, now.activities_count], ['Guarded lead', 'open', null, 0, 0]);
});
