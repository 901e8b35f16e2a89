// Signing in, the board and the new-lead form, as a clinic's staff use them (issue 11, items
// 1, 2 and 5): on a fresh server, in Chromium, every page checked with axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, assertAccessible, screenshot, apiCaller, otherOrganization } from './harness.mjs';

const OWNER_PASSWORD = 'owner password for tests';
const MEMBER_PASSWORD = 'member password for tests';
let server, browser, token, owner, api;

async function lead(fields, bearer = token) {
  const { status, json } = await api('POST', '/opportunities', fields, bearer);
  assert.equal(status, 201, JSON.stringify(json));
  return json.data;
}

async function signIn(page, email, password) {
  await page.goto(`${server.url}/sign-in`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
}

/** The column a card is in, by the card's id. */
async function columnOf(page, id) {
  return page.locator(`#card-${id}`).evaluate((card) => card.closest('ul.cards').dataset.status);
}

before(async () => {
  server = await startServer();
  token = server.printed.find((line) => line.token).token;
  api = apiCaller(server, token);
  browser = await launchBrowser();
  // The owner chooses a password from the link the first serve printed.
  const setupUrl = server.printed.find((line) => line.setup_url).setup_url;
  assert.match(setupUrl, /^http:\/\/127\.0\.0\.1:\d+\/setup\/\S+$/);
  // Wide enough for every column at once, as on a reception desktop.
  owner = await (await browser.newContext({ viewport: { width: 1920, height: 1000 } })).newPage();
  await owner.goto(setupUrl);
  await assertAccessible(owner, 'set-up page');
  await owner.fill('#password', 'too short');
  await owner.click('button[type=submit]');
  await owner.getByText('at least 12 characters').first().waitFor();
  await owner.fill('#password', OWNER_PASSWORD);
  await owner.click('button[type=submit]');
  await owner.waitForURL(/\/agenda/);
  await owner.goto(`${server.url}/board`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the set-up link works once', async () => {
  const setupUrl = server.printed.find((line) => line.setup_url).setup_url;
  const page = await (await browser.newContext()).newPage();
  await page.goto(setupUrl);
  await page.fill('#password', 'another long password');
  const response = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]).then(([r]) => r);
  assert.equal(response.status(), 410);
  await page.getByText('expired or has already been used').waitFor();
  await page.context().close();
});

