// The settings pages as a clinic's owner uses them (issue 11, items 7 and 9): categories, staff
// and their sign-in links, API tokens, website forms; a member kept out. Every page is checked
// with axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, assertAccessible } from './harness.mjs';

const OWNER_PASSWORD = 'owner password for tests';
const MEMBER_PASSWORD = 'member password for tests';
let server, browser, token, owner;

async function api(method, path, body, bearer = token) {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** The names of the categories in the order the API lists them (active ones). */
async function categoryNames() {
  return (await api('GET', '/opportunity-categories')).json.data.map((category) => category.name);
}

before(async () => {
  server = await startServer();
  token = server.printed.find((line) => line.token).token;
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  owner = await context.newPage();
  await owner.goto(server.printed.find((line) => line.setup_url).setup_url);
  await owner.fill('#password', OWNER_PASSWORD);
  await owner.click('button[type=submit]');
  await owner.waitForURL(/\/agenda/);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the owner adds categories, reorders them with the keyboard, recolours and deactivates one', async () => {
  await owner.getByRole('link', { name: 'Settings' }).click();
  await owner.waitForURL(/\/settings\/categories$/);
  await assertAccessible(owner, 'categories page');

  await owner.fill('#color', 'green');
  await owner.click('button:has-text("Add category")');
  await owner.locator('#name-error').waitFor();
  assert.match(await owner.locator('#color-error').textContent(), /must be a hex colour/);
  assert.equal(await owner.locator('#name').getAttribute('aria-invalid'), 'true');
  await assertAccessible(owner, 'categories page with errors');

  await owner.fill('#name', 'Botox');
  await owner.fill('#color', '#a0329f');
  await owner.click('button:has-text("Add category")');
  await owner.waitForURL(/done=added/);
  await owner.getByRole('status').filter({ hasText: 'Category added.' }).waitFor();
  // The picker, shown by the script, fills the hex field the form sends.
  await owner.fill('#name', 'Facials');
  await owner.locator('input[type=color]').fill('#0f8a5f');
  assert.equal(await owner.locator('#color').inputValue(), '#0f8a5f');
  await owner.click('button:has-text("Add category")');
  await owner.waitForURL(/done=added/);
  assert.deepEqual(await categoryNames(), ['Botox', 'Facials']);

  const up = owner.getByRole('button', { name: 'Move Facials up' });
  await up.focus();
  await owner.keyboard.press('Enter');
  await owner.waitForURL(/done=moved/);
  assert.deepEqual(await categoryNames(), ['Facials', 'Botox']);
  assert.deepEqual(await owner.locator('tbody .chip.category').allTextContents(), ['Facials', 'Botox'], 'the page shows the new order');

  await owner.getByRole('link', { name: 'Edit Botox' }).click();
  await assertAccessible(owner, 'edit category page');
  await owner.fill('#color', '#c2334d');
  await owner.click('button:has-text("Save")');
  await owner.waitForURL(/done=saved/);
  assert.equal((await api('GET', '/opportunity-categories')).json.data.find((c) => c.name === 'Botox').color, '#c2334d');

  await owner.getByRole('button', { name: 'Deactivate Botox' }).click();
  await owner.waitForURL(/done=deactivated/);
  await owner.locator('tr', { hasText: 'Botox' }).getByText('Inactive').waitFor();
  assert.deepEqual(await categoryNames(), ['Facials'], 'a deactivated category is no longer offered');
});

test('the owner invites a member with the button; the member sets a password and is kept out of settings', async () => {
  await owner.goto(`${server.url}/settings/staff`);
  await assertAccessible(owner, 'staff page');
  await owner.fill('#name', 'Mo Member');
  await owner.fill('#email', 'mo@example.com');
  await owner.selectOption('#role', 'member');
  await owner.click('button:has-text("Add staff member")');
  await owner.waitForURL(/done=added/);

  await owner.getByRole('button', { name: 'Make sign-in link for Mo Member' }).click();
  const link = await owner.locator('#new-link').inputValue();
  assert.ok(link.startsWith(`${server.url}/setup/`), link);
  await owner.getByText('It is shown only now.').waitFor();
  await assertAccessible(owner, 'staff page with a new link');
  await owner.goto(`${server.url}/settings/staff`);
  assert.equal(await owner.locator('#new-link').count(), 0, 'the link is not shown again');

  const context = await browser.newContext();
  const member = await context.newPage();
  await member.goto(link);
  await member.fill('#password', MEMBER_PASSWORD);
  await member.click('button[type=submit]');
  await member.waitForURL(/\/agenda/);
  assert.equal(await member.getByRole('link', { name: 'Settings' }).count(), 0, 'no Settings in a member\'s banner');
  for (const path of ['/settings', '/settings/categories', '/settings/staff', '/settings/tokens', '/settings/lead-forms']) {
    const response = await member.goto(`${server.url}${path}`);
    assert.equal(response.status(), 403, path);
  }
  await member.getByText('Only an owner or admin may do this.').waitFor();
  await assertAccessible(member, 'the refusal page');
  const csrf = await member.goto(`${server.url}/board`).then(() => member.locator('#board').getAttribute('data-csrf'));
  const forged = await member.request.post(`${server.url}/settings/categories`, { form: { csrf, name: 'Sneaky' }, maxRedirects: 0 });
  assert.equal(forged.status(), 403);
  assert.ok(!(await categoryNames()).includes('Sneaky'));

  await owner.getByRole('button', { name: 'Deactivate Mo Member' }).click();
  await owner.waitForURL(/done=deactivated/);
  await member.goto(`${server.url}/board`);
  assert.match(member.url(), /\/sign-in$/, 'deactivation signs the member out at once');
  await context.close();
});

test('the owner issues a token, sees it once, uses it, and revokes it', async () => {
  await owner.goto(`${server.url}/settings/tokens`);
  await assertAccessible(owner, 'tokens page');
  await owner.fill('#name', 'Reception laptop');
  await owner.click('button:has-text("Issue token")');
  const secret = await owner.locator('#new-token').inputValue();
  assert.match(secret, /^opp_/);
  await owner.getByRole('button', { name: 'Copy token' }).click();
  await owner.locator('#announce-polite', { hasText: 'Copied.' }).waitFor();
  assert.equal(await owner.evaluate(() => navigator.clipboard.readText()), secret);
  await assertAccessible(owner, 'tokens page with a new token');
  assert.equal((await api('GET', '/me', undefined, secret)).status, 200, 'the token works');

  await owner.goto(`${server.url}/settings/tokens`);
  assert.ok(!(await owner.content()).includes(secret), 'the secret is not shown again');
  await owner.getByRole('button', { name: 'Revoke Reception laptop' }).click();
  await owner.waitForURL(/done=revoked/);
  assert.equal((await api('GET', '/me', undefined, secret)).status, 401, 'a revoked token stops working');
});

test('the owner creates a website form and gets its hosted link and snippet', async () => {
  await owner.goto(`${server.url}/settings/lead-forms`);
  await assertAccessible(owner, 'website forms page');
  await owner.fill('#name', 'Contact us');
  await owner.fill('#allowed_origins', 'clinic.example');
  await owner.click('button:has-text("Create form")');
  await owner.locator('#allowed_origins-error').waitFor();
  await assertAccessible(owner, 'website forms page with errors');
  await owner.fill('#allowed_origins', 'https://clinic.example');
  await owner.selectOption('#category_id', { label: 'Facials' });
  await owner.click('button:has-text("Create form")');
  await owner.waitForURL(/done=added/);

  const form = (await api('GET', '/lead-forms')).json.data[0];
  const hosted = owner.getByRole('link', { name: form.hosted_url });
  assert.equal(await hosted.getAttribute('href'), `${server.url}/forms/${form.form_key}`);
  const snippet = await owner.locator(`#snippet-${form.id}`).inputValue();
  assert.equal(snippet, form.embed_html, 'the snippet the API gives');
  assert.ok(snippet.includes(`${server.url}/api/v1/public/lead-forms/${form.form_key}/submissions`));
  await assertAccessible(owner, 'website forms page with a form');

  await owner.getByRole('link', { name: 'Edit Contact us' }).click();
  await assertAccessible(owner, 'edit website form page');
  await owner.fill('#thank_you_url', 'https://clinic.example/thanks');
  await owner.click('button:has-text("Save")');
  await owner.waitForURL(/done=saved/);
  assert.equal((await api('GET', '/lead-forms')).json.data[0].thank_you_url, 'https://clinic.example/thanks');

  await hosted.click();
  await owner.getByRole('heading', { name: 'Contact us' }).waitFor();
});

test('the settings fit a phone', async () => {
  const page = await (await browser.newContext({ viewport: { width: 375, height: 800 } })).newPage();
  await page.goto(`${server.url}/sign-in`);
  await page.fill('#email', 'admin@localhost');
  await page.fill('#password', OWNER_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/agenda/);
  for (const path of ['/settings/categories', '/settings/staff', '/settings/tokens', '/settings/lead-forms']) {
    await page.goto(`${server.url}${path}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px`);
    await assertAccessible(page, `${path} at 375px`);
  }
  await page.context().close();
});
