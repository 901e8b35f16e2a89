// The website visitor's side (issue 11, item 9): the README's form snippet on a page of another
// origin, and the hosted form page, submitted in Chromium as a visitor would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, assertAccessible, screenshot } from './harness.mjs';

const README = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
const README_ACTION = 'https://crm.example/api/v1/public/lead-forms/lf_…/submissions';

/** The README's snippet, pointed at a real form. */
function readmeSnippet(action) {
  const snippet = README.match(/```html\n(<form method="post"[\s\S]*?<\/form>)\n```/)[1];
  assert.ok(snippet.includes(README_ACTION), 'the README documents the submission URL');
  return snippet.replace(README_ACTION, action);
}

/** A clinic's web site on another loopback port: `pages` maps a path to its HTML body. */
async function clinicSite(pages) {
  const server = createServer((request, response) => {
    const body = pages[new URL(request.url, 'http://x').pathname];
    response.writeHead(body ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    response.end(body ?? 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, stop: () => new Promise((resolve) => server.close(resolve)) };
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><main><h1>${title}</h1>${body}</main></body></html>`;
}

/** The server, its owner's token, the clinic's site and a lead form that accepts it. */
async function setUp() {
  const server = await startServer();
  const token = server.printed.find((line) => line.token).token;
  const pages = {};
  const site = await clinicSite(pages);
  const api = async (method, path, body) => {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const created = await api('POST', '/lead-forms', { name: 'Botox consult', allowed_origins: [site.origin] });
  assert.equal(created.status, 201);
  const form = created.body.data;
  const action = `${server.url}/api/v1/public/lead-forms/${form.form_key}/submissions`;
  assert.equal(form.embed_html, readmeSnippet(action), 'the API hands out the README snippet');
  pages['/'] = page('Contact the clinic', readmeSnippet(action));
  pages['/thanks'] = page('Thanks from the clinic site', '<p>We will call you.</p>');
  pages['/framed'] = page('Book online', `<iframe title="Contact form" src="${form.hosted_url}" width="360" height="700"></iframe>`);
  const browser = await launchBrowser();
  const leads = async () => (await api('GET', '/opportunities')).body.data;
  const stop = async () => { await browser.close(); await site.stop(); await server.stop(); };
  return { server, site, api, form, browser, leads, stop };
}

async function fill(target, fields) {
  for (const [label, value] of Object.entries(fields)) await target.getByLabel(label).fill(value);
}

test('the README snippet on another site lands the visitor on the thank-you page and creates the lead', async () => {
  const { server, site, api, form, browser, leads, stop } = await setUp();
  try {
    const visitor = await browser.newPage();
    await visitor.goto(`${site.origin}/`);
    await fill(visitor, { 'Name (required)': 'Jane Doe', 'E-mail': 'jane@example.com', Message: 'Is Friday possible?' });
    await Promise.all([visitor.waitForURL(`${server.url}/forms/${form.form_key}/thanks`), visitor.getByRole('button', { name: 'Send' }).click()]);
    await visitor.getByRole('heading', { name: 'Thank you' }).waitFor();
    assert.match(await visitor.textContent('main'), /Default has received your message/, "in the clinic's name");
    await assertAccessible(visitor, 'the hosted thank-you page');
    await screenshot(visitor, 'website-form-thanks');
    const [lead] = await leads();
    assert.deepEqual([lead.prospect_name, lead.prospect_email, lead.source, lead.description],
      ['Jane Doe', 'jane@example.com', 'website', 'Is Friday possible?']);

    const patched = await api('PATCH', `/lead-forms/${form.id}`, { thank_you_url: `${site.origin}/thanks` });
    assert.equal(patched.status, 200);
    await visitor.goto(`${site.origin}/`);
    await fill(visitor, { 'Name (required)': 'Bob Roe', Phone: '555-0100' });
    await Promise.all([visitor.waitForURL(`${site.origin}/thanks`), visitor.getByRole('button', { name: 'Send' }).click()]);
    await visitor.getByRole('heading', { name: 'Thanks from the clinic site' }).waitFor();
    assert.equal((await leads()).length, 2);
  } finally {
    await stop();
  }
});

test('a refused submission shows a readable page with a way back, and the visitor can fix it there', async () => {
  const { server, site, form, browser, leads, stop } = await setUp();
  try {
    const visitor = await browser.newPage();
    await visitor.goto(`${site.origin}/`);
    await fill(visitor, { 'Name (required)': 'Eve Example', Message: 'No way to reach me' });
    const [answer] = await Promise.all([visitor.waitForNavigation(), visitor.getByRole('button', { name: 'Send' }).click()]);
    assert.equal(answer.status(), 422);
    await visitor.getByRole('heading', { name: 'Please check your message' }).waitFor();
    assert.match(await visitor.textContent('[role=alert]'), /an e-mail address or a phone number is required/);
    const email = visitor.getByLabel('E-mail');
    assert.equal(await email.getAttribute('aria-invalid'), 'true', 'the error sits at its field');
    assert.match(await visitor.textContent(`#${await email.getAttribute('aria-describedby')}`), /phone number is required/);
    assert.equal(await visitor.getByLabel('Name (required)').inputValue(), 'Eve Example', 'what the visitor typed is kept');
    const back = await visitor.getByRole('link', { name: 'Back to the page you came from' }).getAttribute('href');
    assert.ok(back.startsWith(site.origin), `back to the clinic site (the Referer): ${back}`);
    await assertAccessible(visitor, 'the refusal page');
    await screenshot(visitor, 'website-form-refused');
    assert.equal((await leads()).length, 0);

    await email.fill('eve@example.com');
    await Promise.all([visitor.waitForURL(`${server.url}/forms/${form.form_key}/thanks`), visitor.getByRole('button', { name: 'Send' }).click()]);
    const [lead] = await leads();
    assert.deepEqual([lead.prospect_name, lead.prospect_email, lead.description], ['Eve Example', 'eve@example.com', 'No way to reach me']);
    await visitor.goto(back);
    await visitor.getByRole('heading', { name: 'Contact the clinic' }).waitFor();
  } finally {
    await stop();
  }
});

test('the honeypot still swallows bots', async () => {
  const { server, site, form, browser, leads, stop } = await setUp();
  try {
    const bot = await browser.newPage();
    await bot.goto(`${site.origin}/`);
    await fill(bot, { 'Name (required)': 'Cheap pills', 'E-mail': 'bot@spam.example' });
    await bot.evaluate(() => { document.querySelector('input[name=website]').value = 'http://spam.example'; });
    await Promise.all([bot.waitForURL(`${server.url}/forms/${form.form_key}/thanks`), bot.getByRole('button', { name: 'Send' }).click()]);
    assert.equal((await leads()).length, 0, 'thanked, and dropped');
  } finally {
    await stop();
  }
});

test('the hosted form page works without JavaScript, at 375 px, in a frame on the clinic site', async () => {
  const { server, site, api, form, browser, leads, stop } = await setUp();
  try {
    const checked = await browser.newPage({ viewport: { width: 375, height: 800 } });
    const answer = await checked.goto(form.hosted_url);
    assert.equal(answer.headers()['content-security-policy'], 'frame-ancestors *', 'may be framed');
    await checked.getByRole('heading', { name: 'Botox consult' }).waitFor();
    assert.ok(await checked.evaluate(() => document.documentElement.scrollWidth <= 375), 'no sideways scrolling at 375 px');
    assert.equal(await checked.locator('input[name=website]').isVisible(), false, 'the honeypot is hidden');
    await assertAccessible(checked, 'the hosted form');
    await screenshot(checked, 'website-form-hosted');

    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 800 } });
    const visitor = await context.newPage();
    await visitor.goto(form.hosted_url);
    await fill(visitor, { 'Name (required)': 'Nora No-Script' });
    const [refused] = await Promise.all([visitor.waitForNavigation(), visitor.getByRole('button', { name: 'Send' }).click()]);
    assert.equal(refused.status(), 422);
    assert.equal(await visitor.getByLabel('E-mail').getAttribute('aria-invalid'), 'true');
    await visitor.getByLabel('E-mail').fill('nora@example.com');
    await Promise.all([visitor.waitForURL(`${server.url}/forms/${form.form_key}/thanks`), visitor.getByRole('button', { name: 'Send' }).click()]);
    await visitor.getByRole('heading', { name: 'Thank you' }).waitFor();

    const framing = await browser.newPage();
    await framing.goto(`${site.origin}/framed`);
    const frame = framing.frameLocator('iframe');
    await fill(frame, { 'Name (required)': 'Fran Framed', Phone: '555-0199' });
    await frame.getByRole('button', { name: 'Send' }).click();
    await frame.getByRole('heading', { name: 'Thank you' }).waitFor();
    const names = (await leads()).map((lead) => lead.prospect_name).sort();
    assert.deepEqual(names, ['Fran Framed', 'Nora No-Script']);

    const missing = await checked.goto(`${server.url}/forms/lf_0123456789abcdef0123456789abcdef`);
    assert.equal(missing.status(), 404);
    await checked.getByRole('heading', { name: 'This form is not available' }).waitFor();
    await assertAccessible(checked, 'the missing form page');
    await api('PATCH', `/lead-forms/${form.id}`, { is_active: false });
    assert.equal((await checked.goto(form.hosted_url)).status(), 404, 'a disabled form looks like a missing one');
  } finally {
    await stop();
  }
});