test('a wrong password and an unknown e-mail get the same answer', async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/sign-in`);
  await assertAccessible(page, 'sign-in page');
  await signIn(page, 'admin@localhost', 'not the password at all');
  const wrongPassword = await page.locator('#sign-in-error').textContent();
  await assertAccessible(page, 'sign-in page with an error');
  await signIn(page, 'nobody@example.com', 'not the password at all');
  const unknownEmail = await page.locator('#sign-in-error').textContent();
  assert.equal(wrongPassword, unknownEmail);
  await signIn(page, 'admin@localhost', OWNER_PASSWORD);
  await page.waitForURL(/\/agenda/);
  await page.context().close();
});

test('an invited member signs in, sees their own leads first, and is signed out when deactivated', async () => {
  const member = (await api('POST', '/staff', { name: 'Maria Member', email: 'maria@example.com', role: 'member' })).json.data;
  await lead({ title: 'Owner lead', prospect_name: 'Olga Other' });
  await lead({ title: 'Maria lead', prospect_name: 'Mia Mine', assigned_to: member.id });
  const invitation = await api('POST', `/staff/${member.id}/invite`, undefined);
  assert.equal(invitation.status, 201, JSON.stringify(invitation.json));
  assert.ok(invitation.json.data.url.startsWith(`${server.url}/setup/`));

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(invitation.json.data.url);
  await page.fill('#password', MEMBER_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/agenda/);
  await page.goto(`${server.url}/board`);
  assert.equal(await page.locator('#filter-owner').inputValue(), member.id, 'a member sees their own leads by default');
  await page.locator('.card-title', { hasText: 'Maria lead' }).waitFor();
  assert.equal(await page.locator('.card-title', { hasText: 'Owner lead' }).count(), 0);

  await page.click('text=Sign out');
  await page.waitForURL(/\/sign-in/);
  await page.goto(`${server.url}/board`);
  assert.match(page.url(), /\/sign-in$/, 'signed out');
  await signIn(page, 'maria@example.com', MEMBER_PASSWORD);
  await page.waitForURL(/\/agenda/);

  const deactivated = await api('PATCH', `/staff/${member.id}`, { is_active: false });
  assert.equal(deactivated.status, 200);
  await page.goto(`${server.url}/board`);
  assert.match(page.url(), /\/sign-in$/, 'a deactivated member is signed out at once');
  await context.close();
});

test('a form post without the CSRF token, or from another origin, is refused', async () => {
  const withoutToken = await owner.request.post(`${server.url}/leads/new`, { form: { title: 'Forged', prospect_name: 'X' }, maxRedirects: 0 });
  assert.equal(withoutToken.status(), 403);
  const csrf = await owner.locator('#board').getAttribute('data-csrf');
  const crossSite = await owner.request.post(`${server.url}/leads/new`, {
    form: { csrf, title: 'Forged', prospect_name: 'X' }, headers: { origin: 'https://evil.example' }, maxRedirects: 0,
  });
  assert.equal(crossSite.status(), 403);
  const signOut = await owner.request.post(`${server.url}/sign-out`, { form: {}, maxRedirects: 0 });
  assert.equal(signOut.status(), 403, 'even signing out needs the token');
  const leads = (await api('GET', '/opportunities?search=Forged')).json;
  assert.equal(leads.data.length, 0);
});

test('a lead created with the form lands on the board; bad fields are named next to them', async () => {
  await owner.goto(`${server.url}/board`);
  await owner.click('text=+ New lead');
  await owner.waitForURL(/\/leads\/new/);
  await assertAccessible(owner, 'new lead page');
  await owner.fill('#estimated_value', 'lots');
  await owner.click('button:has-text("Save")');
  await owner.locator('#title-error').waitFor();
  await owner.locator('#estimated_value-error').waitFor();
  assert.equal(await owner.locator('#title').getAttribute('aria-invalid'), 'true');
  await assertAccessible(owner, 'new lead page with errors');
  await owner.fill('#title', 'Filler consult');
  await owner.fill('#prospect_name', 'Fiona Form');
  await owner.fill('#estimated_value', '1200');
  await owner.click('button:has-text("Save")');
  await owner.waitForURL(/\/board/);
  const card = owner.locator('li.card', { hasText: 'Filler consult' });
  await card.waitFor();
  assert.match(await card.textContent(), /\$1,200\.00/);
  const open = (await api('GET', '/opportunities?status=open')).json.meta.total;
  assert.equal(await owner.locator('[data-count="open"]').textContent(), String(open), 'the column counts every open lead');
});

test('cards move by keyboard and by drag, through the same rules, with figures kept exact', async () => {
  const moving = await lead({ title: 'Keyboard move', prospect_name: 'Kim Keys', estimated_value: 300 });
  const dragged = await lead({ title: 'Dragged move', prospect_name: 'Dan Drag', estimated_value: 700 });
  await owner.goto(`${server.url}/board?assigned_to=`);
  await assertAccessible(owner, 'board');

  // Keyboard: the card's Move form.
  await owner.locator(`#move-${moving.id}`).focus();
  await owner.keyboard.press('Tab');
  await owner.locator(`#move-${moving.id}`).selectOption('contacted');
  await owner.locator(`#card-${moving.id} form.move button`).press('Enter');
  await owner.waitForURL(/moved=/);
  assert.equal(await columnOf(owner, moving.id), 'contacted');
  await owner.getByRole('status').filter({ hasText: 'Moved Keyboard move to Contacted' }).waitFor();
  assert.equal(await owner.evaluate(() => document.activeElement?.id), `card-${moving.id}`, 'focus lands on the moved card');

  // Drag: SortableJS, saved by the script.
  const before = Number(await owner.locator('[data-count="qualified"]').textContent());
  await owner.locator(`#card-${dragged.id} .card-title`).dragTo(owner.locator('ul.cards[data-status="qualified"]'));
  await owner.locator('#announce-polite', { hasText: `Moved Dragged move to Qualified; Qualified now has ${before + 1}.` }).waitFor();
  assert.equal(await columnOf(owner, dragged.id), 'qualified');
  assert.equal(Number(await owner.locator('[data-count="qualified"]').textContent()), before + 1);
  const stored = (await api('GET', `/opportunities/${dragged.id}`)).json.data;
  assert.equal(stored.status, 'qualified');

  // Dropping on Lost asks for the reason; Cancel puts the card back.
  await owner.locator(`#card-${dragged.id} .card-title`).dragTo(owner.locator('ul.cards[data-status="lost"]'));
  await owner.locator('#close-dialog').waitFor();
  await assertAccessible(owner, 'close dialog');
  await owner.click('#close-dialog button[value=cancel]');
  assert.equal(await columnOf(owner, dragged.id), 'qualified');
  assert.equal((await api('GET', `/opportunities/${dragged.id}`)).json.data.status, 'qualified');
  await screenshot(owner, 'board');
});

test('a move based on an old version shows the conflict and the card as it now is', async () => {
  const contested = await lead({ title: 'Contested', prospect_name: 'Cora Clash' });
  const first = owner;
  await first.goto(`${server.url}/board?assigned_to=`);
  const second = await owner.context().newPage();
  await second.goto(`${server.url}/board?assigned_to=`);
  await second.locator(`#move-${contested.id}`).selectOption('proposal');
  await second.locator(`#card-${contested.id} form.move button`).click();
  await second.waitForURL(/moved=/);

  // By form: the board comes back with the conflict and the card in Proposal.
  await first.locator(`#move-${contested.id}`).selectOption('contacted');
  await first.locator(`#card-${contested.id} form.move button`).click();
  await first.waitForURL(/conflict=/);
  await first.getByRole('alert').filter({ hasText: "Your move wasn't applied" }).waitFor();
  assert.equal(await columnOf(first, contested.id), 'proposal');

  // By drag from a stale board: the card returns to the server's column.
  await second.locator(`#move-${contested.id}`).selectOption('qualified');
  await second.locator(`#card-${contested.id} form.move button`).click();
  await second.waitForURL(/moved=/);
  await first.locator(`#card-${contested.id} .card-title`).dragTo(first.locator('ul.cards[data-status="open"]'));
  await first.locator('#announce-assertive', { hasText: "Your move wasn't applied" }).waitFor();
  assert.equal(await columnOf(first, contested.id), 'qualified');
  assert.equal((await api('GET', `/opportunities/${contested.id}`)).json.data.status, 'qualified');
  await second.close();
});

test("another organization's lead cannot be moved by posting its id", async () => {
  const other = otherOrganization(server);
  const foreign = await lead({ title: 'Not yours', prospect_name: 'Nora' }, other.token);
  await owner.goto(`${server.url}/board`);
  const csrf = await owner.locator('#board').getAttribute('data-csrf');
  const response = await owner.request.post(`${server.url}/board/move`, {
    form: { csrf, id: foreign.id, version: '1', status: 'won' }, maxRedirects: 0,
  });
  assert.equal(response.status(), 404);
  assert.equal((await api('GET', `/opportunities/${foreign.id}`, undefined, other.token)).json.data.status, 'open');
});

test('a browser session never authorizes the API', async () => {
  const response = await owner.request.get(`${server.url}/api/v1/opportunities`);
  assert.equal(response.status(), 401);
});

test("follow-up chips count days in the clinic's time zone", async () => {
  const DAY = 86_400_000;
  // A zone whose date differs from UTC's right now, without daylight saving time: Honolulu
  // (UTC−10) before 10:00 UTC, Kiritimati (UTC+14) from then on.
  const zoneNow = () => {
    const now = Date.now();
    const [timezone, offset] = new Date(now).getUTCHours() < 10 ? ['Pacific/Honolulu', -10] : ['Pacific/Kiritimati', 14];
    const start = Math.floor((now + offset * 3_600_000) / DAY) * DAY - offset * 3_600_000;
    return { now, timezone, start, end: start + DAY };
  };
  let zone = zoneNow();
  if (zone.end - zone.now < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, zone.end - zone.now + 1_000));
    zone = zoneNow();
  }
  assert.equal((await api('PATCH', '/pipeline-settings', { timezone: zone.timezone })).status, 200);
  try {
    // The first and the last minute of the clinic's today: one of them is another day in UTC.
    const instants = [zone.start + 60_000, zone.end - 60_000].map((ms) => new Date(ms).toISOString());
    const utcToday = new Date(zone.now).toISOString().slice(0, 10);
    assert.ok(instants.some((at) => at.slice(0, 10) !== utcToday), `${instants} against ${utcToday}`);
    const leads = [];
    for (const at of instants) leads.push(await lead({ title: `Due ${at}`, prospect_name: 'Tia', follow_up_date: at }));
    await owner.goto(`${server.url}/board?assigned_to=`);
    for (const { id, follow_up_date } of leads) {
      assert.equal((await owner.locator(`#card-${id} .chip`).last().textContent()).trim(), 'Today', `due ${follow_up_date}`);
    }
  } finally {
    assert.equal((await api('PATCH', '/pipeline-settings', { timezone: 'UTC' })).status, 200);
  }
});
